//! Pulling an image from a registry into the Docker Engine (through the Engine's API, which
//! skips layers it already has), then tagging it with its local `name:tag`.

use futures::StreamExt;

use super::client::Client;
use super::{RegistryError, RegistryRef};
use crate::config::ImageRef;
use crate::docker::{DockerError, Engine, RegistryLogin};

/// A progress line from the Engine while it pulls (`id` is a layer, `status` e.g. `Downloading`).
#[derive(Debug, Clone, PartialEq)]
pub struct PullProgress {
    pub id: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

/// Pulls `remote` into Docker and tags it `local`. The registry is asked first (by our own client,
/// with the same credentials), so "unreachable", "refused" and "missing" are reported clearly
/// instead of through the Engine's messages.
pub async fn pull_into_docker(
    engine: &Engine,
    client: &Client,
    remote: &RegistryRef,
    local: &ImageRef,
    progress: &(dyn Fn(PullProgress) + Send + Sync),
) -> Result<(), RegistryError> {
    client.ping().await?;
    if client
        .manifest_exists(&remote.repository, &remote.tag)
        .await?
        .is_none()
    {
        return Err(RegistryError::ManifestUnknown {
            registry: remote.host.clone(),
            repository: remote.repository.clone(),
            tag: remote.tag.clone(),
        });
    }
    let reference = remote.to_string();
    let failed = |reason: String| RegistryError::Pull {
        reference: reference.clone(),
        reason,
    };
    let login = client.credentials().map(|c| RegistryLogin {
        username: c.username.clone(),
        password: c.password.clone(),
        server: remote.host.clone(),
    });
    let name = remote.name();
    let mut stream = std::pin::pin!(engine.pull_image(&name, &remote.tag, login));
    while let Some(item) = stream.next().await {
        let line = item.map_err(|e| failed(docker_reason(e, &remote.host)))?;
        if let Some(status) = line.status {
            progress(PullProgress {
                id: line.id,
                status,
                current: line.current,
                total: line.total,
            });
        }
    }
    engine
        .tag_image(&reference, &local.name, &local.tag)
        .await
        .map_err(|e| failed(format!("tagging it {local}: {}", e.reason())))?;
    Ok(())
}

fn docker_reason(e: DockerError, host: &str) -> String {
    let text = e.reason();
    if text.contains("http: server gave HTTP response to HTTPS client") {
        return format!(
            "{text}\n  the Docker Engine only speaks plain HTTP to loopback registries and those listed \
             in its `insecure-registries` (daemon.json): add {host} there, or serve the registry over HTTPS"
        );
    }
    text
}
