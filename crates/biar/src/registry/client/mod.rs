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
//!
//! One concern a file: `blobs` and `manifests` are the verbs, `authorize` the challenge and token
//! flow, `http` the wire (timeouts, redirects), `classify` the errors; here the client itself.

mod authorize;
mod blobs;
mod classify;
mod http;
mod manifests;
mod read;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::sync::Mutex;

pub use authorize::Scope;
pub use blobs::Mount;
pub use manifests::FetchedManifest;

use super::auth::{self, Credentials, HostAuth};
use super::cred_helper::{HelperSource, HELPER_TIMEOUT};
use super::reference::is_loopback;
use super::RegistryError;
use authorize::AuthState;

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
    /// How long a credential helper may take before it is killed; default [`HELPER_TIMEOUT`].
    pub helper_timeout: Option<Duration>,
}

/// A registry that accepts connections but sends nothing for this long is reported as not
/// answering. Shorter than the Engine connection's own timeout, so a push streaming a layer from
/// the builder blames the registry, not the layer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of one registry host. Cheap to clone; clones share the auth state.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    host: String,
    base: Url,
    credentials: Option<Credentials>,
    /// The Docker config's entry when not plain basic credentials: a helper (run through
    /// `helper`) or an identity token (not used: said when the registry asks for credentials).
    elsewhere: Option<HostAuth>,
    /// The credential helper (`credHelpers`/`credsStore`) holding this host's credentials.
    helper: Option<Arc<HelperSource>>,
    config_path: PathBuf,
    answer_timeout: Duration,
    auth: Arc<Mutex<AuthState>>,
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
        let helper = match &elsewhere {
            Some(HostAuth::Helper(name)) => Some(Arc::new(HelperSource::new(
                name,
                host,
                config_path.clone(),
                options.helper_timeout.unwrap_or(HELPER_TIMEOUT),
            ))),
            _ => None,
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
            helper,
            config_path,
            answer_timeout: options.answer_timeout.unwrap_or(ANSWER_TIMEOUT),
            auth: Arc::new(Mutex::new(AuthState::default())),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
