//! Which bottom layers of an image the Docker Engine already has, so a load leaves them out.
//!
//! The Engine registers a layer only with the same layers below it (its chain ID), so what counts
//! is the longest common prefix of diff IDs with an image biar-tui loaded before (label
//! `biar.image`). A layer whose digest is not known yet (a load learns new layers' digests while
//! it sends them) is measured first only when it may be in the Engine: see [`reusable_prefix`].

use std::collections::HashMap;

use bollard::query_parameters::ListImagesOptionsBuilder;
use futures::future::BoxFuture;

use super::assemble::{ImageLayout, LABEL_IMAGE};
use super::cache::LayerCache;
use super::layer::NarSource;
use super::ImageError;
use crate::docker::Engine;

/// How many bottom layers of `diff_ids` the Engine already has, in that order: the longest
/// common prefix with an image biar-tui loaded before.
pub async fn layers_in_engine(engine: &Engine, diff_ids: &[String]) -> Result<usize, ImageError> {
    let images = engine_images(engine).await?;
    Ok(images
        .iter()
        .map(|have| {
            have.layers
                .iter()
                .zip(diff_ids)
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap_or(0))
}

/// An image biar-tui loaded into the Engine: its diff IDs, and once asked for, its history.
pub(crate) struct EngineImage {
    id: String,
    layers: Vec<String>,
    /// Each layer's `created_by`, bottom first; empty when it could not be read.
    history: Option<Vec<String>>,
}

/// Every image biar-tui loaded into the Engine (label `biar.image`).
pub(crate) async fn engine_images(engine: &Engine) -> Result<Vec<EngineImage>, ImageError> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_IMAGE.to_string()])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = engine
        .docker
        .list_images(Some(options))
        .await
        .map_err(|e| ImageError::Docker {
            doing: "listing images".to_string(),
            reason: e.to_string(),
        })?;
    let mut found = Vec::with_capacity(images.len());
    for image in images {
        let Ok(inspect) = engine.docker.inspect_image(&image.id).await else {
            continue; // removed meanwhile
        };
        found.push(EngineImage {
            id: image.id,
            layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            history: None,
        });
    }
    Ok(found)
}

/// Reads an Engine image's history (`created_by` per entry, bottom first).
pub(crate) type History = dyn Fn(String) -> BoxFuture<'static, Vec<String>> + Send + Sync;

pub(crate) fn engine_history(
    engine: &Engine,
) -> impl Fn(String) -> BoxFuture<'static, Vec<String>> {
    let docker = engine.docker.clone();
    move |id| {
        let docker = docker.clone();
        Box::pin(async move {
            let items = docker.image_history(&id).await.unwrap_or_default();
            items.into_iter().rev().map(|i| i.created_by).collect()
        })
    }
}

/// How many bottom layers of `layout` are in one of the Engine's `images`. A layer whose digest
/// is not known is measured (read once more if the Engine turns out to lack it) only when it may
/// be there: an Engine image has the same layers below it and, in its place, a layer this cache
/// never recorded (the cache is new, or the Engine got images through another one) with the same
/// history entry (the same first store paths). A layer the cache recorded cannot be it (another
/// layer with that digest would hold the same paths), so the usual rebuild measures nothing.
pub(crate) async fn reusable_prefix(
    images: &mut [EngineImage],
    history: &History,
    layout: &mut ImageLayout,
    source: &dyn NarSource,
    cache: &LayerCache,
) -> Result<usize, ImageError> {
    let mut candidates: Vec<usize> = (0..images.len()).collect();
    for k in 0..layout.layers.len() {
        candidates.retain(|&c| images[c].layers.len() > k);
        if candidates.is_empty() {
            return Ok(k);
        }
        if layout.layers[k].known().is_none() {
            let created_by = layout.created_by(k).unwrap_or_default().to_string();
            let mut may_be_ours = false;
            for &c in &candidates {
                let image = &mut images[c];
                if cache.knows_digest(&image.layers[k]) {
                    continue;
                }
                if image.history.is_none() {
                    image.history = Some(history(image.id.clone()).await);
                }
                let entries = image.history.as_deref().unwrap_or_default();
                // biar-tui's images have one entry per layer; any other cannot be told apart.
                if entries.len() != image.layers.len() || entries[k] == created_by {
                    may_be_ours = true;
                    break;
                }
            }
            if !may_be_ours {
                return Ok(k);
            }
        }
        let ours = layout
            .measure_layer(k, source, cache)
            .await?
            .diff_id
            .clone();
        candidates.retain(|&c| images[c].layers[k] == ours);
        if candidates.is_empty() {
            return Ok(k);
        }
    }
    Ok(layout.layers.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ImageSettings;
    use crate::image::testing::{fixture, input, listed, Counting};
    use crate::image::{assemble, LayerDescriptor, LocalStore};
    use crate::oci::OCI_LAYER_TAR;
    use crate::progress::{BuildEvent, Stage};

    /// An Engine image with these layers and history entries.
    fn engine_image(layers: &[String], history: &[String]) -> EngineImage {
        EngineImage {
            id: "sha256:image".to_string(),
            layers: layers.to_vec(),
            history: Some(history.to_vec()),
        }
    }

    fn no_history(_id: String) -> BoxFuture<'static, Vec<String>> {
        Box::pin(async { panic!("histories are given") })
    }

    #[tokio::test]
    async fn engine_layers_are_measured_only_when_they_may_be_ours() {
        let (d, graph) = fixture();
        let local = LocalStore {
            root: d.path().join("store"),
        };
        let settings = ImageSettings::default();
        let events = |_e: BuildEvent| {};
        let other = LayerCache::at(d.path().join("other"));
        let image = assemble(&input(&graph, &settings), &local, &other, &events)
            .await
            .unwrap();
        let ours = image.diff_ids();
        let foreign = "sha256:".to_string() + &"f".repeat(64);
        let cold = |name: &str| d.path().join(name);
        let layout = listed(&graph, &local, &cold("probe")).await;
        let history: Vec<String> = (0..ours.len())
            .map(|k| layout.created_by(k).unwrap().to_string())
            .collect();
        let mut other_history = history.clone();
        other_history[0] = "biar-tui: store aaa-other".to_string();

        // Each case: the Engine's images, then what is read and how many layers are reused.
        let mut engine = ours.clone();
        engine[0] = foreign.clone();
        let cases: Vec<(&str, Vec<EngineImage>, Vec<&str>, usize)> = vec![
            // A cold cache, and the Engine has the same layers (loaded through another cache):
            // each layer is measured once and none is sent.
            (
                "same image",
                vec![engine_image(&ours, &history)],
                vec!["aaa-lib", "bbb-app", "ccc-biar-env"],
                4,
            ),
            // The first layer differs but looks like ours: only it is measured, to find out.
            (
                "look-alike",
                vec![engine_image(&engine, &history)],
                vec!["aaa-lib"],
                0,
            ),
            // It differs and its history says other paths: nothing is read.
            (
                "other paths",
                vec![engine_image(&engine, &other_history)],
                vec![],
                0,
            ),
            // A history that cannot be aligned: measured, to be safe.
            (
                "odd history",
                vec![engine_image(&engine, &history[1..])],
                vec!["aaa-lib"],
                0,
            ),
            ("no image", vec![], vec![], 0),
        ];
        for (case, mut images, read, reused) in cases {
            let source = Counting::new(local.clone());
            let cache = cold(case);
            let mut layout = listed(&graph, &source, &cache).await;
            let cache = LayerCache::at(cache);
            let have = reusable_prefix(&mut images, &no_history, &mut layout, &source, &cache)
                .await
                .unwrap();
            assert_eq!(have, reused, "{case}");
            let read: Vec<String> = read.iter().map(|p| format!("/nix/store/{p}")).collect();
            assert_eq!(source.opened(), read, "{case}");
        }

        // The cache recorded that foreign layer (it loaded it): ours cannot be it, nothing is read.
        let source = Counting::new(local.clone());
        let cache = cold("recorded");
        let mut layout = listed(&graph, &source, &cache).await;
        let cache = LayerCache::at(cache);
        cache
            .put(&LayerDescriptor {
                digest: foreign.clone(),
                diff_id: foreign,
                size: 1,
                media_type: OCI_LAYER_TAR.to_string(),
                store_paths: vec!["/nix/store/zzz-old".to_string()],
            })
            .unwrap();
        let mut images = vec![engine_image(&engine, &history)];
        let have = reusable_prefix(&mut images, &no_history, &mut layout, &source, &cache)
            .await
            .unwrap();
        assert_eq!(have, 0);
        assert!(source.opened().is_empty());

        // Known layers need no reading either.
        let source = Counting::new(local);
        let mut layout = listed(&graph, &source, &d.path().join("other")).await;
        let mut images = vec![engine_image(&ours[..2], &history[..2])];
        let have = reusable_prefix(&mut images, &no_history, &mut layout, &source, &other)
            .await
            .unwrap();
        assert_eq!(have, 2);
        assert!(source.opened().is_empty());
    }
}
