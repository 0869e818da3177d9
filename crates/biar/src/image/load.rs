//! Loading an image into the Docker Engine with `POST /images/load` (a streamed docker-archive).
//!
//! The Engine extracts the whole upload before it reads `manifest.json`, then registers each
//! layer unless it already has that layer *with the same layers below it* (its chain ID); it only
//! opens the file of a layer it lacks. So the archive leaves out the layers of the longest prefix
//! the Engine already has (found through the `biar.image` label of the images biar-tui loaded
//! before): a rebuild sends the changed layers and those above them, nothing else. Layer files
//! (named by position) come first, then the config and `manifest.json`, so nothing is buffered.
//!
//! A layer file's tar header needs its size before its bytes, not its digest: a layer whose size
//! was predicted from a listing streams with its digest computed on the way, and the config (which
//! lists the digests) is made after the last layer. A layer that turns out longer or shorter than
//! announced stops the upload with an error before `manifest.json`, which is what makes Docker
//! tag anything: a wrong prediction never leaves a corrupt image.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::assemble::{
    describe, size_mismatch, ImageDescriptor, ImageInput, ImageLayout, LayerSlot, Sizes,
};
use super::cache::{LayerCache, LayerDescriptor};
use super::in_engine::{engine_history, engine_images, layers_in_engine, reusable_prefix};
use super::layer::{expect_end, write_layer_from, NarSource, NarStream};
use super::tar::{self, Kind};
use super::ImageError;
use crate::docker::Engine;
use crate::oci::{sha256_digest, OCI_LAYER_TAR};
use crate::progress::{BuildEvent, Stage};

/// What a load sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadSummary {
    /// `name:tag` was already in Docker: nothing was sent.
    pub already_present: bool,
    pub layers_total: usize,
    pub layers_sent: usize,
    pub bytes_sent: u64,
    pub layers_reused: usize,
    pub bytes_reused: u64,
}

/// Whether the Engine has an image `reference` (`name:tag`), with the error of this module.
pub(crate) async fn image_exists(engine: &Engine, reference: &str) -> Result<bool, ImageError> {
    engine
        .image_exists(reference)
        .await
        .map_err(ImageError::docker(format!("inspecting {reference}")))
}

/// Loads `image` into Docker as `name:tag`, streaming the layers the Engine lacks out of
/// `source`, each verified against its digest as it streams. Does nothing when `name:tag` exists.
/// Emits `Stage { load }` and a `Layer` event per layer (`reused`: the Engine had it), a sent one
/// once it has streamed.
pub async fn load_into_docker(
    engine: &Engine,
    image: &ImageDescriptor,
    source: &dyn NarSource,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<LoadSummary, ImageError> {
    if image_exists(engine, &image.reference.reference()).await? {
        return Ok(present(image.layers.len()));
    }
    events(BuildEvent::Stage { name: Stage::Load });
    let have = layers_in_engine(engine, &image.diff_ids()).await?;
    let slots: Vec<LayerSlot> = image.layers.iter().cloned().map(LayerSlot::Known).collect();
    let archive = Archive {
        reference: image.reference.reference(),
        root_layer: image.root_layer.clone(),
    };
    let finish = |_: Vec<LayerDescriptor>| image.clone();
    let (_, summary) = send(engine, &archive, &slots, have, source, events, finish).await?;
    Ok(summary)
}

/// What [`load`] did: the whole image, what was sent, and how long describing it took.
#[derive(Debug)]
pub struct Loaded {
    pub image: ImageDescriptor,
    pub summary: LoadSummary,
    /// Time spent describing the layers (before any was sent).
    pub described: std::time::Duration,
}

/// Describes `input` (new layers' sizes predicted from a listing, see [`describe`]) and loads it
/// with [`load_layout`]. A predicted size that was wrong tags nothing: every new layer is then
/// measured (the two-pass way) and the image loaded again, so a build is never stuck on a
/// listing. Events as [`describe`] and [`load_layout`].
pub async fn load(
    engine: &Engine,
    input: &ImageInput<'_>,
    source: &dyn NarSource,
    cache: &LayerCache,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Loaded, ImageError> {
    let started = std::time::Instant::now();
    let layout = describe(input, source, cache, Sizes::List, events).await?;
    let described = started.elapsed();
    let (image, summary) = match load_layout(engine, layout, source, cache, events).await {
        Err(e @ ImageError::SizeMismatch { .. }) => {
            tracing::warn!("loading again with measured layers: {e}");
            let layout = describe(input, source, cache, Sizes::Measure, events).await?;
            load_layout(engine, layout, source, cache, events).await?
        }
        other => other?,
    };
    Ok(Loaded {
        image,
        summary,
        described,
    })
}

/// Loads `layout` into Docker as `name:tag` reading each layer the Engine lacks once: a layer
/// whose size was predicted learns its digest as it streams, and is recorded in `cache`
/// afterwards (so later builds and pushes know it). Returns the whole image and what was sent.
/// When `name:tag` exists nothing is sent (the unknown layers are measured, to describe it).
/// Layers the Engine has are left out as with [`load_into_docker`] (see
/// [`super::in_engine`] for when that needs a layer measured). Events as [`load_into_docker`].
pub async fn load_layout(
    engine: &Engine,
    mut layout: ImageLayout,
    source: &dyn NarSource,
    cache: &LayerCache,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<(ImageDescriptor, LoadSummary), ImageError> {
    let total = layout.layers.len();
    if image_exists(engine, &layout.reference.reference()).await? {
        let image = layout.measure(source, cache, &|_| {}).await?;
        return Ok((image, present(total)));
    }
    events(BuildEvent::Stage { name: Stage::Load });
    let mut images = engine_images(engine).await?;
    let history = engine_history(engine);
    let have = reusable_prefix(&mut images, &history, &mut layout, source, cache).await?;
    let slots = layout.layers.clone();
    let archive = Archive {
        reference: layout.reference.reference(),
        root_layer: layout.root_layer.clone(),
    };
    let finish = move |layers: Vec<LayerDescriptor>| layout.finish(layers);
    let (image, summary) = send(engine, &archive, &slots, have, source, events, finish).await?;
    // The image is in Docker now: a cache that cannot be written costs a later measuring pass,
    // not this load.
    for (slot, layer) in slots.iter().zip(&image.layers) {
        if slot.known().is_none() {
            if let Err(e) = cache.put(layer) {
                tracing::warn!("layer cache not updated: {e}");
            }
        }
    }
    Ok((image, summary))
}

/// Whether a load failed because the Engine lacked a layer the archive left out (the file of a
/// left-out layer is missing from the upload it unpacked).
fn missing_layer_file(e: &ImageError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("no such file") || text.contains("does not exist") || text.contains("not found")
}

fn present(total: usize) -> LoadSummary {
    LoadSummary {
        already_present: true,
        layers_total: total,
        ..Default::default()
    }
}

/// What the archive needs besides the layers: the tag and the root layer's bytes.
struct Archive {
    reference: String,
    root_layer: Bytes,
}

/// `POST /images/load` of `slots` from `have` up (the Engine has those below); `finish` makes the
/// image (config and manifest) from every layer's descriptor once the last one has streamed.
async fn send<F>(
    engine: &Engine,
    archive: &Archive,
    slots: &[LayerSlot],
    have: usize,
    source: &dyn NarSource,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
    finish: F,
) -> Result<(ImageDescriptor, LoadSummary), ImageError>
where
    F: FnOnce(Vec<LayerDescriptor>) -> ImageDescriptor + Send,
{
    let reference = &archive.reference;
    let mut summary = summarize(slots, have, events);
    let (produced, consumed) = upload(engine, archive, slots, have, source, events, finish).await;
    // The producer's error explains a consumer failure (a truncated upload), not the reverse.
    let image = produced?;
    if let Err(e) = consumed {
        // A layer left out may have gone since it was found (an image removed meanwhile, whose
        // layers no other image held): the Engine then misses its file. Only that is worth
        // sending everything again, once; any other error (disk full, daemon gone) is final.
        if have == 0 || !missing_layer_file(&e) {
            return Err(e);
        }
        tracing::warn!("loading {reference} again with every layer: {e}");
        // A new stage: progress counters start over instead of adding the second pass.
        events(BuildEvent::Stage { name: Stage::Load });
        let slots: Vec<LayerSlot> = image.layers.iter().cloned().map(LayerSlot::Known).collect();
        summary = summarize(&slots, 0, &|_| {});
        let finish = |_: Vec<LayerDescriptor>| image.clone();
        let (produced, consumed) = upload(engine, archive, &slots, 0, source, events, finish).await;
        let again = |second: ImageError| ImageError::Docker {
            doing: format!("loading {reference} (sent again whole after: {e})"),
            reason: second.to_string(),
        };
        produced.map_err(again)?;
        consumed.map_err(again)?;
    }
    if !image_exists(engine, reference).await? {
        return Err(ImageError::Docker {
            doing: format!("loading {reference}"),
            reason: "the Engine accepted the archive but has no such image afterwards".to_string(),
        });
    }
    Ok((image, summary))
}

/// What a load of `slots` from `have` up sends; emits a `Layer` event per layer the Engine has.
fn summarize(
    slots: &[LayerSlot],
    have: usize,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> LoadSummary {
    let total = slots.len();
    let mut summary = LoadSummary {
        layers_total: total,
        ..Default::default()
    };
    for (i, l) in slots.iter().enumerate() {
        if i < have {
            summary.layers_reused += 1;
            summary.bytes_reused += l.size();
            let l = l.known().expect("the Engine's layers are known");
            events(BuildEvent::Layer {
                index: i,
                total,
                digest: l.digest.clone(),
                size: l.size,
                reused: true,
            });
        } else {
            summary.layers_sent += 1;
            summary.bytes_sent += l.size();
        }
    }
    summary
}

/// One `POST /images/load`: what the archive's producer and the Engine each said.
async fn upload<F>(
    engine: &Engine,
    archive: &Archive,
    slots: &[LayerSlot],
    have: usize,
    source: &dyn NarSource,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
    finish: F,
) -> (Result<ImageDescriptor, ImageError>, Result<(), ImageError>)
where
    F: FnOnce(Vec<LayerDescriptor>) -> ImageDescriptor + Send,
{
    let reference = &archive.reference;
    let (reader, writer) = tokio::io::duplex(1024 * 1024);
    // A failed producer ends the body with an error, so the Engine sees a broken upload rather
    // than a short archive.
    let failed = Arc::new(AtomicBool::new(false));
    let body = {
        let failed = failed.clone();
        async_stream::stream! {
            let mut chunks = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
            while let Some(chunk) = chunks.next().await {
                yield chunk;
            }
            if failed.load(Ordering::SeqCst) {
                yield Err(std::io::Error::other("the image stream was stopped"));
            }
        }
    };
    let consumer = async {
        engine
            .load_archive(body)
            .await
            .map_err(ImageError::docker(format!("loading {reference}")))
    };
    let producer = async {
        let mut writer = writer;
        let written =
            write_archive(archive, slots, have, source, &mut writer, events, finish).await;
        if written.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        drop(writer);
        written
    };
    tokio::join!(producer, consumer)
}

/// A layer's file in the archive, by position: its digest may not be known when it starts.
fn layer_file(index: usize) -> String {
    format!("layer-{index}.tar")
}

/// The docker-archive: layer files from `skip` up, then the config and `manifest.json`.
async fn write_archive<W, F>(
    archive: &Archive,
    slots: &[LayerSlot],
    skip: usize,
    source: &dyn NarSource,
    out: &mut W,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
    finish: F,
) -> Result<ImageDescriptor, ImageError>
where
    W: AsyncWrite + Unpin,
    F: FnOnce(Vec<LayerDescriptor>) -> ImageDescriptor,
{
    let werr = || ImageError::io("streaming the image to Docker");
    let total = slots.len();
    let store_paths: Vec<String> = slots[skip..]
        .iter()
        .flat_map(|l| l.store_paths().iter().cloned())
        .collect();
    let mut nar = if store_paths.is_empty() {
        None
    } else {
        Some(source.open(&store_paths)?)
    };
    let mut layers: Vec<LayerDescriptor> = slots[..skip]
        .iter()
        .map(|l| l.known().expect("the Engine's layers are known").clone())
        .collect();
    let mut head = Vec::with_capacity(1024);
    for (i, slot) in slots.iter().enumerate().skip(skip) {
        let size = slot.size();
        head.clear();
        tar::header(
            &mut head,
            layer_file(i).as_bytes(),
            Kind::File { size },
            0o644,
        );
        out.write_all(&head).await.map_err(werr())?;
        let digest = write_layer_body(archive, slot, nar.as_mut(), out).await?;
        let layer = settled_layer(slot, digest)?;
        out.write_all(&[0u8; tar::BLOCK][..tar::padding(size)])
            .await
            .map_err(werr())?;
        events(BuildEvent::Layer {
            index: i,
            total,
            digest: layer.digest.clone(),
            size,
            reused: false,
        });
        layers.push(layer);
    }
    if let Some(nar) = nar.as_mut() {
        expect_end(nar, &store_paths).await?;
    }
    let image = finish(layers);
    head.clear();
    config_and_manifest(&mut head, archive, &image, total);
    out.write_all(&head).await.map_err(werr())?;
    out.shutdown().await.map_err(werr())?;
    Ok(image)
}

/// Writes a layer file's contents (exactly `slot.size()` bytes: the root layer, or the slot's
/// store paths read from `nar`) and returns their digest.
async fn write_layer_body<W>(
    archive: &Archive,
    slot: &LayerSlot,
    nar: Option<&mut NarStream>,
    out: &mut W,
) -> Result<String, ImageError>
where
    W: AsyncWrite + Unpin,
{
    let size = slot.size();
    let paths = slot.store_paths();
    if paths.is_empty() {
        let root = &archive.root_layer;
        if root.len() as u64 != size {
            return Err(size_mismatch(paths, size, root.len().to_string()));
        }
        out.write_all(root)
            .await
            .map_err(ImageError::io("streaming the image to Docker"))?;
        return Ok(sha256_digest(root));
    }
    let nar = nar.expect("opened for store layers");
    let mut bounded = Bounded {
        inner: &mut *out,
        left: size,
        overflowed: false,
    };
    let d = match write_layer_from(nar, paths, &mut bounded).await {
        Err(_) if bounded.overflowed => {
            return Err(size_mismatch(paths, size, format!("more than {size}")))
        }
        r => r?,
    };
    if d.size != size {
        return Err(size_mismatch(paths, size, d.size.to_string()));
    }
    Ok(d.digest)
}

/// The descriptor of a layer written with `digest`: a known layer must have come out the same.
fn settled_layer(slot: &LayerSlot, digest: String) -> Result<LayerDescriptor, ImageError> {
    match slot {
        LayerSlot::Known(l) if l.digest != digest => Err(ImageError::DigestMismatch {
            digest: l.digest.clone(),
            actual: digest,
            cache: LayerCache::default_dir().display().to_string(),
        }),
        LayerSlot::Known(l) => Ok(l.clone()),
        LayerSlot::Predicted { store_paths, size } => Ok(LayerDescriptor {
            digest: digest.clone(),
            diff_id: digest,
            size: *size,
            media_type: OCI_LAYER_TAR.to_string(),
            store_paths: store_paths.clone(),
        }),
    }
}

/// The archive's tail into `head`: the config file, `manifest.json` (tagging the image) and
/// the tar's end.
fn config_and_manifest(
    head: &mut Vec<u8>,
    archive: &Archive,
    image: &ImageDescriptor,
    total: usize,
) {
    let config_file = format!("{}.json", image.config_digest.trim_start_matches("sha256:"));
    let manifest = serde_json::json!([{
        "Config": config_file,
        "RepoTags": [archive.reference],
        "Layers": (0..total).map(layer_file).collect::<Vec<_>>(),
    }]);
    tar::file(head, config_file.as_bytes(), &image.config, 0o644);
    tar::file(
        head,
        b"manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
        0o644,
    );
    tar::end(head);
}

/// Passes at most `left` bytes on to `inner`: a write past that fails (and sets `overflowed`)
/// without passing anything on, so a layer longer than its tar header says never spills into
/// the archive.
struct Bounded<W> {
    inner: W,
    left: u64,
    overflowed: bool,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Bounded<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if buf.len() as u64 > this.left {
            this.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other(
                "the layer is longer than announced",
            )));
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.left -= n as u64;
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ImageSettings;
    use crate::image::testing::{fixture, input, listed, Counting};
    use crate::image::{assemble, LocalStore};
    use crate::progress::BuildEvent;

    async fn archive_of(
        layout: ImageLayout,
        source: &dyn NarSource,
    ) -> (Result<ImageDescriptor, ImageError>, Vec<u8>) {
        let archive = Archive {
            reference: layout.reference.reference(),
            root_layer: layout.root_layer.clone(),
        };
        let slots = layout.layers.clone();
        let mut out = Vec::new();
        let events = |_e: BuildEvent| {};
        let finish = move |layers: Vec<LayerDescriptor>| layout.finish(layers);
        let r = write_archive(&archive, &slots, 0, source, &mut out, &events, finish).await;
        (r, out)
    }

    #[tokio::test]
    async fn a_listed_layout_streams_in_one_pass_into_the_measured_image() {
        let (d, graph) = fixture();
        let local = LocalStore {
            root: d.path().join("store"),
        };
        let source = Counting::new(local.clone());
        let layout = listed(&graph, &source, &d.path().join("one-pass")).await;
        let (image, out) = archive_of(layout, &source).await;
        let image = image.unwrap();
        let mut opened = source.opened();
        opened.sort();
        assert_eq!(
            opened,
            ["aaa-lib", "bbb-app", "ccc-biar-env"].map(|p| format!("/nix/store/{p}")),
            "each store path read once"
        );
        // The same image as measuring first.
        let settings = ImageSettings::default();
        let cache = LayerCache::at(d.path().join("two-pass"));
        let events = |_e: BuildEvent| {};
        let two_pass = assemble(&input(&graph, &settings), &local, &cache, &events)
            .await
            .unwrap();
        assert_eq!(image.layers, two_pass.layers);
        assert_eq!(image.config, two_pass.config);
        // A docker-archive GNU tar reads: layer files by position, hashing to their digests.
        let file = d.path().join("archive.tar");
        std::fs::write(&file, &out).unwrap();
        let x = d.path().join("x");
        std::fs::create_dir(&x).unwrap();
        let st = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&file)
            .arg("-C")
            .arg(&x)
            .status()
            .unwrap();
        assert!(st.success());
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
        let files = manifest[0]["Layers"].as_array().unwrap();
        assert_eq!(files.len(), image.layers.len());
        for (f, l) in files.iter().zip(&image.layers) {
            let bytes = std::fs::read(x.join(f.as_str().unwrap())).unwrap();
            assert_eq!(sha256_digest(&bytes), l.digest);
        }
    }

    #[tokio::test]
    async fn a_wrong_prediction_stops_before_the_manifest() {
        let (d, graph) = fixture();
        let source = LocalStore {
            root: d.path().join("store"),
        };
        for delta in [512i64, -512] {
            let cache = d.path().join(format!("cache{delta}"));
            let mut layout = listed(&graph, &source, &cache).await;
            let LayerSlot::Predicted { size, .. } = &mut layout.layers[1] else {
                panic!("a cold cache predicts")
            };
            let announced = (*size as i64 + delta) as u64;
            *size = announced;
            let (r, out) = archive_of(layout, &source).await;
            let err = r.unwrap_err();
            assert!(matches!(err, ImageError::SizeMismatch { .. }), "{err}");
            assert!(err.to_string().contains(&announced.to_string()), "{err}");
            let text = String::from_utf8_lossy(&out);
            assert!(!text.contains("manifest.json"), "nothing may be tagged");
            assert!(
                !text.contains("layer-2.tar"),
                "no layer after the wrong one"
            );
        }
    }
}
