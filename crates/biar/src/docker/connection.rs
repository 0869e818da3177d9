//! Connecting to the engine the user means (resolved by [`super::endpoint`] in the docker CLI's
//! order): a unix socket or plain TCP through bollard's own clients, TCP + TLS and SSH through
//! [`super::transport`]. The API version is negotiated, so older engines (API 1.41) and Podman's
//! compatible API work.

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use super::endpoint::{self, Endpoint, Env, Resolved};
use super::{transport, DockerError};

/// How long one request may wait for the engine's answer (its headers; streams run longer).
/// Generous: uploading a large package set or importing an image answers only at the end.
const REQUEST_TIMEOUT_SECS: u64 = 3600;
/// How long the first ping may take before the engine counts as unreachable (an SSH login
/// included).
const PING_TIMEOUT: Duration = Duration::from_secs(45);

/// How biar-tui talks to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// A unix socket of this machine: the engine sees this machine's files.
    UnixSocket,
    Tcp,
    TcpTls,
    Ssh,
}

impl Transport {
    pub fn describe(self) -> &'static str {
        match self {
            Transport::UnixSocket => "local unix socket",
            Transport::Tcp => "TCP, no TLS",
            Transport::TcpTls => "TCP with TLS",
            Transport::Ssh => "SSH, docker system dial-stdio on the far side",
        }
    }
}

/// A connected engine and the address we reached it at (for messages).
#[derive(Debug, Clone)]
pub struct Engine {
    /// The client; only the Docker boundary (this folder) calls it: the modules above use
    /// `Engine`'s methods, typed with our own types.
    pub(super) docker: Docker,
    pub address: String,
    /// How the address was chosen (`DOCKER_HOST`, a context, the local socket).
    pub chosen_by: String,
    pub transport: Transport,
}

impl Engine {
    /// Whether the Engine has `reference` (a name:tag or an id); a 404 is "no", any other error is
    /// an error.
    pub async fn image_exists(&self, reference: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if DockerError::is_not_found(&e) => Ok(false),
            Err(e) => Err(DockerError::api(format!("inspecting {reference}"))(e)),
        }
    }

    /// The Engine's version string, if it says one.
    pub async fn version(&self) -> Option<String> {
        self.docker.version().await.ok().and_then(|v| v.version)
    }

    /// The engine's product and version as it names them, e.g. `Docker Engine 20.10.24` or
    /// `Podman Engine 4.3.1`.
    pub async fn product(&self) -> Option<String> {
        let v = self.docker.version().await.ok()?;
        let name = v
            .components
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.name.clone())
            .filter(|n| n != "Engine")
            .unwrap_or_else(|| "Docker Engine".to_string());
        Some(format!("{name} {}", v.version.unwrap_or_default()))
    }

    /// True when the engine says it is Podman (its Docker-compatible API differs in details).
    pub async fn is_podman(&self) -> bool {
        self.product().await.is_some_and(|p| p.contains("Podman"))
    }

    /// True when a path of this machine means the same folder to the engine, so it may be bind
    /// mounted: only an engine reached through a local unix socket. Any other engine gets
    /// copies (see `run`).
    pub fn sees_host_paths(&self) -> bool {
        self.transport == Transport::UnixSocket
    }
}

/// The address `connect` will try, as the user would name it (the local socket when the
/// resolution itself fails: `connect` then says why).
pub fn address() -> String {
    endpoint::resolve(&Env::from_process())
        .map(|r| r.address)
        .unwrap_or_else(|_| format!("unix://{}", endpoint::DEFAULT_SOCKET))
}

/// Which engine `connect` would reach and why, without connecting.
pub fn resolve() -> Result<Resolved, DockerError> {
    endpoint::resolve(&Env::from_process())
}

/// Connects and checks the engine answers (a ping), so later calls fail only for their own reasons.
pub async fn connect() -> Result<Engine, DockerError> {
    connect_to(resolve()?).await
}

/// Connects to a resolved endpoint.
pub async fn connect_to(resolved: Resolved) -> Result<Engine, DockerError> {
    let Resolved {
        endpoint,
        address,
        choice,
    } = resolved;
    let via = choice.to_string();
    let unreachable = |reason: String| DockerError::Unreachable {
        address: address.clone(),
        via: via.clone(),
        reason,
    };
    let mut ssh_stderr = None;
    let (docker, transport) = match &endpoint {
        Endpoint::Unix(path) => (
            Docker::connect_with_unix(
                &path.display().to_string(),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            )
            .map_err(|e| unreachable(e.to_string()))?,
            Transport::UnixSocket,
        ),
        Endpoint::Tcp { host, tls: None } => (
            Docker::connect_with_http(
                &format!("tcp://{host}"),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            )
            .map_err(|e| unreachable(e.to_string()))?,
            Transport::Tcp,
        ),
        Endpoint::Tcp {
            host,
            tls: Some(files),
        } => (
            transport::tls(host, files, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)?,
            Transport::TcpTls,
        ),
        Endpoint::Ssh(target) => {
            let (docker, stderr) =
                transport::ssh(target, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                    .map_err(|e| unreachable(e.to_string()))?;
            ssh_stderr = Some(stderr);
            (docker, Transport::Ssh)
        }
    };
    let negotiated = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok::<_, bollard::errors::Error>(docker)
    };
    // What ssh said explains most failures over SSH (no key, unknown host, no docker there).
    let with_ssh = |reason: String| match ssh_stderr.as_ref().map(|s| s.text()) {
        Some(said) if !said.is_empty() => format!("{reason}; ssh said: {said}"),
        _ => reason,
    };
    let docker = match tokio::time::timeout(PING_TIMEOUT, negotiated).await {
        Ok(Ok(docker)) => docker,
        Ok(Err(e)) => return Err(unreachable(with_ssh(e.to_string()))),
        Err(_) => {
            return Err(unreachable(with_ssh(format!(
                "no answer within {}s",
                PING_TIMEOUT.as_secs()
            ))))
        }
    };
    Ok(Engine {
        docker,
        address,
        chosen_by: via,
        transport,
    })
}
