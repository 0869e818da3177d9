//! Who may see what: the registry's challenge learned from a 401, basic credentials (given, from
//! the Docker config, or from its credential helper), and the bearer-token flow with one token
//! cached per scope. Credentials are added only to requests for the registry's own origin.

use std::collections::HashMap;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;

use super::super::auth::{self, Challenge, Credentials, HostAuth};
use super::classify::{decode_error_body, decode_error_text, error_chain};
use super::http::{follow, same_origin};
use super::{Client, RegistryError};

#[derive(Default)]
pub(super) struct AuthState {
    challenge: Option<Challenge>,
    /// Bearer tokens by scope set.
    tokens: HashMap<String, String>,
}

/// A repository scope for bearer tokens: `repository:NAME:pull,push`.
#[derive(Debug, Clone)]
pub struct Scope(pub(super) Vec<String>);

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
    pub(super) fn key(&self) -> String {
        self.0.join(" ")
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Client {
    /// The basic credentials in use (given, from the Docker config, or from its credential
    /// helper once the registry asked for them), if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials
            .as_ref()
            .or_else(|| self.helper.as_ref()?.fetched())
    }

    /// The basic credentials, running the credential helper if the Docker config names one.
    pub(super) async fn fetch_credentials(&self) -> Result<Option<Credentials>, RegistryError> {
        match (&self.credentials, &self.helper) {
            (Some(c), _) => Ok(Some(c.clone())),
            (None, Some(helper)) => helper.credentials().await,
            (None, None) => Ok(None),
        }
    }

    /// The registry wants credentials and there are none.
    pub(super) fn no_credentials(&self) -> RegistryError {
        match &self.helper {
            Some(helper) => helper.none_error(),
            None => RegistryError::AuthNeeded {
                registry: self.host.clone(),
                config: self.config_path.clone(),
            },
        }
    }

    /// Sends with auth; on a 401 learns the challenge and retries once.
    pub(super) async fn send(
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

    /// Records the challenge of a 401; true if it is one we did not know yet.
    pub(super) async fn learn(&self, resp: &Response) -> bool {
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
    pub(super) async fn authorize(
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
                let creds = self.require_credentials().await?;
                Ok(rb.basic_auth(&creds.username, Some(&creds.password)))
            }
            Some(Challenge::Bearer { realm, service }) => {
                let token = self.token(&realm, service.as_deref(), scope).await?;
                Ok(rb.bearer_auth(token))
            }
        }
    }

    /// Why the Docker config's entry for this host cannot be used, if it names credentials we do
    /// not read (an identity token).
    pub(super) fn stored_elsewhere(&self) -> Option<RegistryError> {
        match self.elsewhere.as_ref()? {
            HostAuth::IdentityToken => Some(RegistryError::IdentityToken {
                registry: self.host.clone(),
                config: self.config_path.clone(),
            }),
            HostAuth::Helper(_) | HostAuth::None | HostAuth::Basic(_) => None,
        }
    }

    pub(super) async fn require_credentials(&self) -> Result<Credentials, RegistryError> {
        if let Some(e) = self.stored_elsewhere() {
            return Err(e);
        }
        self.fetch_credentials()
            .await?
            .ok_or_else(|| self.no_credentials())
    }

    /// The bearer-token flow: GET realm?service=…&scope=… (with basic credentials if we have
    /// them; anonymous otherwise), cached per scope.
    pub(super) async fn token(
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
        let credentials = self.fetch_credentials().await?;
        if let Some(c) = &credentials {
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
            if credentials.is_none() {
                return Err(self.no_credentials());
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

    pub(super) async fn refused(&self, resp: Response) -> RegistryError {
        let detail = match decode_error_body(resp).await {
            Some((code, message)) => format!("{code}: {message}"),
            None => "401 Unauthorized".into(),
        };
        if self.credentials().is_none() {
            if let Some(e) = self.stored_elsewhere() {
                return e;
            }
            return self.no_credentials();
        }
        RegistryError::AuthRefused {
            registry: self.host.clone(),
            user: self
                .credentials()
                .map(|c| format!(" of user {}", c.username))
                .unwrap_or_default(),
            config: self.config_path.clone(),
            detail,
        }
    }
}

/// A token server and a /v2/ endpoint that wants its tokens: enough of the bearer flow to
/// check ours (the Debian registry's token mode needs a signing PKI we have no use for).
#[cfg(test)]
mod bearer {
    use super::super::ClientOptions;
    use super::*;
    use std::sync::Arc;
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
                        (
                            401,
                            String::new(),
                            r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#
                                .to_string(),
                        )
                    }
                } else if auth.starts_with("Bearer tok:") {
                    if path.starts_with("/v2/r/blobs/") && !auth.contains("repository%3Ar%3Apull") {
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
            tokens[1].contains("scope=repository%3Ar%3Apull") && tokens[1].contains("service=test"),
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
