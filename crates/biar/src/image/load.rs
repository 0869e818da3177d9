//! Loading an image into the Docker Engine with `POST /images/load` (a streamed docker-archive).
//!
//! The Engine extracts the whole upload before it reads `manifest.json`, then registers each
//! layer unless it already has that layer *with the same layers below it* (its chain ID); it only
//! opens the file of a layer it lacks. So the archive leaves out the layers of the longest prefix
//! the Engine already has (found through the `biar.image` label of the images biar-tui loaded
//! before): a rebuild sends the changed layers and those above them, nothing else. Layer files
//! come first, then the config and `manifest.json`, so nothing is buffered.

use std::collections::HashMap;

use bollard::query_parameters::{ImportImageOptionsBuilder, ListImagesOptionsBuilder};
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::assemble::{ImageDescriptor, LABEL_IMAGE};
use super::layer::{expect_end, write_layer_from, NarSource};
use super::tar::{self, Kind};
use super::ImageError;
use crate::build::BuildEvent;
use crate::docker::Engine;

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

/// Whether the Engine has an image `reference` (`name:tag`).
pub async fn image_exists(engine: &Engine, reference: &str) -> Result<bool, ImageError> {
    engine
        .image_exists(reference)
        .await
        .map_err(|e| ImageError::Docker {
            doing: format!("inspecting {reference}"),
            reason: e.to_string(),
        })
}

/// How many bottom layers of `diff_ids` the Engine already has, in that order: the longest
/// common prefix with an image biar-tui loaded before.
pub async fn layers_in_engine(engine: &Engine, diff_ids: &[String]) -> Result<usize, ImageError> {
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
    let mut best = 0;
    for image in images {
        let Ok(inspect) = engine.docker.inspect_image(&image.id).await else {
            continue; // removed meanwhile
        };
        let have = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
        let common = have
            .iter()
            .zip(diff_ids)
            .take_while(|(a, b)| a == b)
            .count();
        best = best.max(common);
        if best == diff_ids.len() {
            break;
        }
    }
    Ok(best)
}

/// Loads `image` into Docker as `name:tag`, streaming the layers the Engine lacks out of
/// `source`, each verified against its digest as it streams. Does nothing when `name:tag` exists.
/// Emits `Stage { load }` and a `Layer` event per layer (`reused`: the Engine had it).
pub async fn load_into_docker(
    engine: &Engine,
    image: &ImageDescriptor,
    source: &dyn NarSource,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<LoadSummary, ImageError> {
    let reference = image.reference.reference();
    let total = image.layers.len();
    if image_exists(engine, &reference).await? {
        return Ok(LoadSummary {
            already_present: true,
            layers_total: total,
            ..Default::default()
        });
    }
    events(BuildEvent::Stage {
        name: "load".to_string(),
    });
    let have = layers_in_engine(engine, &image.diff_ids()).await?;
    let mut summary = LoadSummary {
        layers_total: total,
        ..Default::default()
    };
    for (i, l) in image.layers.iter().enumerate() {
        let reused = i < have;
        if reused {
            summary.layers_reused += 1;
            summary.bytes_reused += l.size;
        } else {
            summary.layers_sent += 1;
            summary.bytes_sent += l.size;
        }
        events(BuildEvent::Layer {
            index: i,
            total,
            digest: l.digest.clone(),
            size: l.size,
            reused,
        });
    }
    let (reader, writer) = tokio::io::duplex(1024 * 1024);
    let body = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let consumer = async {
        let mut responses = engine.docker.import_image_stream(options, body, None);
        let mut last = None;
        while let Some(item) = responses.next().await {
            match item {
                Ok(info) => last = info.stream.or(info.status).or(last),
                Err(e) => {
                    return Err(ImageError::Docker {
                        doing: format!("loading {reference}"),
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(last)
    };
    let producer = write_archive(image, have, source, writer);
    let (produced, consumed) = tokio::join!(producer, consumer);
    // The producer's error explains a consumer failure (a truncated upload), not the reverse.
    produced?;
    consumed?;
    if !image_exists(engine, &reference).await? {
        return Err(ImageError::Docker {
            doing: format!("loading {reference}"),
            reason: "the Engine accepted the archive but has no such image afterwards".to_string(),
        });
    }
    Ok(summary)
}

fn layer_file(digest: &str) -> String {
    format!("{}.tar", digest.trim_start_matches("sha256:"))
}

/// The docker-archive: layer files from `skip` up, then the config and `manifest.json`.
async fn write_archive<W: AsyncWrite + Unpin>(
    image: &ImageDescriptor,
    skip: usize,
    source: &dyn NarSource,
    mut out: W,
) -> Result<(), ImageError> {
    let werr = || ImageError::io("streaming the image to Docker");
    let send: Vec<&super::LayerDescriptor> = image.layers[skip..].iter().collect();
    let store_paths: Vec<String> = send
        .iter()
        .flat_map(|l| l.store_paths.iter().cloned())
        .collect();
    let mut nar = if store_paths.is_empty() {
        None
    } else {
        Some(source.open(&store_paths)?)
    };
    let mut head = Vec::with_capacity(1024);
    for l in &send {
        head.clear();
        tar::header(
            &mut head,
            layer_file(&l.digest).as_bytes(),
            Kind::File { size: l.size },
            0o644,
        );
        out.write_all(&head).await.map_err(werr())?;
        if l.store_paths.is_empty() {
            out.write_all(&image.root_layer).await.map_err(werr())?;
        } else {
            let nar = nar.as_mut().expect("opened for store layers");
            let d = write_layer_from(nar, &l.store_paths, &mut out).await?;
            if d.digest != l.digest || d.size != l.size {
                return Err(ImageError::DigestMismatch {
                    digest: l.digest.clone(),
                    actual: d.digest,
                    cache: super::LayerCache::default_dir().display().to_string(),
                });
            }
        }
        out.write_all(&[0u8; tar::BLOCK][..tar::padding(l.size)])
            .await
            .map_err(werr())?;
    }
    if let Some(nar) = nar.as_mut() {
        expect_end(nar, &store_paths).await?;
    }
    let config_file = format!("{}.json", image.config_digest.trim_start_matches("sha256:"));
    let manifest = serde_json::json!([{
        "Config": config_file,
        "RepoTags": [image.reference.reference()],
        "Layers": image.layers.iter().map(|l| layer_file(&l.digest)).collect::<Vec<_>>(),
    }]);
    head.clear();
    tar::file(&mut head, config_file.as_bytes(), &image.config, 0o644);
    tar::file(
        &mut head,
        b"manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
        0o644,
    );
    tar::end(&mut head);
    out.write_all(&head).await.map_err(werr())?;
    out.shutdown().await.map_err(werr())?;
    Ok(())
}
