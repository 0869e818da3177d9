//! From a build's closure to an image described as data: the layer plan, each layer's digest
//! (from the cache, or measured by streaming it once), the root layer, the OCI config and manifest.
//! Nothing is written anywhere but the layer cache; [`super::load`] and the registry stream the
//! layers again when they send them.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;

use super::cache::{LayerCache, LayerDescriptor};
use super::layer::{expect_end, write_layer_from, NarSource};
use super::plan::{plan_with, LayerPlan, Strategy};
use super::root::{find_ca_bundle, root_layer, RootSpec, USER_ID};
use super::ImageError;
use crate::build::{BuildEvent, ClosureGraph};
use crate::config::{ImageRef, ImageSettings};
use crate::registry::{
    sha256_digest, Descriptor, ImageManifest, PushImage, OCI_CONFIG, OCI_LAYER_TAR,
};

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

/// Describes the image of `input`: plans the layers, takes each layer's digest from `cache` or
/// measures it (one pass over the NARs of all unknown layers), builds the root layer, config and
/// manifest. Emits `Stage { layers }` and a `Layer` event per layer (`reused`: known from the cache).
pub async fn assemble(
    input: &ImageInput<'_>,
    source: &dyn NarSource,
    cache: &LayerCache,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<ImageDescriptor, ImageError> {
    events(BuildEvent::Stage {
        name: "layers".to_string(),
    });
    let plan = plan_with(input.closure, input.settings.max_layers, input.strategy)?;
    let total = plan.layers.len() + 1;
    let mut layers: Vec<Option<LayerDescriptor>> =
        plan.layers.iter().map(|l| cache.get(&l.paths)).collect();
    let missing: Vec<usize> = (0..layers.len()).filter(|&i| layers[i].is_none()).collect();
    for (i, l) in layers.iter().enumerate() {
        if let Some(l) = l {
            events(layer_event(i, total, l, true));
        }
    }
    if !missing.is_empty() {
        let all: Vec<String> = missing
            .iter()
            .flat_map(|&i| plan.layers[i].paths.iter().cloned())
            .collect();
        let mut nar = source.open(&all)?;
        for &i in &missing {
            let paths = &plan.layers[i].paths;
            let d = write_layer_from(&mut nar, paths, tokio::io::sink()).await?;
            let desc = LayerDescriptor {
                digest: d.digest.clone(),
                diff_id: d.digest,
                size: d.size,
                media_type: OCI_LAYER_TAR.to_string(),
                store_paths: paths.clone(),
            };
            events(layer_event(i, total, &desc, false));
            layers[i] = Some(desc);
        }
        expect_end(&mut nar, &all).await?;
        for &i in &missing {
            cache.put(layers[i].as_ref().expect("measured"))?;
        }
    }
    let mut layers: Vec<LayerDescriptor> = layers.into_iter().map(|l| l.expect("known")).collect();
    let spec = RootSpec {
        env_path: input.env_path.to_string(),
        user: input.settings.user.clone(),
        workdir: input.settings.workdir.clone(),
        ca_bundle: find_ca_bundle(input.closure.paths.iter().map(|p| p.path.as_str())),
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
    layers.push(root_desc);
    let config = Bytes::from(config_json(input, &spec, &plan, &layers));
    let config_digest = sha256_digest(&config);
    let manifest = ImageManifest::new(
        Descriptor::of_bytes(OCI_CONFIG, &config),
        layers.iter().map(descriptor).collect(),
    )
    .to_bytes();
    let manifest_digest = sha256_digest(&manifest);
    Ok(ImageDescriptor {
        reference: input.reference.clone(),
        plan,
        layers,
        root_layer: root,
        config,
        config_digest,
        manifest,
        manifest_digest,
    })
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
/// diff_ids and one history entry per layer (`docker history` shows them); no real timestamps.
fn config_json(
    input: &ImageInput<'_>,
    spec: &RootSpec,
    plan: &LayerPlan,
    layers: &[LayerDescriptor],
) -> Vec<u8> {
    let mut env = vec![
        "PATH=/bin:/usr/bin".to_string(),
        format!("USER={}", spec.user),
        format!("HOME={}", spec.home()),
    ];
    if spec.ca_bundle.is_some() {
        env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_string());
        env.push("NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_string());
    }
    let mut labels = input.labels.clone();
    labels.insert(LABEL_IMAGE.to_string(), "1".to_string());
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
            "User": format!("{USER_ID}:{USER_ID}"),
            "Env": env,
            "Cmd": ["/bin/sh"],
            "WorkingDir": spec.workdir,
            "Labels": labels,
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.as_str()).collect::<Vec<_>>(),
        },
        "history": history,
    });
    serde_json::to_vec(&config).expect("config serializes")
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
    use crate::build::StorePathInfo;
    use crate::image::LocalStore;
    use futures::StreamExt;
    use sha2::{Digest as _, Sha256};

    fn fixture() -> (tempfile::TempDir, ClosureGraph) {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("store");
        for (name, body) in [
            ("aaa-lib", "lib"),
            ("bbb-app", "app"),
            ("ccc-biar-env", "env"),
        ] {
            std::fs::create_dir_all(store.join(name).join("bin")).unwrap();
            std::fs::write(store.join(name).join("bin/x"), body).unwrap();
        }
        let info = |p: &str, refs: &[&str]| StorePathInfo {
            path: format!("/nix/store/{p}"),
            nar_size: 100,
            nar_hash: String::new(),
            closure_size: None,
            references: refs.iter().map(|r| format!("/nix/store/{r}")).collect(),
        };
        let graph = ClosureGraph::from_export_json(
            &serde_json::to_string(&[
                info("aaa-lib", &[]),
                info("bbb-app", &["aaa-lib"]),
                info("ccc-biar-env", &["bbb-app"]),
            ])
            .unwrap(),
        )
        .unwrap();
        (d, graph)
    }

    fn input<'a>(graph: &'a ClosureGraph, settings: &'a ImageSettings) -> ImageInput<'a> {
        ImageInput {
            reference: ImageRef {
                name: "biar-x".into(),
                tag: "y".into(),
            },
            env_path: "/nix/store/ccc-biar-env",
            closure: graph,
            settings,
            strategy: Strategy::default(),
            labels: BTreeMap::new(),
        }
    }

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
}
