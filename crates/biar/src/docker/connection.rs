//! Connecting to the engine the user means: `DOCKER_HOST` if set (unix, tcp, http), else the
//! local socket. The API version is negotiated, so older engines (API 1.41) work.

use bollard::Docker;

use super::DockerError;

/// A connected engine and the address we reached it at (for messages).
#[derive(Debug, Clone)]
pub struct Engine {
    pub docker: Docker,
    pub address: String,
}

/// The address `connect` will try, as the user would name it.
pub fn address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Connects and checks the engine answers (a ping), so later calls fail only for their own reasons.
pub async fn connect() -> Result<Engine, DockerError> {
    let address = address();
    let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
        address: address.clone(),
        reason: e.to_string(),
    };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(Engine { docker, address })
}
