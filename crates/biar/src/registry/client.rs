//! The OCI distribution API over reqwest: `/v2/` ping, blob HEAD / mount / streamed upload,
//! manifest HEAD / GET / PUT, basic and bearer-token auth, errors decoded from the registry's
//! JSON error body.
//!
//! Credentials go only to the origin (scheme, host, port) they were given for: an upload
//! session or a redirect that names another origin is followed without them, as the docker CLI
//! and browsers do. Redirects are followed here, not by reqwest, so that rule is ours to keep.
//! The one exception is the token endpoint (`realm` of a `Bearer` challenge), which gets the
//! basic credentials wherever the registry puts it: that is how the token flow works (docker
//! does the same); its own redirects keep them only within the realm's origin.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::auth::{self, Challenge, Credentials, HostAuth};
use super::reference::is_loopback;
use super::RegistryError;
use crate::oci::{
    ByteStream, DigestMismatchError, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};

fn manifest_accept() -> String {
    [
        OCI_MANIFEST,
        DOCKER_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
    ]
    .join(", ")
}

/// How to reach one registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Plain HTTP even for a non-loopback host (config `registry.insecure`).
    pub insecure: bool,
    /// Credentials to use instead of the Docker config's.
    pub credentials: Option<Credentials>,
    /// The Docker config file to read credentials from (default: [`auth::docker_config_path`]).
    pub docker_config: Option<PathBuf>,
    /// How long the registry may leave a request unanswered (and a blob upload without taking a
    /// byte) before it counts as not answering; default [`ANSWER_TIMEOUT`].
    pub answer_timeout: Option<Duration>,
}

/// A registry that accepts connections but sends nothing for this long is reported as not
/// answering. Shorter than the Engine connection's own timeout, so a push streaming a layer from
/// the builder blames the registry, not the layer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// After a blob's last byte the registry stores it (on some backends a copy of the whole blob):
/// it gets this many answer timeouts for that.
const COMMIT_TIMEOUTS: u32 = 10;

/// Redirects followed per request, as browsers and reqwest's default do at most.
const MAX_REDIRECTS: usize = 10;

/// A client of one registry host. Cheap to clone; clones share the auth state.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    host: String,
    base: Url,
    credentials: Option<Credentials>,
    /// The Docker config names credentials for the host that we cannot use (a helper, an
    /// identity token): said when the registry asks for credentials.
    elsewhere: Option<HostAuth>,
    config_path: PathBuf,
    answer_timeout: Duration,
    auth: Arc<Mutex<AuthState>>,
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    /// Bearer tokens by scope set.
    tokens: HashMap<String, String>,
}

/// A repository scope for bearer tokens: `repository:NAME:pull,push`.
#[derive(Debug, Clone)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn pull(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull")])
    }
    pub fn push(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }
    /// Push to `repository`, and read `from` to mount its blobs.
    pub fn mount(repository: &str, from: &str) -> Scope {
        Scope(vec![
            format!("repository:{repository}:pull,push"),
            format!("repository:{from}:pull"),
        ])
    }
    fn key(&self) -> String {
        self.0.join(" ")
    }
}

/// The answer to a mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob is now in the repository; nothing to send.
    Mounted,
    /// The registry could not mount it and opened an upload session at this URL instead.
    Upload(Url),
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    /// Free-form; the Debian registry puts the OS error here ("…: no space left on device").
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Client {
    /// A client for `host` (`host[:port]`), with credentials from the Docker config. HTTPS unless
    /// the host is loopback or `options.insecure`.
    pub fn new(host: &str, options: ClientOptions) -> Result<Client, RegistryError> {
        let scheme = if options.insecure || is_loopback(host) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| {
            RegistryError::BadReference {
                reference: host.to_string(),
                reason: e.to_string(),
            }
        })?;
        let config_path = options
            .docker_config
            .clone()
            .unwrap_or_else(auth::docker_config_path);
        let (credentials, elsewhere) = match options.credentials {
            Some(c) => (Some(c), None),
            None => match auth::lookup(&config_path, host)? {
                HostAuth::None => (None, None),
                HostAuth::Basic(c) => (Some(c), None),
                other => (None, Some(other)),
            },
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("biar-tui/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            // Registries may redirect blob requests to their storage backend: `follow` does it,
            // deciding per hop whether credentials may go along.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RegistryError::Unreachable {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            host: host.to_string(),
            base,
            credentials,
            elsewhere,
            config_path,
            answer_timeout: options.answer_timeout.unwrap_or(ANSWER_TIMEOUT),
            auth: Arc::new(Mutex::new(AuthState::default())),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The basic credentials in use (from the Docker config or given), if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("valid path")
    }

    /// `GET /v2/`: checks the registry answers and learns how it wants to be authenticated.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let url = self.url("/v2/");
        let resp = self.send_raw(self.http.get(url.clone())).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            self.learn(&resp).await;
            // Check the credentials work now, so a wrong password is reported as such.
            let resp = self
                .send(&Scope(vec![]), || self.http.get(url.clone()))
                .await?;
            return self.expect_ok(resp, "GET", "/v2/", None).await.map(|_| ());
        }
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::Api {
                registry: self.host.clone(),
                method: "GET".into(),
                path: "/v2/".into(),
                status: 404,
                detail: ": this server does not speak the OCI distribution API (registry v2)"
                    .into(),
            });
        }
        self.expect_ok(resp, "GET", "/v2/", None).await.map(|_| ())
    }

    /// HEAD a blob: its size if the repository has it.
    pub async fn blob_exists(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<u64>, RegistryError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || self.http.head(url.clone()))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(content_length(&resp).unwrap_or(0))),
            _ => Err(self.error(resp, "HEAD", &path, Some(repository)).await),
        }
    }

    /// Asks the registry to link `digest` from repository `from` into `repository`.
    pub async fn mount_blob(
        &self,
        repository: &str,
        digest: &str,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let path = format!("/v2/{repository}/blobs/uploads/");
        let mut url = self.url(&path);
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let resp = self
            .send(&Scope::mount(repository, from), || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(&resp, &path)?)),
            _ => Err(self.error(resp, "POST", &path, Some(repository)).await),
        }
    }

    /// Opens an upload session; the URL to PUT the blob to.
    pub async fn start_upload(&self, repository: &str) -> Result<Url, RegistryError> {
        let path = format!("/v2/{repository}/blobs/uploads/");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::push(repository), || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.error(resp, "POST", &path, Some(repository)).await);
        }
        self.location(&resp, &path)
    }

    /// Abandons an upload session (best effort: the registry purges stale ones anyway).
    pub async fn cancel_upload(&self, repository: &str, session: Url) {
        if let Ok(rb) = self
            .authorize(self.http.delete(session), &Scope::push(repository))
            .await
        {
            let _ = self.send_raw(rb).await;
        }
    }

    /// Sends a whole blob in one streamed PUT to an upload session (monolithic upload: the body
    /// is never held in memory). `size` must be exact.
    pub async fn finish_upload(
        &self,
        repository: &str,
        session: Url,
        digest: &str,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let mut url = session;
        url.query_pairs_mut().append_pair("digest", digest);
        let path = url.path().to_string();
        let progress = Arc::new(UploadProgress::new());
        let body = Watched {
            inner: body,
            progress: progress.clone(),
        };
        // The POST before this one settled the auth, so the streamed body needs no retry.
        let rb = self
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        let rb = self.authorize(rb, &Scope::push(repository)).await?;
        let (http, req) = rb.build_split();
        let req = req.map_err(|e| self.interrupted(digest, e))?;
        // No overall timeout (a large layer takes as long as it takes): a watchdog notices a
        // registry that stops taking bytes or never answers.
        let resp = self
            .watch_upload(follow(&http, req, &self.base), &progress, &path)
            .await?
            .map_err(|e| self.interrupted(digest, e))?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.error(resp, "PUT", &path, Some(repository)).await);
        }
        Ok(())
    }

    /// Uploads a blob: a session, then one streamed PUT.
    pub async fn upload_blob(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let session = self.start_upload(repository).await?;
        self.finish_upload(repository, session, digest, size, body)
            .await
    }

    /// HEAD a manifest: its digest (empty if the registry did not say) if the tag exists.
    pub async fn manifest_exists(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || {
                self.http
                    .head(url.clone())
                    .header(ACCEPT, manifest_accept())
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                header(&resp, "docker-content-digest").unwrap_or_default(),
            )),
            _ => Err(self.error(resp, "HEAD", &path, Some(repository)).await),
        }
    }

    /// GET a manifest (OCI or Docker schema 2); `ManifestUnknown` if the tag does not exist.
    pub async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || {
                self.http.get(url.clone()).header(ACCEPT, manifest_accept())
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestUnknown {
                registry: self.host.clone(),
                repository: repository.to_string(),
                tag: reference.to_string(),
            });
        }
        if !resp.status().is_success() {
            return Err(self.error(resp, "GET", &path, Some(repository)).await);
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let digest = header(&resp, "docker-content-digest");
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&path, e))?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// PUT a manifest under `reference` (a tag); returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::push(repository), || {
                self.http
                    .put(url.clone())
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.error(resp, "PUT", &path, Some(repository)).await);
        }
        Ok(header(&resp, "docker-content-digest").unwrap_or_default())
    }

    /// Repositories the registry lists (`/v2/_catalog`), for mount sources. Many registries
    /// refuse this; callers treat an error as "none known".
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let path = "/v2/_catalog?n=1000";
        let url = self.url(path);
        let resp = self
            .send(&Scope(vec!["registry:catalog:*".into()]), || {
                self.http.get(url.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(resp, "GET", path, None).await);
        }
        let c: Catalog = resp.json().await.map_err(|e| self.unreachable(path, e))?;
        Ok(c.repositories)
    }

    // ---- auth -------------------------------------------------------------------------------

    /// Sends with auth; on a 401 learns the challenge and retries once.
    async fn send(
        &self,
        scope: &Scope,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let rb = self.authorize(make(), scope).await?;
        let resp = self.send_raw(rb).await?;
        // Another origin's 401 (a storage backend we were redirected to) is not the registry
        // asking for credentials: ours are not for it.
        if resp.status() != StatusCode::UNAUTHORIZED || !same_origin(resp.url(), &self.base) {
            return Ok(resp);
        }
        let had_auth = {
            let state = self.auth.lock().await;
            state.challenge.is_some()
        };
        let learned = self.learn(&resp).await;
        if !learned && had_auth {
            return Err(self.refused(resp).await);
        }
        {
            // A token for this scope may be stale (expired): fetch a new one.
            let mut state = self.auth.lock().await;
            state.tokens.remove(&scope.key());
        }
        let rb = self.authorize(make(), scope).await?;
        let resp = self.send_raw(rb).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(self.refused(resp).await);
        }
        Ok(resp)
    }

    /// Sends one request (following redirects, credentials kept to the registry's origin), with
    /// the answer timeout: the request carries no streamed body, so it is small.
    async fn send_raw(&self, rb: RequestBuilder) -> Result<Response, RegistryError> {
        let (http, req) = rb.build_split();
        let mut req = req.map_err(|e| self.transport(e))?;
        *req.timeout_mut() = Some(self.answer_timeout);
        follow(&http, req, &self.base)
            .await
            .map_err(|e| self.transport(e))
    }

    /// The error for a request that got no answer: unreachable, or silent past the timeout.
    fn transport(&self, e: reqwest::Error) -> RegistryError {
        let url = e.url().cloned().unwrap_or_else(|| self.base.clone());
        if e.is_timeout() {
            return RegistryError::NoAnswer {
                registry: self.host.clone(),
                request: url.path().to_string(),
                seconds: self.answer_timeout.as_secs(),
            };
        }
        RegistryError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        }
    }

    /// Runs a streamed upload, failing with `NoAnswer` when the registry stops taking bytes, or
    /// gets them all but does not answer (given longer: storing a blob may copy it).
    async fn watch_upload(
        &self,
        send: impl std::future::Future<Output = Result<Response, reqwest::Error>>,
        progress: &UploadProgress,
        path: &str,
    ) -> Result<Result<Response, reqwest::Error>, RegistryError> {
        let tick = (self.answer_timeout / 4).min(Duration::from_secs(1));
        let mut send = std::pin::pin!(send);
        loop {
            tokio::select! {
                r = &mut send => return Ok(r),
                _ = tokio::time::sleep(tick) => {
                    if let Some(waited) = progress.stalled(self.answer_timeout) {
                        return Err(RegistryError::NoAnswer {
                            registry: self.host.clone(),
                            request: path.to_string(),
                            seconds: waited.as_secs(),
                        });
                    }
                }
            }
        }
    }

    /// Records the challenge of a 401; true if it is one we did not know yet.
    async fn learn(&self, resp: &Response) -> bool {
        if !same_origin(resp.url(), &self.base) {
            return false;
        }
        let challenge = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(auth::parse_challenge);
        let mut state = self.auth.lock().await;
        if challenge.is_some() && state.challenge != challenge {
            state.challenge = challenge;
            state.tokens.clear();
            true
        } else {
            false
        }
    }

    /// Adds the registry's credentials (basic, or a bearer token for `scope`) to a request for
    /// the registry's own origin; a request elsewhere (an upload session the registry placed on
    /// another host or port) goes without them.
    async fn authorize(
        &self,
        rb: RequestBuilder,
        scope: &Scope,
    ) -> Result<RequestBuilder, RegistryError> {
        let (http, req) = rb.build_split();
        let req = req.map_err(|e| self.transport(e))?;
        let ours = same_origin(req.url(), &self.base);
        let rb = RequestBuilder::from_parts(http, req);
        if !ours {
            return Ok(rb);
        }
        let challenge = self.auth.lock().await.challenge.clone();
        match challenge {
            None => Ok(rb),
            Some(Challenge::Basic) => {
                let creds = self.require_credentials()?;
                Ok(rb.basic_auth(&creds.username, Some(&creds.password)))
            }
            Some(Challenge::Bearer { realm, service }) => {
                let token = self.token(&realm, service.as_deref(), scope).await?;
                Ok(rb.bearer_auth(token))
            }
        }
    }

    /// Why the Docker config's entry for this host cannot be used, if it names credentials we do
    /// not read (a helper program, an identity token).
    fn stored_elsewhere(&self) -> Option<RegistryError> {
        match self.elsewhere.as_ref()? {
            HostAuth::Helper(helper) => Some(RegistryError::CredentialHelper {
                registry: self.host.clone(),
                config: self.config_path.clone(),
                helper: helper.clone(),
            }),
            HostAuth::IdentityToken => Some(RegistryError::IdentityToken {
                registry: self.host.clone(),
                config: self.config_path.clone(),
            }),
            HostAuth::None | HostAuth::Basic(_) => None,
        }
    }

    fn require_credentials(&self) -> Result<&Credentials, RegistryError> {
        if let Some(e) = self.stored_elsewhere() {
            return Err(e);
        }
        self.credentials
            .as_ref()
            .ok_or_else(|| RegistryError::AuthNeeded {
                registry: self.host.clone(),
                config: self.config_path.clone(),
            })
    }

    /// The bearer-token flow: GET realm?service=…&scope=… (with basic credentials if we have
    /// them; anonymous otherwise), cached per scope.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &Scope,
    ) -> Result<String, RegistryError> {
        let key = scope.key();
        if let Some(t) = self.auth.lock().await.tokens.get(&key) {
            return Ok(t.clone());
        }
        let mut url = Url::parse(realm).map_err(|e| RegistryError::Api {
            registry: self.host.clone(),
            method: "GET".into(),
            path: "/v2/".into(),
            status: 401,
            detail: format!(": the token realm `{realm}` is not a URL ({e})"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in &scope.0 {
                q.append_pair("scope", s);
            }
        }
        if let Some(e) = self.stored_elsewhere() {
            return Err(e);
        }
        // The realm gets the basic credentials even on another origin: the registry names it
        // as the place to trade them for a token (docker does the same). Its redirects keep
        // them only within the realm's origin.
        let mut rb = self.http.get(url.clone());
        if let Some(c) = &self.credentials {
            rb = rb.basic_auth(&c.username, Some(&c.password));
        }
        let mut req = rb.build().map_err(|e| self.transport(e))?;
        *req.timeout_mut() = Some(self.answer_timeout);
        let resp = follow(&self.http, req, &url).await.map_err(|e| {
            if e.is_timeout() {
                self.transport(e)
            } else {
                RegistryError::Unreachable {
                    url: url.to_string(),
                    reason: error_chain(&e),
                }
            }
        })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            if self.credentials.is_none() {
                return Err(RegistryError::AuthNeeded {
                    registry: self.host.clone(),
                    config: self.config_path.clone(),
                });
            }
            return Err(self.refused(resp).await);
        }
        if !status.is_success() {
            let detail = decode_error_text(resp).await;
            return Err(RegistryError::Api {
                registry: self.host.clone(),
                method: "GET".into(),
                path: url.path().to_string(),
                status: status.as_u16(),
                detail: format!(" from the token endpoint{detail}"),
            });
        }
        let body: TokenResponse = resp.json().await.map_err(|e| RegistryError::Api {
            registry: self.host.clone(),
            method: "GET".into(),
            path: url.path().to_string(),
            status: status.as_u16(),
            detail: format!(": the token endpoint's answer is not a token ({e})"),
        })?;
        let token = body
            .token
            .or(body.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Api {
                registry: self.host.clone(),
                method: "GET".into(),
                path: url.path().to_string(),
                status: status.as_u16(),
                detail: ": the token endpoint sent no token".into(),
            })?;
        self.auth.lock().await.tokens.insert(key, token.clone());
        Ok(token)
    }

    async fn refused(&self, resp: Response) -> RegistryError {
        let detail = match decode_error_body(resp).await {
            Some((code, message)) => format!("{code}: {message}"),
            None => "401 Unauthorized".into(),
        };
        if self.credentials.is_none() {
            if let Some(e) = self.stored_elsewhere() {
                return e;
            }
            return RegistryError::AuthNeeded {
                registry: self.host.clone(),
                config: self.config_path.clone(),
            };
        }
        RegistryError::AuthRefused {
            registry: self.host.clone(),
            user: self
                .credentials
                .as_ref()
                .map(|c| format!(" of user {}", c.username))
                .unwrap_or_default(),
            config: self.config_path.clone(),
            detail,
        }
    }

    // ---- errors -----------------------------------------------------------------------------

    async fn expect_ok(
        &self,
        resp: Response,
        method: &str,
        path: &str,
        repository: Option<&str>,
    ) -> Result<Response, RegistryError> {
        if resp.status().is_success() {
            Ok(resp)
        } else if resp.status() == StatusCode::UNAUTHORIZED {
            Err(self.refused(resp).await)
        } else {
            Err(self.error(resp, method, path, repository).await)
        }
    }

    /// Turns a failed response into the error that explains it.
    async fn error(
        &self,
        resp: Response,
        method: &str,
        path: &str,
        repository: Option<&str>,
    ) -> RegistryError {
        let status = resp.status().as_u16();
        if status == 401 {
            return self.refused(resp).await;
        }
        let body = decode_error_body(resp).await;
        classify(
            &self.host,
            method,
            path,
            repository,
            status,
            body,
            &self.config_path,
        )
    }

    fn location(&self, resp: &Response, path: &str) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .ok_or_else(|| RegistryError::Api {
                registry: self.host.clone(),
                method: "POST".into(),
                path: path.to_string(),
                status: resp.status().as_u16(),
                detail: ": no Location header for the upload session".into(),
            })?;
        // Relative locations are resolved against the registry.
        self.base.join(loc).map_err(|e| RegistryError::Api {
            registry: self.host.clone(),
            method: "POST".into(),
            path: path.to_string(),
            status: resp.status().as_u16(),
            detail: format!(": bad Location `{loc}`: {e}"),
        })
    }

    fn unreachable(&self, path: &str, e: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            url: self.url(path).to_string(),
            reason: error_chain(&e),
        }
    }

    fn interrupted(&self, digest: &str, e: reqwest::Error) -> RegistryError {
        // A body error is our own stream failing (the layer source, or a digest check).
        let chain = error_chain(&e);
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if let Some(inner) = io.get_ref() {
                    if let Some(m) = inner.downcast_ref::<DigestMismatchError>() {
                        return RegistryError::DigestMismatch {
                            digest: digest.to_string(),
                            actual: m.0.clone(),
                        };
                    }
                }
                return RegistryError::Source {
                    digest: digest.to_string(),
                    reason: io.to_string(),
                };
            }
            source = s.source();
        }
        RegistryError::Interrupted {
            registry: self.host.clone(),
            what: format!("blob {digest}"),
            reason: chain,
        }
    }
}

/// Whether two URLs share an origin (scheme, host, port: the unit credentials are given for).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Sends `req`, following redirects (as reqwest would: 301/302/303 turn a request with a body into
/// a GET, 307/308 repeat it; a streamed body cannot be repeated, so that answer is returned as it
/// is). Credentials (`Authorization`, cookies) stay on the request only while it goes to
/// `trusted`'s origin; once dropped they stay dropped. Past [`MAX_REDIRECTS`] the last redirect
/// is returned for the caller to report.
async fn follow(
    http: &reqwest::Client,
    mut req: Request,
    trusted: &Url,
) -> Result<Response, reqwest::Error> {
    for _ in 0..MAX_REDIRECTS {
        let method = req.method().clone();
        let headers = req.headers().clone();
        let timeout = req.timeout().copied();
        let again = req.try_clone();
        let resp = http.execute(req).await?;
        let status = resp.status();
        let keeps_method = match status {
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
            _ => return Ok(resp),
        };
        let Some(next_url) = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| resp.url().join(l).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            return Ok(resp);
        };
        let mut next = if keeps_method || method == Method::GET || method == Method::HEAD {
            match again {
                Some(r) => r,
                None => return Ok(resp),
            }
        } else {
            let mut r = Request::new(Method::GET, next_url.clone());
            *r.headers_mut() = headers;
            for h in [
                CONTENT_TYPE,
                CONTENT_LENGTH,
                reqwest::header::TRANSFER_ENCODING,
            ] {
                r.headers_mut().remove(h);
            }
            r
        };
        *next.url_mut() = next_url;
        *next.timeout_mut() = timeout;
        if !same_origin(next.url(), trusted) {
            for h in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                next.headers_mut().remove(h);
            }
        }
        req = next;
    }
    http.execute(req).await
}

/// When an upload last moved: reqwest asking the body for more means the registry took what it
/// had; a body that is itself waiting (a slow layer source) is not the registry's fault.
struct UploadProgress {
    start: Instant,
    /// Milliseconds after `start` of the last time the body was asked for bytes.
    last_ms: AtomicU64,
    /// 0: the body handed out a chunk (the registry's turn), 1: the body is waiting for its
    /// source, 2: the body is all sent (the registry's turn to answer).
    state: std::sync::atomic::AtomicU8,
}

impl UploadProgress {
    fn new() -> UploadProgress {
        UploadProgress {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            state: std::sync::atomic::AtomicU8::new(0),
        }
    }

    fn polled(&self, state: u8) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::SeqCst);
        self.state.store(state, Ordering::SeqCst);
    }

    /// How long the registry has kept us waiting, if longer than it may.
    fn stalled(&self, limit: Duration) -> Option<Duration> {
        let limit = match self.state.load(Ordering::SeqCst) {
            1 => return None,
            2 => limit * COMMIT_TIMEOUTS,
            _ => limit,
        };
        let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
        let waited = self.start.elapsed().saturating_sub(last);
        (waited > limit).then_some(waited)
    }
}

/// An upload body that tells its [`UploadProgress`] each time it is asked for bytes.
struct Watched {
    inner: ByteStream,
    progress: Arc<UploadProgress>,
}

impl Stream for Watched {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let poll = self.inner.as_mut().poll_next(cx);
        let state = match &poll {
            std::task::Poll::Ready(Some(_)) => 0,
            std::task::Poll::Pending => 1,
            std::task::Poll::Ready(None) => 2,
        };
        self.progress.polled(state);
        poll
    }
}

/// The error for a status and the registry's `{"errors":[{code,message}]}` body.
pub(crate) fn classify(
    host: &str,
    method: &str,
    path: &str,
    repository: Option<&str>,
    status: u16,
    body: Option<(String, String)>,
    config: &std::path::Path,
) -> RegistryError {
    let (code, message) = body.clone().unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    if status == 507
        || lower.contains("no space left")
        || lower.contains("disk quota")
        || lower.contains("insufficient storage")
    {
        return RegistryError::DiskFull {
            registry: host.to_string(),
            message: if message.is_empty() {
                format!("{status} Insufficient Storage")
            } else {
                message
            },
        };
    }
    if code == "NAME_INVALID" {
        return RegistryError::NameInvalid {
            registry: host.to_string(),
            repository: repository.unwrap_or("").to_string(),
            message,
        };
    }
    if code == "DENIED" || status == 403 {
        return RegistryError::Denied {
            registry: host.to_string(),
            repository: repository.unwrap_or("").to_string(),
            code: if code.is_empty() { "403".into() } else { code },
            message,
            config: config.to_path_buf(),
        };
    }
    RegistryError::Api {
        registry: host.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        status,
        detail: match body {
            Some((c, m)) => format!(": {c}: {m}"),
            None => String::new(),
        },
    }
}

/// The first `{code, message}` of an error body, if it has one.
async fn decode_error_body(resp: Response) -> Option<(String, String)> {
    let text = resp.text().await.ok()?;
    parse_error_body(&text)
}

pub(crate) fn parse_error_body(text: &str) -> Option<(String, String)> {
    if let Ok(body) = serde_json::from_str::<ErrorBody>(text) {
        if let Some(first) = body.errors.into_iter().next() {
            let message = match first.detail {
                Some(serde_json::Value::String(d)) if !d.is_empty() && d != first.message => {
                    format!("{} ({d})", first.message)
                }
                _ => first.message,
            };
            return Some((first.code, message));
        }
    }
    let t = text.trim();
    if t.is_empty() {
        None
    } else {
        Some((String::new(), t.chars().take(300).collect()))
    }
}

async fn decode_error_text(resp: Response) -> String {
    match decode_error_body(resp).await {
        Some((c, m)) if c.is_empty() => format!(": {m}"),
        Some((c, m)) => format!(": {c}: {m}"),
        None => String::new(),
    }
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn content_length(resp: &Response) -> Option<u64> {
    header(resp, "content-length").and_then(|v| v.parse().ok())
}

/// reqwest's Display hides the cause ("error sending request"); the chain says "connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_body(status: u16, body: &str) -> RegistryError {
        classify(
            "r:1",
            "PUT",
            "/v2/x/blobs/uploads/1",
            Some("x"),
            status,
            parse_error_body(body),
            std::path::Path::new("/h/.docker/config.json"),
        )
    }

    #[test]
    fn decodes_registry_error_bodies() {
        let e = classify_body(
            400,
            r#"{"errors":[{"code":"NAME_INVALID","message":"invalid repository name","detail":"x"}]}"#,
        );
        assert!(matches!(e, RegistryError::NameInvalid { .. }), "{e}");
        assert!(e.to_string().contains("lower-case letters"));

        let e = classify_body(
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"write /var/lib/registry/x: no space left on device"}]}"#,
        );
        assert!(matches!(e, RegistryError::DiskFull { .. }), "{e}");
        let e = classify_body(
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"write /srv/x/data: no space left on device"}]}"#,
        );
        assert!(matches!(e, RegistryError::DiskFull { .. }), "{e}");
        assert!(e.to_string().contains("/srv/x/data"), "{e}");
        let e = classify_body(507, "");
        assert!(e.to_string().contains("out of storage"), "{e}");

        let e = classify_body(
            403,
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
        );
        assert!(matches!(e, RegistryError::Denied { .. }), "{e}");

        let e = classify_body(
            400,
            r#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#,
        );
        assert_eq!(
            e.to_string(),
            "the registry r:1 answered PUT /v2/x/blobs/uploads/1 with 400: BLOB_UPLOAD_INVALID: blob upload invalid"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_or_insecure() {
        let c = Client::new("127.0.0.1:5000", ClientOptions::default()).unwrap();
        assert_eq!(c.base.scheme(), "http");
        let c = Client::new(
            "registry.example",
            ClientOptions {
                docker_config: Some("/nonexistent/config.json".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.base.scheme(), "https");
        let c = Client::new(
            "registry.example:5000",
            ClientOptions {
                insecure: true,
                docker_config: Some("/nonexistent/config.json".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.base.scheme(), "http");
    }

    /// A token server and a /v2/ endpoint that wants its tokens: enough of the bearer flow to
    /// check ours (the Debian registry's token mode needs a signing PKI we have no use for).
    mod bearer {
        use super::*;
        use std::sync::Mutex as StdMutex;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        async fn serve(listener: tokio::net::TcpListener, log: Arc<StdMutex<Vec<String>>>) {
            let port = listener.local_addr().unwrap().port();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let line = text.lines().next().unwrap_or("").to_string();
                    let auth = text
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("authorization")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    log.lock().unwrap().push(format!("{line} [{auth}]"));
                    let path = line.split(' ').nth(1).unwrap_or("");
                    let basic_ok = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode("alice:pw")
                    );
                    use base64::Engine as _;
                    let (status, headers, body) = if path.starts_with("/token") {
                        if auth == basic_ok {
                            let scope = path.split("scope=").nth(1).unwrap_or("none");
                            (200, String::new(), format!(r#"{{"token":"tok:{scope}"}}"#))
                        } else {
                            (401, String::new(), r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.to_string())
                        }
                    } else if auth.starts_with("Bearer tok:") {
                        if path.starts_with("/v2/r/blobs/")
                            && !auth.contains("repository%3Ar%3Apull")
                        {
                            (401, String::new(), String::new())
                        } else if path.starts_with("/v2/r/blobs/") {
                            (404, String::new(), String::new())
                        } else {
                            (200, String::new(), "{}".to_string())
                        }
                    } else {
                        (
                            401,
                            format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\"\r\n"),
                            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_string(),
                        )
                    };
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        }

        async fn start() -> (String, Arc<StdMutex<Vec<String>>>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let host = listener.local_addr().unwrap().to_string();
            let log = Arc::new(StdMutex::new(Vec::new()));
            tokio::spawn(serve(listener, log.clone()));
            (host, log)
        }

        fn client(host: &str, password: &str) -> Client {
            Client::new(
                host,
                ClientOptions {
                    credentials: Some(Credentials {
                        username: "alice".into(),
                        password: password.into(),
                    }),
                    ..Default::default()
                },
            )
            .unwrap()
        }

        #[tokio::test]
        async fn token_flow_gets_a_token_per_scope() {
            let (host, log) = start().await;
            let c = client(&host, "pw");
            c.ping().await.unwrap();
            assert_eq!(c.blob_exists("r", "sha256:00").await.unwrap(), None);
            // Cached: a second HEAD fetches no new token.
            assert_eq!(c.blob_exists("r", "sha256:11").await.unwrap(), None);
            let log = log.lock().unwrap().clone();
            let tokens: Vec<_> = log.iter().filter(|l| l.starts_with("GET /token")).collect();
            assert_eq!(tokens.len(), 2, "{log:#?}");
            assert!(
                tokens[1].contains("scope=repository%3Ar%3Apull")
                    && tokens[1].contains("service=test"),
                "{log:#?}"
            );
        }

        #[tokio::test]
        async fn token_endpoint_refusal_is_auth_refused() {
            let (host, _log) = start().await;
            let err = client(&host, "nope").ping().await.unwrap_err();
            assert!(matches!(err, RegistryError::AuthRefused { .. }), "{err}");
            assert!(err.to_string().contains("bad credentials"), "{err}");
        }
    }
}
