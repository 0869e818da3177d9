//! What a push would do, asked before any byte is sent: HEAD the tag, then every blob in the
//! target repository, then in the repositories a push would mount from (known locations first,
//! else the catalog's siblings). Read-only: nothing is mounted or opened.

use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::{Client, Descriptor, PushImage, RegistryError, RegistryTarget};
use crate::config::ImageRef;
use crate::oci::sha256_digest;

/// What a push would do with one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobFate {
    /// The repository has it: skipped.
    Skip,
    /// Another repository of the registry has it: linked without sending.
    Mount,
    /// Sent.
    Upload,
}

/// One blob of the image and its fate; `index` = the layer's (the config is last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PredictedBlob {
    pub index: usize,
    pub digest: String,
    pub size: u64,
    pub config: bool,
    pub fate: BlobFate,
    /// The repository it would be mounted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// What a push of an image would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushPrediction {
    /// `host/namespace/name:tag`.
    pub remote: String,
    /// The tag already points at this very manifest: nothing would be sent.
    pub up_to_date: bool,
    pub blobs: Vec<PredictedBlob>,
}

impl PushPrediction {
    /// Bytes with `fate`.
    pub fn bytes(&self, fate: BlobFate) -> u64 {
        self.blobs
            .iter()
            .filter(|b| b.fate == fate)
            .map(|b| b.size)
            .sum()
    }
}

/// What pushing `image` as `reference` to `target` would send, mount and skip.
pub async fn predict_push(
    target: &RegistryTarget,
    reference: &ImageRef,
    image: &PushImage,
) -> Result<PushPrediction, RegistryError> {
    let remote = target.reference(reference)?;
    let client = target.client()?;
    client.ping().await?;
    let manifest = image.manifest();
    let manifest_digest = sha256_digest(&manifest.to_bytes());
    let up_to_date = client
        .manifest_exists(&remote.repository, &remote.tag)
        .await?
        .as_deref()
        == Some(manifest_digest.as_str());
    let mut blobs: Vec<(usize, Descriptor, bool)> = image
        .layers
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, d)| (i, d, false))
        .collect();
    blobs.push((image.layers.len(), manifest.config.clone(), true));
    // A layer listed twice is sent once (as the push does).
    let mut seen = std::collections::HashSet::new();
    blobs.retain(|(_, d, _)| seen.insert(d.digest.clone()));
    if up_to_date {
        return Ok(PushPrediction {
            remote: remote.to_string(),
            up_to_date,
            blobs: blobs
                .into_iter()
                .map(|(index, d, config)| PredictedBlob {
                    index,
                    digest: d.digest,
                    size: d.size,
                    config,
                    fate: BlobFate::Skip,
                    from: None,
                })
                .collect(),
        });
    }
    let known =
        super::locations::BlobLocations::load(&super::locations::BlobLocations::default_path())
            .for_host(&target.host);
    let siblings = super::mount_candidates(&client, &remote.repository, 3).await;
    let repository = remote.repository.clone();
    let predicted: Vec<PredictedBlob> = stream::iter(blobs)
        .map(|(index, d, config)| {
            let (client, repository, known, siblings) = (&client, &repository, &known, &siblings);
            async move {
                let (fate, from) = fate(client, repository, &d.digest, known, siblings).await?;
                Ok::<_, RegistryError>(PredictedBlob {
                    index,
                    digest: d.digest,
                    size: d.size,
                    config,
                    fate,
                    from,
                })
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    Ok(PushPrediction {
        remote: remote.to_string(),
        up_to_date,
        blobs: predicted,
    })
}

async fn fate(
    client: &Client,
    repository: &str,
    digest: &str,
    known: &std::collections::HashMap<String, Vec<String>>,
    siblings: &[String],
) -> Result<(BlobFate, Option<String>), RegistryError> {
    if client.blob_exists(repository, digest).await?.is_some() {
        return Ok((BlobFate::Skip, None));
    }
    // The push tries the known locations instead of the siblings when it has any elsewhere.
    let sources = known
        .get(digest)
        .filter(|l| l.iter().any(|r| r != repository))
        .map(Vec::as_slice)
        .unwrap_or(siblings);
    for from in sources.iter().filter(|f| f.as_str() != repository) {
        match client.blob_exists(from, digest).await {
            Ok(Some(_)) => return Ok((BlobFate::Mount, Some(from.clone()))),
            Ok(None) | Err(RegistryError::Denied { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((BlobFate::Upload, None))
}
