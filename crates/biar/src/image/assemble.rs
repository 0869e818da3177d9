//! From a build's closure to an image described as data: the layer plan, each layer's size and
//! digest, the root layer, the OCI config and manifest. A layer's digest and size come from the
//! cache, or from streaming it once ([`Sizes::Measure`]); for a load, a new layer's size can
//! instead be predicted from a listing ([`Sizes::List`]), its digest then learnt while
//! [`super::load`] sends it, so the store is read once. Nothing is written anywhere but the layer
//! cache; [`super::load`] and the registry stream the layers when they send them.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;

use super::cache::{LayerCache, LayerDescriptor};
use super::follow::{plan_following, LayerRecord, LABEL_LAYERS};
use super::layer::{expect_end, write_layer_from, NarSource};
use super::plan::{plan_with, LayerPlan, Strategy};
use super::root::{find_ca_bundle, root_layer, RootSpec};
use super::ImageError;
use crate::config::{ImageRef, ImageSettings};
use crate::nixbuild::ClosureGraph;
use crate::oci::{sha256_digest, Descriptor, ImageManifest, PushImage, OCI_CONFIG, OCI_LAYER_TAR};
use crate::progress::{BuildEvent, Stage};

/// A label on every image biar-tui makes (lets `load` find the layers Docker already has).
pub const LABEL_IMAGE: &str = "biar.image";
/// A fixed creation time: the image's bytes depend on its content only.
pub const CREATED: &str = "1970-01-01T00:00:01Z";

/// What [`assemble`] needs from the build and the configuration.
#[derive(Debug, Clone)]
pub struct ImageInput<'a> {
    pub reference: ImageRef,
    /// The environment (symlink farm) the root layer links `/bin` into.
    pub env_path: &'a str,
    pub closure: &'a ClosureGraph,
    pub settings: &'a ImageSettings,
    pub strategy: Strategy,
    /// The recorded layers of the previous image of this name: the plan follows them
    /// ([`super::plan_following`]); without one, the plan of `strategy`.
    pub previous: Option<&'a LayerRecord>,
    /// Extra labels: configuration hashes, package list (see `build` in the CLI).
    pub labels: BTreeMap<String, String>,
}

/// An image described as data. Layers bottom first; the last is the root layer.
#[derive(Debug, Clone)]
pub struct ImageDescriptor {
    pub reference: ImageRef,
    pub plan: LayerPlan,
    pub layers: Vec<LayerDescriptor>,
    /// The root layer's bytes (a few KiB): it has no store paths to stream from.
    pub root_layer: Bytes,
    pub config: Bytes,
    pub config_digest: String,
    pub manifest: Bytes,
    pub manifest_digest: String,
}

impl ImageDescriptor {
    /// The registry's view: config bytes and layer descriptors.
    pub fn push_image(&self) -> PushImage {
        PushImage {
            config: self.config.clone(),
            layers: self.layers.iter().map(descriptor).collect(),
        }
    }

    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }

    /// The layer with this digest.
    pub fn layer(&self, digest: &str) -> Option<&LayerDescriptor> {
        self.layers.iter().find(|l| l.digest == digest)
    }

    /// A layer's bytes as a stream, verified against its digest while it streams (the stream
    /// ends with an error if they differ). For registry uploads.
    pub fn open_layer(
        &self,
        layer: &LayerDescriptor,
        source: std::sync::Arc<dyn NarSource>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        open_layer(layer.clone(), self.root_layer.clone(), source)
    }
}

fn descriptor(l: &LayerDescriptor) -> Descriptor {
    Descriptor {
        media_type: l.media_type.clone(),
        digest: l.digest.clone(),
        size: l.size,
    }
}

/// How [`describe`] learns the size of a layer the cache does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// Stream the layer once to learn its digest and size: a push needs every digest first.
    Measure,
    /// Predict the size from a listing of the layer's store paths (no file contents read); the
    /// digest is learnt while the layer is sent ([`super::load_layout`]), so a load reads the
    /// store once. Falls back to measuring when the source cannot list.
    List,
}

/// A layer of an [`ImageLayout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSlot {
    /// Digest and size known: from the cache, measured, or the root layer.
    Known(LayerDescriptor),
    /// The size predicted from a listing; the digest is learnt while the layer streams.
    Predicted { store_paths: Vec<String>, size: u64 },
}

impl LayerSlot {
    pub fn size(&self) -> u64 {
        match self {
            LayerSlot::Known(l) => l.size,
            LayerSlot::Predicted { size, .. } => *size,
        }
    }

    pub fn store_paths(&self) -> &[String] {
        match self {
            LayerSlot::Known(l) => &l.store_paths,
            LayerSlot::Predicted { store_paths, .. } => store_paths,
        }
    }

    pub fn known(&self) -> Option<&LayerDescriptor> {
        match self {
            LayerSlot::Known(l) => Some(l),
            LayerSlot::Predicted { .. } => None,
        }
    }
}

/// An image whose layers' sizes are known, not necessarily their digests: the config (which
/// lists them) and the manifest are made when they are ([`ImageLayout::finish`]).
#[derive(Debug, Clone)]
pub struct ImageLayout {
    pub reference: ImageRef,
    pub plan: LayerPlan,
    /// Bottom first; the last is the root layer.
    pub layers: Vec<LayerSlot>,
    /// The root layer's bytes (a few KiB): it has no store paths to stream from.
    pub root_layer: Bytes,
    /// The OCI config with an empty `rootfs.diff_ids`.
    config: serde_json::Value,
}

impl ImageLayout {
    /// The diff IDs of the bottom layers, up to the first one not known yet.
    pub fn known_diff_ids(&self) -> Vec<String> {
        self.layers
            .iter()
            .map_while(LayerSlot::known)
            .map(|l| l.diff_id.clone())
            .collect()
    }

    /// The `created_by` of layer `index` in the config's history (what `docker history` shows).
    pub fn created_by(&self, index: usize) -> Option<&str> {
        self.config["history"][index]["created_by"].as_str()
    }

    /// The image, once every layer is known.
    fn into_known(self) -> ImageDescriptor {
        let layers = self.layers.iter().map(|l| l.known().cloned());
        let layers = layers
            .collect::<Option<Vec<_>>>()
            .expect("every layer known");
        self.finish(layers)
    }

    /// The image with `layers` (one per slot, in order) as its layers: the config lists their
    /// diff IDs, the manifest their descriptors.
    pub fn finish(self, layers: Vec<LayerDescriptor>) -> ImageDescriptor {
        debug_assert_eq!(layers.len(), self.layers.len());
        let mut config = self.config;
        // Replacing the placeholder keeps the key's place, so the bytes match a config made whole.
        config["rootfs"]["diff_ids"] = layers.iter().map(|l| l.diff_id.as_str()).collect();
        let config = Bytes::from(serde_json::to_vec(&config).expect("config serializes"));
        let config_digest = sha256_digest(&config);
        let manifest = ImageManifest::new(
            Descriptor::of_bytes(OCI_CONFIG, &config),
            layers.iter().map(descriptor).collect(),
        )
        .to_bytes();
        let manifest_digest = sha256_digest(&manifest);
        ImageDescriptor {
            reference: self.reference,
            plan: self.plan,
            layers,
            root_layer: self.root_layer,
            config,
            config_digest,
            manifest,
            manifest_digest,
        }
    }

    /// Measures the layers whose digests are not known (reading them once; none, nothing is
    /// read), records them in `cache`, and returns the whole image. A measured size must match
    /// its prediction.
    pub async fn measure(
        mut self,
        source: &dyn NarSource,
        cache: &LayerCache,
        events: &(dyn Fn(BuildEvent) + Send + Sync),
    ) -> Result<ImageDescriptor, ImageError> {
        let missing: Vec<usize> = (0..self.layers.len())
            .filter(|&i| self.layers[i].known().is_none())
            .collect();
        self.measure_slots(&missing, source, cache, events).await?;
        Ok(self.into_known())
    }

    /// Measures layer `index` (if its digest is not known yet) and records it in `cache`.
    pub async fn measure_layer(
        &mut self,
        index: usize,
        source: &dyn NarSource,
        cache: &LayerCache,
    ) -> Result<&LayerDescriptor, ImageError> {
        if self.layers[index].known().is_none() {
            self.measure_slots(&[index], source, cache, &|_| {}).await?;
        }
        Ok(self.layers[index].known().expect("measured"))
    }

    async fn measure_slots(
        &mut self,
        index: &[usize],
        source: &dyn NarSource,
        cache: &LayerCache,
        events: &(dyn Fn(BuildEvent) + Send + Sync),
    ) -> Result<(), ImageError> {
        let predicted: Vec<u64> = index.iter().map(|&i| self.layers[i].size()).collect();
        let paths: Vec<Vec<String>> = index
            .iter()
            .map(|&i| self.layers[i].store_paths().to_vec())
            .collect();
        let measured = measure(&paths, source, cache, self.layers.len(), index, events).await?;
        for ((&i, desc), expected) in index.iter().zip(measured).zip(predicted) {
            if desc.size != expected {
                let actual = desc.size.to_string();
                return Err(size_mismatch(&desc.store_paths, expected, actual));
            }
            self.layers[i] = LayerSlot::Known(desc);
        }
        Ok(())
    }
}

/// The error of a layer whose bytes do not have the length announced for it.
pub(crate) fn size_mismatch(paths: &[String], expected: u64, actual: String) -> ImageError {
    let shown = match paths {
        [] => "the root layer".to_string(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} paths)", rest.len()),
    };
    ImageError::SizeMismatch {
        paths: shown,
        expected,
        actual,
        cache: LayerCache::default_dir().display().to_string(),
    }
}

/// Describes the image of `input`: plans the layers, takes each layer's digest from `cache` or
/// measures it (one pass over the NARs of all unknown layers), builds the root layer, config and
/// manifest. Emits `Stage { layers }` and a `Layer` event per layer (`reused`: known from the cache).
pub async fn assemble(
    input: &ImageInput<'_>,
    source: &dyn NarSource,
    cache: &LayerCache,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<ImageDescriptor, ImageError> {
    let layout = describe(input, source, cache, Sizes::Measure, events).await?;
    Ok(layout.into_known())
}

/// Plans the layers of `input` and learns every layer's size: digest and size from `cache`, or
/// else as `sizes` says. Emits `Stage { layers }` and a `Layer` event per layer whose digest it
/// knows (`reused`: known from the cache).
pub async fn describe(
    input: &ImageInput<'_>,
    source: &dyn NarSource,
    cache: &LayerCache,
    sizes: Sizes,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<ImageLayout, ImageError> {
    events(BuildEvent::Stage {
        name: Stage::Layers,
    });
    // Planning (quadratic in the closure) and the cache's file reads run off the async runtime.
    let (closure, settings, strategy) = (
        input.closure.clone(),
        input.settings.max_layers,
        input.strategy,
    );
    let previous = input.previous.cloned();
    let lookup = cache.clone();
    let (plan, cached) = tokio::task::spawn_blocking(move || {
        let plan = match &previous {
            Some(record) => plan_following(&closure, settings, record)?,
            None => plan_with(&closure, settings, strategy)?,
        };
        let cached: Vec<Option<LayerDescriptor>> =
            plan.layers.iter().map(|l| lookup.get(&l.paths)).collect();
        Ok::<_, ImageError>((plan, cached))
    })
    .await
    .map_err(|e| ImageError::Other(format!("planning the layers: {e}")))??;
    let total = plan.layers.len() + 1;
    let missing: Vec<usize> = (0..cached.len()).filter(|&i| cached[i].is_none()).collect();
    for (i, l) in cached.iter().enumerate() {
        if let Some(l) = l {
            events(layer_event(i, total, l, true));
        }
    }
    let paths: Vec<Vec<String>> = missing
        .iter()
        .map(|&i| plan.layers[i].paths.clone())
        .collect();
    let predicted = match sizes {
        Sizes::List if !missing.is_empty() => predict(&paths, source).await,
        _ => None,
    };
    let mut layers: Vec<LayerSlot> = Vec::with_capacity(total);
    let mut learnt: Vec<LayerSlot> = match predicted {
        Some(sizes) => paths
            .into_iter()
            .zip(sizes)
            .map(|(store_paths, size)| LayerSlot::Predicted { store_paths, size })
            .collect(),
        None => measure(&paths, source, cache, total, &missing, events)
            .await?
            .into_iter()
            .map(LayerSlot::Known)
            .collect::<Vec<_>>(),
    }
    .into_iter()
    .rev()
    .collect();
    for l in cached {
        layers.push(match l {
            Some(l) => LayerSlot::Known(l),
            None => learnt.pop().expect("one per missing layer"),
        });
    }
    let spec = RootSpec {
        env_path: input.env_path.to_string(),
        user: input.settings.user.clone(),
        workdir: input.settings.workdir.clone(),
        ca_bundle: find_ca_bundle(input.closure.paths.iter().map(|p| p.path.as_str())),
        uid: input.settings.uid,
        gid: input.settings.gid,
        profile: input.settings.profile,
    };
    let root = Bytes::from(root_layer(&spec));
    let root_digest = sha256_digest(&root);
    let root_desc = LayerDescriptor {
        digest: root_digest.clone(),
        diff_id: root_digest,
        size: root.len() as u64,
        media_type: OCI_LAYER_TAR.to_string(),
        store_paths: Vec::new(),
    };
    events(layer_event(total - 1, total, &root_desc, false));
    layers.push(LayerSlot::Known(root_desc));
    let config = config_json(input, &spec, &plan);
    Ok(ImageLayout {
        reference: input.reference.clone(),
        plan,
        layers,
        root_layer: root,
        config,
    })
}

/// The predicted sizes of layers of `paths` from one listing, or `None` (why goes to the log).
async fn predict(paths: &[Vec<String>], source: &dyn NarSource) -> Option<Vec<u64>> {
    let all: Vec<String> = paths.iter().flatten().cloned().collect();
    let mut listing = source.list(&all)?;
    let layers: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
    match super::listing::layer_sizes(&mut listing, &layers).await {
        Ok(sizes) => Some(sizes),
        Err(reason) => {
            tracing::info!("measuring the new layers instead of listing them: {reason}");
            None
        }
    }
}

/// Streams the layers of `paths` (at plan positions `index`) once, to a sink, and records their
/// digests and sizes in `cache`. One source call for all of them.
async fn measure(
    paths: &[Vec<String>],
    source: &dyn NarSource,
    cache: &LayerCache,
    total: usize,
    index: &[usize],
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Vec<LayerDescriptor>, ImageError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<String> = paths.iter().flatten().cloned().collect();
    let mut nar = source.open(&all)?;
    let mut measured = Vec::with_capacity(paths.len());
    for (paths, &i) in paths.iter().zip(index) {
        let d = write_layer_from(&mut nar, paths, tokio::io::sink()).await?;
        let desc = LayerDescriptor {
            digest: d.digest.clone(),
            diff_id: d.digest,
            size: d.size,
            media_type: OCI_LAYER_TAR.to_string(),
            store_paths: paths.clone(),
        };
        events(layer_event(i, total, &desc, false));
        measured.push(desc);
    }
    expect_end(&mut nar, &all).await?;
    for desc in &measured {
        cache.put(desc)?;
    }
    Ok(measured)
}

fn layer_event(index: usize, total: usize, l: &LayerDescriptor, reused: bool) -> BuildEvent {
    BuildEvent::Layer {
        index,
        total,
        digest: l.digest.clone(),
        size: l.size,
        reused,
    }
}

fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The OCI image config: environment, shell as default command, working directory, user, labels,
/// diff_ids (empty here: [`ImageLayout::finish`] fills them in) and one history entry per layer
/// (`docker history` shows them); no real timestamps.
fn config_json(input: &ImageInput<'_>, spec: &RootSpec, plan: &LayerPlan) -> serde_json::Value {
    // One definition for the image and the run without one (`run::DirectRoot`).
    let env = spec.env();
    let mut labels = input.labels.clone();
    if spec.profile == crate::profile::Profile::Devcontainer {
        labels.insert(
            crate::profile::DEVCONTAINER_LABEL.to_string(),
            crate::profile::devcontainer_metadata(&spec.user, &spec.home(), &spec.workdir),
        );
    }
    if spec.profile.is_workspace() {
        labels.insert(
            crate::profile::PROFILE_LABEL.to_string(),
            spec.profile.name().to_string(),
        );
    }
    labels.insert(LABEL_IMAGE.to_string(), "1".to_string());
    // What the next plan of this name follows.
    let generation = LayerRecord::next_generation(input.previous);
    labels.insert(
        LABEL_LAYERS.to_string(),
        LayerRecord::of(plan, generation).to_label(),
    );
    labels.insert("biar.env".to_string(), input.env_path.to_string());
    let mut history: Vec<serde_json::Value> = plan
        .layers
        .iter()
        .map(|l| {
            let names: Vec<&str> = l
                .paths
                .iter()
                .map(|p| p.strip_prefix("/nix/store/").unwrap_or(p))
                .collect();
            let shown = if names.len() > 3 {
                format!("{} … (+{} paths)", names[..3].join(" "), names.len() - 3)
            } else {
                names.join(" ")
            };
            serde_json::json!({
                "created": CREATED,
                "created_by": format!("biar-tui: store {shown}"),
            })
        })
        .collect();
    history.push(serde_json::json!({
        "created": CREATED,
        "created_by": format!("biar-tui: root layer (/bin, user {}, /tmp, /etc)", spec.user),
    }));
    let config = serde_json::json!({
        "created": CREATED,
        "architecture": architecture(),
        "os": "linux",
        "config": {
            "User": spec.user_spec(),
            "Env": env,
            "Cmd": ["/bin/sh"],
            "WorkingDir": spec.workdir,
            "Labels": labels,
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": [],
        },
        "history": history,
    });
    config
}

/// See [`ImageDescriptor::open_layer`].
pub fn open_layer(
    layer: LayerDescriptor,
    root: Bytes,
    source: std::sync::Arc<dyn NarSource>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    async_stream::try_stream! {
        if layer.store_paths.is_empty() {
            yield root;
        } else {
            let (reader, writer) = tokio::io::duplex(256 * 1024);
            let paths = layer.store_paths.clone();
            let expected = layer.digest.clone();
            let producer = tokio::spawn(async move {
                let d = super::layer::write_store_layer(&paths, source.as_ref(), writer).await?;
                if d.digest != expected {
                    return Err(ImageError::DigestMismatch {
                        digest: expected,
                        actual: d.digest,
                        cache: LayerCache::default_dir().display().to_string(),
                    });
                }
                Ok(())
            });
            let mut chunks = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
            while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
                yield chunk?;
            }
            match producer.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => Err(std::io::Error::other(e))?,
                Err(e) => Err(std::io::Error::other(e))?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testing::{fixture, input, Counting};
    use crate::image::LocalStore;
    use futures::StreamExt;
    use sha2::{Digest as _, Sha256};

    #[tokio::test]
    async fn cached_layers_are_not_read_and_streams_verify_digests() {
        let (d, graph) = fixture();
        let settings = ImageSettings::default();
        let cache = LayerCache::at(d.path().join("cache"));
        let source = LocalStore {
            root: d.path().join("store"),
        };
        let events = |_e: BuildEvent| {};
        let first = assemble(&input(&graph, &settings), &source, &cache, &events)
            .await
            .unwrap();
        assert_eq!(first.layers.len(), 4);
        // Every layer's stream hashes to its digest.
        let shared: std::sync::Arc<dyn NarSource> = std::sync::Arc::new(source.clone());
        for l in &first.layers {
            let mut s = Box::pin(first.open_layer(l, shared.clone()));
            let mut h = Sha256::new();
            let mut n = 0;
            while let Some(chunk) = s.next().await {
                let chunk = chunk.unwrap();
                n += chunk.len() as u64;
                h.update(&chunk);
            }
            assert_eq!(format!("sha256:{}", hex::encode(h.finalize())), l.digest);
            assert_eq!(n, l.size);
        }
        // With the store gone, the cache still describes the same image: nothing was read.
        std::fs::rename(d.path().join("store"), d.path().join("moved")).unwrap();
        let second = assemble(&input(&graph, &settings), &source, &cache, &events)
            .await
            .unwrap();
        assert_eq!(second.layers, first.layers);
        assert_eq!(second.manifest, first.manifest);
        // Content that differs from the record fails the stream instead of sending other bytes.
        std::fs::rename(d.path().join("moved"), d.path().join("store")).unwrap();
        std::fs::write(d.path().join("store/aaa-lib/bin/x"), "tampered").unwrap();
        let lib = first
            .layers
            .iter()
            .find(|l| l.store_paths == ["/nix/store/aaa-lib"])
            .unwrap();
        let mut s = Box::pin(first.open_layer(lib, shared));
        let mut failed = false;
        while let Some(chunk) = s.next().await {
            if chunk.is_err() {
                failed = true;
            }
        }
        assert!(failed, "a tampered layer must not stream cleanly");
    }

    #[tokio::test]
    async fn a_listed_layout_measures_into_the_same_image() {
        let (d, graph) = fixture();
        let settings = ImageSettings::default();
        let source = LocalStore {
            root: d.path().join("store"),
        };
        let events = |_e: BuildEvent| {};
        let measured_cache = LayerCache::at(d.path().join("measured"));
        let image = assemble(&input(&graph, &settings), &source, &measured_cache, &events)
            .await
            .unwrap();
        let cache = LayerCache::at(d.path().join("listed"));
        let counting = Counting::new(source.clone());
        let layout = describe(
            &input(&graph, &settings),
            &counting,
            &cache,
            Sizes::List,
            &events,
        )
        .await
        .unwrap();
        assert_eq!(
            counting.opened(),
            Vec::<String>::new(),
            "a listing reads no NAR"
        );
        assert_eq!(counting.lists(), 1);
        let predicted: Vec<u64> = layout.layers.iter().map(LayerSlot::size).collect();
        let sizes: Vec<u64> = image.layers.iter().map(|l| l.size).collect();
        assert_eq!(predicted, sizes);
        assert!(layout.layers[..3].iter().all(|l| l.known().is_none()));
        assert_eq!(layout.known_diff_ids(), Vec::<String>::new());
        let again = layout.measure(&source, &cache, &events).await.unwrap();
        assert_eq!(again.layers, image.layers);
        assert_eq!(again.config, image.config);
        assert_eq!(again.manifest, image.manifest);
        // Measured layers are recorded: the next description knows them all.
        let known = describe(
            &input(&graph, &settings),
            &source,
            &cache,
            Sizes::List,
            &events,
        )
        .await
        .unwrap();
        assert_eq!(known.known_diff_ids(), image.diff_ids());
    }

    #[tokio::test]
    async fn a_source_that_cannot_list_is_measured() {
        let (d, graph) = fixture();
        let settings = ImageSettings::default();
        let cache = LayerCache::at(d.path().join("cache"));
        let counting = Counting::unlistable(LocalStore {
            root: d.path().join("store"),
        });
        let events = |_e: BuildEvent| {};
        let layout = describe(
            &input(&graph, &settings),
            &counting,
            &cache,
            Sizes::List,
            &events,
        )
        .await
        .unwrap();
        assert!(layout.layers.iter().all(|l| l.known().is_some()));
        assert_eq!(counting.opened().len(), 3);
    }
}
