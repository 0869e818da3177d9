//! Pushing an image: HEAD every blob (in parallel, bounded), mount what a sibling repository
//! has, stream up the rest, then PUT the manifest **last**, so an interrupted push leaves no tag
//! and a re-run only sends what is still missing.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::client::{ByteStream, Client, DigestMismatchError, Mount, OCI_MANIFEST};
use super::RegistryError;
use crate::build::BuildEvent;

/// Media types of the blobs an image is made of.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A content-addressed blob: what a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    /// The descriptor of bytes held in memory (configs, manifests).
    pub fn of_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The OCI image manifest (schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl ImageManifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST.to_string(),
            config,
            layers,
        }
    }

    /// The canonical bytes (serde's field order, no whitespace): same image, same digest.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("manifest serializes"))
    }
}

/// What to push: the config (small, in memory) and the layers (opened on demand).
#[derive(Debug, Clone)]
pub struct PushImage {
    pub config: Bytes,
    pub layers: Vec<Descriptor>,
}

impl PushImage {
    pub fn config_descriptor(&self) -> Descriptor {
        Descriptor::of_bytes(OCI_CONFIG, &self.config)
    }

    pub fn manifest(&self) -> ImageManifest {
        ImageManifest::new(self.config_descriptor(), self.layers.clone())
    }
}

/// Opens a layer's bytes to send them; called only for layers the registry lacks.
pub type OpenLayer<'a> = dyn Fn(&Descriptor) -> Pin<Box<dyn Future<Output = std::io::Result<ByteStream>> + Send>>
    + Send
    + Sync
    + 'a;

/// Tuning of a push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Repositories (same registry) to try mounting missing blobs from, in order, for blobs with
    /// no entry in `known_locations`.
    pub mount_from: Vec<String>,
    /// Repositories known to hold a blob (by digest), tried first and instead of `mount_from`.
    pub known_locations: std::collections::HashMap<String, Vec<String>>,
    /// Blob HEADs at once.
    pub heads: usize,
    /// Uploads at once.
    pub uploads: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            mount_from: Vec::new(),
            known_locations: Default::default(),
            heads: 8,
            uploads: 3,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    /// The tag existed with this very manifest: nothing was sent.
    pub already_present: bool,
    pub layers_total: usize,
    /// Layers (and the config) uploaded, and their bytes.
    pub blobs_sent: usize,
    pub bytes_sent: u64,
    /// Blobs the repository already had.
    pub blobs_reused: usize,
    pub bytes_reused: u64,
    /// Blobs linked from another repository without sending them.
    pub blobs_mounted: usize,
    pub bytes_mounted: u64,
    pub manifest_digest: String,
}

enum Outcome {
    Present,
    Mounted,
    Sent,
}

/// Pushes `image` to `repository:tag` on the client's registry.
///
/// Order: ping (settles auth) → HEAD the tag (identical manifest: done) → HEAD every blob in
/// parallel → for each missing one, mount from `options.mount_from` or stream it up (each layer
/// verified against its digest while it streams) → PUT the manifest last. Emits
/// [`BuildEvent::Stage`] `push` and one [`BuildEvent::Layer`] per layer.
pub async fn push_image(
    client: &Client,
    repository: &str,
    tag: &str,
    image: &PushImage,
    open_layer: &OpenLayer<'_>,
    options: &PushOptions,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<PushSummary, RegistryError> {
    super::reference::validate_repository(repository).map_err(|reason| {
        RegistryError::BadReference {
            reference: format!("{}/{repository}:{tag}", client.host()),
            reason,
        }
    })?;
    super::reference::validate_tag(tag).map_err(|reason| RegistryError::BadReference {
        reference: format!("{}/{repository}:{tag}", client.host()),
        reason,
    })?;
    events(BuildEvent::Stage {
        name: "push".into(),
    });
    client.ping().await?;

    let manifest = image.manifest();
    let manifest_bytes = manifest.to_bytes();
    let manifest_digest = sha256_digest(&manifest_bytes);
    let mut summary = PushSummary {
        layers_total: image.layers.len(),
        manifest_digest: manifest_digest.clone(),
        ..Default::default()
    };

    if client.manifest_exists(repository, tag).await?.as_deref() == Some(&manifest_digest) {
        summary.already_present = true;
        summary.blobs_reused = image.layers.len() + 1;
        summary.bytes_reused =
            image.layers.iter().map(|l| l.size).sum::<u64>() + image.config.len() as u64;
        for (index, layer) in image.layers.iter().enumerate() {
            events(layer_event(index, image.layers.len(), layer, true));
        }
        return Ok(summary);
    }

    // Every blob: the layers (index 0..n) then the config (index n).
    let config_desc = manifest.config.clone();
    let mut blobs: Vec<Descriptor> = image.layers.clone();
    blobs.push(config_desc.clone());
    // A layer listed twice is sent once.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<(usize, Descriptor)> = blobs
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, d)| seen.insert(d.digest.clone()))
        .collect();

    let present: Vec<(usize, Descriptor, bool)> = stream::iter(unique)
        .map(|(i, d)| async move {
            let have = client.blob_exists(repository, &d.digest).await?;
            Ok::<_, RegistryError>((i, d, have.is_some()))
        })
        .buffer_unordered(options.heads.max(1))
        .try_collect()
        .await?;

    let total = image.layers.len();
    let results: Vec<(usize, Descriptor, Outcome)> = stream::iter(present)
        .map(|(i, d, have)| {
            let config = image.config.clone();
            let is_config = i == total;
            async move {
                let outcome = if have {
                    Outcome::Present
                } else {
                    send_blob(
                        client, repository, &d, is_config, config, open_layer, options,
                    )
                    .await?
                };
                if !is_config {
                    let reused = !matches!(outcome, Outcome::Sent);
                    events(layer_event(i, total, &d, reused));
                }
                Ok::<_, RegistryError>((i, d, outcome))
            }
        })
        .buffer_unordered(options.uploads.max(1))
        .try_collect()
        .await?;

    for (_, d, outcome) in &results {
        match outcome {
            Outcome::Present => {
                summary.blobs_reused += 1;
                summary.bytes_reused += d.size;
            }
            Outcome::Mounted => {
                summary.blobs_mounted += 1;
                summary.bytes_mounted += d.size;
            }
            Outcome::Sent => {
                summary.blobs_sent += 1;
                summary.bytes_sent += d.size;
            }
        }
    }

    // Last: only now does the tag point at a complete image.
    client
        .put_manifest(repository, tag, OCI_MANIFEST, manifest_bytes)
        .await?;
    Ok(summary)
}

fn layer_event(index: usize, total: usize, d: &Descriptor, reused: bool) -> BuildEvent {
    BuildEvent::Layer {
        index,
        total,
        digest: d.digest.clone(),
        size: d.size,
        reused,
    }
}

async fn send_blob(
    client: &Client,
    repository: &str,
    d: &Descriptor,
    is_config: bool,
    config: Bytes,
    open_layer: &OpenLayer<'_>,
    options: &PushOptions,
) -> Result<Outcome, RegistryError> {
    let mut session = None;
    let sources = options
        .known_locations
        .get(&d.digest)
        .filter(|l| l.iter().any(|r| r != repository))
        .unwrap_or(&options.mount_from);
    for from in sources.iter().filter(|f| f.as_str() != repository) {
        match client.mount_blob(repository, &d.digest, from).await {
            Ok(Mount::Mounted) => return Ok(Outcome::Mounted),
            // Not there: the registry opened an upload session instead. Keep the newest for
            // the upload (no extra POST) and try the next source.
            Ok(Mount::Upload(url)) => {
                if let Some(old) = session.replace(url) {
                    client.cancel_upload(repository, old).await;
                }
            }
            // A source we may not read is no reason to fail the push.
            Err(RegistryError::Denied { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    let session = match session {
        Some(s) => s,
        None => client.start_upload(repository).await?,
    };
    let body: ByteStream = if is_config {
        Box::pin(stream::once(async move { Ok(config) }))
    } else {
        open_layer(d).await.map_err(|e| RegistryError::Source {
            digest: d.digest.clone(),
            reason: e.to_string(),
        })?
    };
    let body = verify_digest(body, d.digest.clone(), d.size);
    client
        .finish_upload(repository, session, &d.digest, d.size, body)
        .await?;
    Ok(Outcome::Sent)
}

/// Hashes the bytes as they pass; a wrong digest or size ends the stream with an error, so the
/// registry never commits the blob.
pub fn verify_digest(body: ByteStream, digest: String, size: u64) -> ByteStream {
    let state = (body, Some(Sha256::new()), 0u64, digest, size);
    Box::pin(stream::unfold(
        state,
        |(mut body, hasher, seen, digest, size)| async move {
            let mut hasher = hasher?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    let seen = seen + chunk.len() as u64;
                    if seen > size {
                        let err = std::io::Error::other(format!(
                            "the layer is longer than its recorded size {size}"
                        ));
                        return Some((Err(err), (body, None, seen, digest, size)));
                    }
                    Some((Ok(chunk), (body, Some(hasher), seen, digest, size)))
                }
                Some(Err(e)) => Some((Err(e), (body, None, seen, digest, size))),
                None => {
                    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
                    if actual != digest || seen != size {
                        let err = std::io::Error::other(DigestMismatchError(actual));
                        Some((Err(err), (body, None, seen, digest, size)))
                    } else {
                        None
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<std::io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(stream::iter(v))
    }

    #[tokio::test]
    async fn verify_passes_matching_bytes() {
        let d = sha256_digest(b"hello world");
        let out: Vec<_> = verify_digest(chunks(&[b"hello ", b"world"]), d, 11)
            .collect()
            .await;
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn verify_fails_on_other_bytes() {
        let d = sha256_digest(b"hello world");
        let out: Vec<_> = verify_digest(chunks(&[b"hello ", b"there"]), d, 11)
            .collect()
            .await;
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.to_string().contains("hash to sha256:"), "{last}");
    }

    #[test]
    fn manifest_is_canonical() {
        let img = PushImage {
            config: Bytes::from_static(b"{}"),
            layers: vec![Descriptor {
                media_type: OCI_LAYER_TAR.into(),
                digest: "sha256:00".into(),
                size: 1,
            }],
        };
        let text = String::from_utf8(img.manifest().to_bytes().to_vec()).unwrap();
        assert_eq!(
            text,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:00","size":1}]}"#
        );
    }
}
