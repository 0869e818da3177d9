//! Where a project's images go: `registry.host`/`namespace`/`insecure` in config.json, else the
//! BIAR prototype's `DOCKER_REGISTRY_HOST`, else the `DOCKER_REGISTRY_HOST` environment variable.

use super::client::{Client, ClientOptions};
use super::push::{push_image, OpenLayer, PushOptions, PushSummary};
use super::{RegistryError, RegistryRef};
use crate::config::{Config, ImageRef};
use crate::oci::PushImage;
use crate::progress::BuildEvent;

/// The registry a project pushes to and pulls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `host[:port]`.
    pub host: String,
    /// Path under the host (`team/envs`), empty for none.
    pub namespace: String,
    /// Plain HTTP for a non-loopback host.
    pub insecure: bool,
}

impl RegistryTarget {
    /// The configured registry; `None` if the project names none.
    pub fn from_config(config: &Config) -> Option<RegistryTarget> {
        if let Some(r) = &config.registry {
            return Some(Self::parse(&r.host, &r.namespace, r.insecure));
        }
        let host = config
            .docker_registry_host
            .clone()
            .or_else(|| std::env::var("DOCKER_REGISTRY_HOST").ok())
            .filter(|h| !h.trim().is_empty())?;
        Some(Self::parse(&host, "", false))
    }

    /// `host[/namespace]` as a user writes it (`--registry 127.0.0.1:5000/team`), with an optional
    /// `http://` (insecure) or `https://` scheme.
    pub fn parse(text: &str, namespace: &str, insecure: bool) -> RegistryTarget {
        let mut insecure = insecure;
        let mut rest = text.trim();
        if let Some(r) = rest.strip_prefix("http://") {
            insecure = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("https://") {
            rest = r;
        }
        let rest = rest.trim_end_matches('/');
        let (host, extra) = rest.split_once('/').unwrap_or((rest, ""));
        let namespace = [extra.trim_matches('/'), namespace.trim_matches('/')]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("/");
        RegistryTarget {
            host: host.to_string(),
            namespace,
            insecure,
        }
    }

    /// A client with the Docker config's credentials.
    pub fn client(&self) -> Result<Client, RegistryError> {
        Client::new(
            &self.host,
            ClientOptions {
                insecure: self.insecure,
                ..Default::default()
            },
        )
    }

    /// Where `image` lives in this registry.
    pub fn reference(&self, image: &ImageRef) -> Result<RegistryRef, RegistryError> {
        RegistryRef::from_image(&self.host, &self.namespace, image)
    }
}

/// Repositories to mount blobs from when pushing `repository`: the registry's other repositories
/// in the same namespace (every base configuration is its own repository, and they share most
/// layers). Registries that refuse the catalog give none; at most `limit`.
pub async fn mount_candidates(client: &Client, repository: &str, limit: usize) -> Vec<String> {
    let parent = repository.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let Ok(all) = client.catalog().await else {
        return Vec::new();
    };
    all.into_iter()
        .filter(|r| r != repository)
        .filter(|r| r.rsplit_once('/').map(|(p, _)| p).unwrap_or("") == parent)
        .take(limit)
        .collect()
}

/// Whether `image` is already tagged in the target registry (then a push has nothing to do).
pub async fn exists_in_registry(
    target: &RegistryTarget,
    image: &ImageRef,
) -> Result<bool, RegistryError> {
    let remote = target.reference(image)?;
    let client = target.client()?;
    client.ping().await?;
    Ok(client
        .manifest_exists(&remote.repository, &remote.tag)
        .await?
        .is_some())
}

/// Pushes an image to the project's registry as `namespace/name:tag`, mounting shared layers from
/// the sibling repositories the catalog lists. The push API for the build pipeline.
pub async fn push_to_target(
    target: &RegistryTarget,
    image: &ImageRef,
    push: &PushImage,
    open_layer: &OpenLayer<'_>,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<(RegistryRef, PushSummary), RegistryError> {
    let remote = target.reference(image)?;
    let client = target.client()?;
    client.ping().await?;
    let record = super::locations::BlobLocations::default_path();
    let mut known = super::locations::BlobLocations::load(&record);
    let options = PushOptions {
        mount_from: mount_candidates(&client, &remote.repository, 3).await,
        known_locations: known.for_host(&target.host),
        ..Default::default()
    };
    let summary = push_image(
        &client,
        &remote.repository,
        &remote.tag,
        push,
        open_layer,
        &options,
        events,
    )
    .await?;
    // Remember where these blobs now are, so the next push to a sibling repository mounts them.
    let mut digests: Vec<&str> = push.layers.iter().map(|l| l.digest.as_str()).collect();
    let config = push.config_descriptor();
    digests.push(&config.digest);
    known.record(&target.host, &remote.repository, &digests);
    known.save(&record);
    Ok((remote, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_and_namespace() {
        let t = RegistryTarget::parse("127.0.0.1:5000/team/", "envs", false);
        assert_eq!(t.host, "127.0.0.1:5000");
        assert_eq!(t.namespace, "team/envs");
        assert!(!t.insecure);
        assert!(RegistryTarget::parse("http://reg:5000", "", false).insecure);
        let img = ImageRef {
            name: "biar-a".into(),
            tag: "b".into(),
        };
        assert_eq!(
            t.reference(&img).unwrap().to_string(),
            "127.0.0.1:5000/team/envs/biar-a:b"
        );
    }
}
