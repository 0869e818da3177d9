//! Build-and-deliver into an image store rather than into Docker: what the image server
//! (`biar-tui serve`) calls. The same Nix build, layer plan and layer cache as [`super::build_image`];
//! the blobs go into a content-addressed folder ([`BlobDir`]) or, as a shared backing store, a
//! registry (pushed once; the manifest is also kept in the folder, so it is served from there).

use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::{ImageRef, Project};
use crate::image::{BlobDir, BuilderStore, ImageInput, LayerCache, NarSource};
use crate::nixbuild::{BuildError, BuildOptions};
use crate::progress::{self, BuildEvent, Stage};
use crate::registry::{ByteStream, Descriptor, RegistryError, RegistryRef, RegistryTarget};

/// Where [`build_into_store`] puts an image.
#[derive(Debug, Clone)]
pub enum ImageStore {
    /// Every blob in this folder.
    Dir(BlobDir),
    /// Layers, config and manifest pushed to a registry; manifests (and configs) also kept in the
    /// folder.
    Registry {
        target: RegistryTarget,
        manifests: BlobDir,
    },
}

impl ImageStore {
    /// The folder manifests (and, without a registry, every blob) are in.
    pub fn dir(&self) -> &BlobDir {
        match self {
            ImageStore::Dir(d) => d,
            ImageStore::Registry { manifests, .. } => manifests,
        }
    }
}

/// An image in the store.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The project's `name:tag`.
    pub reference: ImageRef,
    /// Digest, size and media type of the manifest, kept in [`ImageStore::dir`].
    pub manifest: Descriptor,
    /// Where the blobs are, with a registry store.
    pub remote: Option<RegistryRef>,
    /// The image was in the store already (another server built it): nothing was built.
    pub up_to_date: bool,
}

/// Builds `project`'s image into `store`: unless the backing registry already has `name:tag`,
/// the Nix build in the builder, the layer plan with the layer cache's digests, then each blob
/// the store lacks written (streamed from the builder's store, digest checked) and the manifest
/// last. Progress on `events` as for a push (the `push` stage counts blobs written or reused),
/// then `Done`. `cancel` stops any step; a manifest is stored only after all its blobs.
pub async fn build_into_store(
    project: &Project,
    store: &ImageStore,
    build: &BuildOptions,
    events: progress::Sender,
    cancel: CancellationToken,
) -> Result<StoredImage, crate::Error> {
    let reference = project.image_ref()?;
    if let ImageStore::Registry { target, manifests } = store {
        if let Some(found) = from_registry(target, manifests, &reference).await? {
            events.send(BuildEvent::Done {
                reference: found
                    .remote
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            });
            return Ok(found);
        }
    }
    let engine = crate::docker::connect().await?;
    let built =
        crate::nixbuild::run(&engine, project, build, events.clone(), cancel.clone()).await?;
    let result = async {
        let input = ImageInput {
            reference: reference.clone(),
            env_path: &built.env_path,
            closure: &built.closure,
            settings: &project.config.image,
            strategy: Default::default(),
            previous: None,
            labels: super::labels(project, &reference, &built.packages),
        };
        let source: Arc<dyn NarSource> = Arc::new(BuilderStore {
            engine: built.container.engine().clone(),
            container: built.container.id().to_string(),
        });
        let cache = LayerCache::open_default();
        let emit = |e: BuildEvent| events.send(e);
        let (image, remote) = match store {
            ImageStore::Dir(dir) => {
                let write = into_dir(dir, &input, &source, &cache, &events);
                let image = tokio::select! {
                    _ = cancel.cancelled() => return Err(BuildError::Cancelled.into()),
                    r = write => r?,
                };
                (image, None)
            }
            ImageStore::Registry { target, .. } => {
                let assemble = crate::image::assemble(&input, source.as_ref(), &cache, &emit);
                let image = tokio::select! {
                    _ = cancel.cancelled() => return Err(BuildError::Cancelled.into()),
                    r = assemble => r?,
                };
                let open = |d: &Descriptor| {
                    let stream: std::io::Result<ByteStream> = match image.layer(&d.digest) {
                        Some(layer) => Ok(Box::pin(image.open_layer(layer, source.clone()))),
                        None => Err(std::io::Error::other(format!(
                            "{} is not a layer of this image",
                            d.digest
                        ))),
                    };
                    Box::pin(async move { stream }) as _
                };
                let push_image = image.push_image();
                let push =
                    crate::registry::push_to_target(target, &reference, &push_image, &open, &emit);
                let (remote, _) = tokio::select! {
                    _ = cancel.cancelled() => return Err(BuildError::PushCancelled.into()),
                    r = push => r?,
                };
                (image, Some(remote))
            }
        };
        let manifest = Descriptor::of_bytes(crate::oci::OCI_MANIFEST, &image.manifest);
        // Config and manifest last: a stored manifest means every blob it names is there.
        let dir = store.dir();
        dir.write_bytes(image.config.clone())
            .await
            .map_err(|e| store_error(dir, e))?;
        dir.write_bytes(image.manifest.clone())
            .await
            .map_err(|e| store_error(dir, e))?;
        Ok::<_, crate::Error>(StoredImage {
            reference: reference.clone(),
            manifest,
            remote,
            up_to_date: false,
        })
    }
    .await;
    built.container.remove().await;
    let stored = result?;
    events.flushed().await;
    events.send(BuildEvent::Done {
        reference: match &stored.remote {
            Some(r) => r.to_string(),
            None => format!("{}@{}", reference.name, stored.manifest.digest),
        },
    });
    Ok(stored)
}

/// The layers of `input` written into `dir`, each read once: a layer the cache knows is written
/// only if `dir` lacks it; a new one is written while its digest is learnt (then recorded in the
/// cache), where a push must measure every digest before sending.
async fn into_dir(
    dir: &BlobDir,
    input: &ImageInput<'_>,
    source: &Arc<dyn NarSource>,
    cache: &LayerCache,
    events: &progress::Sender,
) -> Result<crate::image::ImageDescriptor, crate::Error> {
    use crate::image::{LayerDescriptor, LayerSlot, Sizes};
    use tokio::io::AsyncWriteExt;
    let emit = |e: BuildEvent| events.send(e);
    let layout = crate::image::describe(input, source.as_ref(), cache, Sizes::List, &emit).await?;
    events.send(BuildEvent::Stage { name: Stage::Push });
    let total = layout.layers.len();
    let mut layers = Vec::with_capacity(total);
    for (index, slot) in layout.layers.iter().enumerate() {
        let (layer, reused) = match slot {
            LayerSlot::Known(layer) => {
                let reused = dir.has(&layer.digest);
                if !reused {
                    let body: ByteStream = Box::pin(crate::image::open_layer(
                        layer.clone(),
                        layout.root_layer.clone(),
                        source.clone(),
                    ));
                    dir.write_stream(&layer.digest, layer.size, body)
                        .await
                        .map_err(|e| store_error(dir, e))?;
                }
                (layer.clone(), reused)
            }
            LayerSlot::Predicted { store_paths, .. } => {
                let io = |e| store_error(dir, e);
                let (partial, file) = dir.partial().await.map_err(io)?;
                let mut out = tokio::io::BufWriter::with_capacity(256 << 10, file);
                let written =
                    crate::image::layer::write_store_layer(store_paths, source.as_ref(), &mut out)
                        .await?;
                out.flush().await.map_err(io)?;
                out.into_inner().sync_all().await.map_err(io)?;
                dir.commit(partial, &written.digest).await.map_err(io)?;
                let layer = LayerDescriptor {
                    digest: written.digest.clone(),
                    diff_id: written.digest,
                    size: written.size,
                    media_type: crate::oci::OCI_LAYER_TAR.to_string(),
                    store_paths: store_paths.clone(),
                };
                // A cache that cannot be written costs a later measure, not this image.
                let _ = cache.put(&layer);
                (layer, false)
            }
        };
        emit(BuildEvent::Layer {
            index,
            total,
            digest: layer.digest.clone(),
            size: layer.size,
            reused,
        });
        layers.push(layer);
    }
    Ok(layout.finish(layers))
}

/// The image `reference` when the backing registry has it (built by another server): its
/// manifest and config are copied into `manifests`.
async fn from_registry(
    target: &RegistryTarget,
    manifests: &BlobDir,
    reference: &ImageRef,
) -> Result<Option<StoredImage>, crate::Error> {
    let remote = target.reference(reference)?;
    let client = target.client()?;
    client.ping().await?;
    let fetched = match client.get_manifest(&remote.repository, &remote.tag).await {
        Ok(f) => f,
        Err(RegistryError::ManifestUnknown { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Blobs (the config too) are answered with a redirect to the registry: only the manifest
    // is kept here, once it is known to be one.
    serde_json::from_slice::<crate::oci::ImageManifest>(&fetched.bytes).map_err(|e| {
        crate::image::ImageError::Other(format!("{remote}: not an image manifest: {e}"))
    })?;
    let media_type = if fetched.media_type.is_empty() {
        crate::oci::OCI_MANIFEST.to_string()
    } else {
        fetched.media_type.clone()
    };
    let descriptor = Descriptor::of_bytes(&media_type, &fetched.bytes);
    manifests
        .write_bytes(Bytes::clone(&fetched.bytes))
        .await
        .map_err(|e| store_error(manifests, e))?;
    Ok(Some(StoredImage {
        reference: reference.clone(),
        manifest: descriptor,
        remote: Some(remote),
        up_to_date: true,
    }))
}

fn store_error(dir: &BlobDir, e: std::io::Error) -> crate::Error {
    BuildError::Other(format!("writing into {}: {e}", dir.root().display())).into()
}
