//! Connecting to the engine the user means, in the docker CLI's order: `DOCKER_HOST`
//! (`unix://`, `tcp://`, `http://`), else the current Docker context (`DOCKER_CONTEXT` or
//! `currentContext` in `~/.docker/config.json`), else the local socket, else Podman's socket.
//! The API version is negotiated, so older engines (API 1.41) work.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};
use sha2::{Digest, Sha256};

use super::DockerError;

/// How long one request may wait for the engine's answer (its headers; streams run longer).
/// Generous: uploading a large package set or importing an image answers only at the end.
const REQUEST_TIMEOUT_SECS: u64 = 3600;
/// How long the first ping may take before the engine counts as unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// A connected engine and the address we reached it at (for messages).
#[derive(Debug, Clone)]
pub struct Engine {
    /// The client; only the Docker boundary (this folder) calls it: the modules above use
    /// `Engine`'s methods, typed with our own types.
    pub(super) docker: Docker,
    pub address: String,
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
}

/// The address `connect` will try, as the user would name it.
pub fn address() -> String {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return host;
    }
    let home = dirs::home_dir().unwrap_or_default();
    if let Some(host) = context_host(&home.join(".docker"), std::env::var("DOCKER_CONTEXT").ok()) {
        return host;
    }
    if Path::new("/var/run/docker.sock").exists() {
        return DEFAULT_SOCKET.to_string();
    }
    let podman = [
        std::env::var("XDG_RUNTIME_DIR")
            .ok()
            .map(|d| PathBuf::from(d).join("podman/podman.sock")),
        Some(PathBuf::from("/run/podman/podman.sock")),
    ];
    podman
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .map(|p| format!("unix://{}", p.display()))
        .unwrap_or_else(|| DEFAULT_SOCKET.to_string())
}

/// The docker endpoint of the named context (or the config's current one), unless it is the
/// default context.
fn context_host(docker_dir: &Path, context: Option<String>) -> Option<String> {
    let name = context.filter(|c| !c.is_empty()).or_else(|| {
        let config = std::fs::read_to_string(docker_dir.join("config.json")).ok()?;
        let config: serde_json::Value = serde_json::from_str(&config).ok()?;
        config["currentContext"].as_str().map(str::to_string)
    })?;
    if name == "default" {
        return None;
    }
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta = std::fs::read_to_string(docker_dir.join("contexts/meta").join(id).join("meta.json"))
        .ok()?;
    let meta: serde_json::Value = serde_json::from_str(&meta).ok()?;
    meta["Endpoints"]["docker"]["Host"]
        .as_str()
        .map(str::to_string)
}

/// Connects and checks the engine answers (a ping), so later calls fail only for their own reasons.
pub async fn connect() -> Result<Engine, DockerError> {
    let address = address();
    let unreachable = |reason: String| DockerError::Unreachable {
        address: address.clone(),
        reason,
    };
    let docker = if let Some(path) = address.strip_prefix("unix://") {
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if address.starts_with("tcp://") || address.starts_with("http://") {
        Docker::connect_with_http(&address, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(unreachable(
            "this address scheme is not supported (use unix://, tcp:// or http://; for a remote \
             engine over SSH, forward its socket: ssh -L /tmp/docker.sock:/var/run/docker.sock HOST)"
                .to_string(),
        ));
    }
    .map_err(|e| unreachable(e.to_string()))?;
    let negotiated = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok::<_, bollard::errors::Error>(docker)
    };
    let docker = match tokio::time::timeout(PING_TIMEOUT, negotiated).await {
        Ok(Ok(docker)) => docker,
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {}s",
                PING_TIMEOUT.as_secs()
            )))
        }
    };
    Ok(Engine { docker, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_context_names_its_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let id = hex::encode(Sha256::digest(b"remote"));
        let meta = dir.path().join("contexts/meta").join(id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2375"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"remote"}"#,
        )
        .unwrap();
        assert_eq!(
            context_host(dir.path(), None).as_deref(),
            Some("tcp://10.0.0.5:2375")
        );
        assert_eq!(context_host(dir.path(), Some("default".into())), None);
        assert_eq!(context_host(dir.path(), Some("missing".into())), None);
    }
}
