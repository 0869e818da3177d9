//! Pushing an image: HEAD every blob (in parallel, bounded), mount what a sibling repository
//! has, stream up the rest, then PUT the manifest **last**, so an interrupted push leaves no tag
//! and a re-run only sends what is still missing.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::client::{Client, Mount};
use super::RegistryError;
use crate::oci::{sha256_digest, verify_digest, ByteStream, Descriptor, PushImage, OCI_MANIFEST};
use crate::progress::{BuildEvent, Stage};

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
    validate_target(client, repository, tag)?;
    events(BuildEvent::Stage { name: Stage::Push });
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
        summary.count_all_present(image, events);
        return Ok(summary);
    }

    let unique = unique_blobs(image, &manifest.config);
    let present = head_blobs(client, repository, unique, options).await?;
    let results = transfer_missing(
        client, repository, image, present, open_layer, options, events,
    )
    .await?;
    for (_, d, outcome) in &results {
        summary.count(d, outcome);
    }

    // Last: only now does the tag point at a complete image.
    client
        .put_manifest(repository, tag, OCI_MANIFEST, manifest_bytes)
        .await?;
    Ok(summary)
}

/// Refuses a repository or tag the registry would not take, before anything is sent.
fn validate_target(client: &Client, repository: &str, tag: &str) -> Result<(), RegistryError> {
    super::reference::validate_repository(repository).map_err(|reason| {
        RegistryError::BadReference {
            reference: format!("{}/{repository}:{tag}", client.host()),
            reason,
        }
    })?;
    super::reference::validate_tag(tag).map_err(|reason| RegistryError::BadReference {
        reference: format!("{}/{repository}:{tag}", client.host()),
        reason,
    })
}

impl PushSummary {
    /// The tag already points at this very manifest: every blob counts as reused, and every
    /// layer is reported so.
    fn count_all_present(
        &mut self,
        image: &PushImage,
        events: &(dyn Fn(BuildEvent) + Send + Sync),
    ) {
        self.already_present = true;
        self.blobs_reused = image.layers.len() + 1;
        self.bytes_reused =
            image.layers.iter().map(|l| l.size).sum::<u64>() + image.config.len() as u64;
        for (index, layer) in image.layers.iter().enumerate() {
            events(layer_event(index, image.layers.len(), layer, true));
        }
    }

    /// Adds one blob's outcome to the totals.
    fn count(&mut self, d: &Descriptor, outcome: &Outcome) {
        match outcome {
            Outcome::Present => {
                self.blobs_reused += 1;
                self.bytes_reused += d.size;
            }
            Outcome::Mounted => {
                self.blobs_mounted += 1;
                self.bytes_mounted += d.size;
            }
            Outcome::Sent => {
                self.blobs_sent += 1;
                self.bytes_sent += d.size;
            }
        }
    }
}

/// Every blob with its index, the layers (index 0..n) then the config (index n); a layer listed
/// twice is kept once (its first index).
fn unique_blobs(image: &PushImage, config: &Descriptor) -> Vec<(usize, Descriptor)> {
    let mut blobs: Vec<Descriptor> = image.layers.clone();
    blobs.push(config.clone());
    let mut seen = std::collections::HashSet::new();
    blobs
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, d)| seen.insert(d.digest.clone()))
        .collect()
}

/// HEADs every blob (`options.heads` at once): whether the repository has it already.
async fn head_blobs(
    client: &Client,
    repository: &str,
    blobs: Vec<(usize, Descriptor)>,
    options: &PushOptions,
) -> Result<Vec<(usize, Descriptor, bool)>, RegistryError> {
    stream::iter(blobs)
        .map(|(i, d)| async move {
            let have = client.blob_exists(repository, &d.digest).await?;
            Ok::<_, RegistryError>((i, d, have.is_some()))
        })
        .buffer_unordered(options.heads.max(1))
        .try_collect()
        .await
}

/// Mounts or sends each blob the repository lacks (`options.uploads` at once), reporting every
/// layer as it is settled.
async fn transfer_missing(
    client: &Client,
    repository: &str,
    image: &PushImage,
    present: Vec<(usize, Descriptor, bool)>,
    open_layer: &OpenLayer<'_>,
    options: &PushOptions,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Vec<(usize, Descriptor, Outcome)>, RegistryError> {
    let total = image.layers.len();
    stream::iter(present)
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
        .await
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
