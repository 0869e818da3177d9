//! The newest image of a name in a registry, for the layer plan to follow: every tag of the
//! image's repository, its manifest and config read (small, verified against their digests), the
//! one with the highest recorded generation kept (ties: the tag). A tag that cannot be read is
//! left out: the plan then follows another image, or none.

use futures::{stream, StreamExt};

use super::{ImageManifest, RegistryError, RegistryTarget};
use crate::config::ImageRef;
use crate::image::{newest, LayerRecord, PreviousImage};

/// Tags read at most: a repository holds one per user configuration built on this base.
const MAX_TAGS: usize = 200;
/// An image config is a few KiB; more is not one of ours.
const MAX_CONFIG: u64 = 4 * 1024 * 1024;

/// The newest image named `image.name` in `target`, other than `image` itself, that records its
/// layers.
pub async fn previous_in_registry(
    target: &RegistryTarget,
    image: &ImageRef,
) -> Result<Option<PreviousImage>, RegistryError> {
    let remote = target.reference(image)?;
    let client = target.client()?;
    client.ping().await?;
    let mut tags = client.tags(&remote.repository).await?;
    tags.retain(|t| *t != image.tag);
    tags.sort();
    if tags.len() > MAX_TAGS {
        tracing::info!(
            "{} has {} tags: the previous image is looked for among the first {MAX_TAGS}",
            remote.repository,
            tags.len()
        );
        tags.truncate(MAX_TAGS);
    }
    let repository = remote.repository.as_str();
    let client = &client;
    let found: Vec<(PreviousImage, ())> = stream::iter(tags)
        .map(|tag| async move {
            let record = async {
                let manifest = client.get_manifest(repository, &tag).await?;
                let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&manifest.bytes) else {
                    return Ok(None); // an index or another kind of manifest: not ours
                };
                let config = client
                    .small_blob(repository, &manifest.config.digest, MAX_CONFIG)
                    .await?;
                Ok::<_, RegistryError>(labels(&config).and_then(|l| LayerRecord::from_labels(&l)))
            };
            match record.await {
                Ok(record) => record.map(|record| {
                    let found = format!("{}/{repository}:{tag}", target.host);
                    (PreviousImage { found, record }, ())
                }),
                Err(e) => {
                    tracing::info!("{repository}:{tag} left out as a previous image: {e}");
                    None
                }
            }
        })
        .buffered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    Ok(newest(found))
}

/// The labels of an OCI image config.
fn labels(config: &[u8]) -> Option<std::collections::HashMap<String, String>> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    serde_json::from_value(value.get("config")?.get("Labels")?.clone()).ok()
}
