//! `diff`: what changes from a recorded generation to another, or to the current configuration,
//! and (for the current configuration) what a push would upload, mount or skip: from the layer
//! plan, the layer cache and the registry's HEADs, before any byte is sent.

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Project;
use crate::image::{BuilderStore, ImageInput, LayerCache};
use crate::inspect::{diff, store_name, Diff, History, Snapshot};
use crate::nixbuild::BuildOptions;
use crate::progress;
use crate::registry::{PushPrediction, RegistryTarget};

/// One layer of the image the current configuration makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageLayer {
    pub index: usize,
    pub digest: String,
    pub size: u64,
    /// Store paths in it (0 for the root layer).
    pub paths: usize,
}

/// What [`diff_project`] found.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub diff: Diff,
    /// The image of the current configuration, bottom layer first (when TO is the current one).
    pub layers: Vec<ImageLayer>,
    /// What a push would do (when TO is the current configuration and the project names a
    /// registry).
    pub push: Option<PushPrediction>,
}

/// The changes from `from` (a generation number or `name:tag` from the history; default the
/// newest generation, or nothing) to `to` (likewise; default the current configuration, built
/// without making an image, then described as the image it would make). A `from` or `to` the
/// history does not hold is bad input, said before anything is built.
pub async fn diff_project(
    project: &Project,
    from: Option<&str>,
    to: Option<&str>,
    events: progress::Sender,
    cancel: CancellationToken,
) -> Result<DiffReport, crate::Error> {
    let history = History::of(&project.root);
    let from_snapshot = match from {
        Some(q) => Snapshot::of_generation(&history.find(q)?),
        None => history
            .last()
            .map(|g| Snapshot::of_generation(&g))
            .unwrap_or_else(|| Snapshot {
                label: "nothing (no generation yet)".into(),
                ..Default::default()
            }),
    };
    if let Some(q) = to {
        let to_snapshot = Snapshot::of_generation(&history.find(q)?);
        return Ok(DiffReport {
            diff: diff(&from_snapshot, &to_snapshot),
            layers: Vec::new(),
            push: None,
        });
    }
    let reference = project.image_ref()?;
    let engine = crate::docker::connect().await?;
    let built = crate::nixbuild::run(
        &engine,
        project,
        &BuildOptions::default(),
        events.clone(),
        cancel.clone(),
    )
    .await?;
    let result = async {
        // The layers a push would make: following the image a push would follow.
        let target = RegistryTarget::from_config(&project.config);
        let previous = super::previous_image(&engine, project, &reference, target.as_ref()).await;
        let input = ImageInput {
            reference: reference.clone(),
            env_path: &built.env_path,
            closure: &built.closure,
            settings: &project.config.image,
            strategy: Default::default(),
            previous: previous.as_ref().map(|p| &p.record),
            labels: super::labels(project, &reference, &built.packages),
        };
        let source = BuilderStore {
            engine: built.container.engine().clone(),
            container: built.container.id().to_string(),
        };
        // Digests first, as a push needs them: layers the cache knows are not read; the others
        // are read once (hashed, sent nowhere) and recorded, so the push after reads nothing.
        let emit = |e| events.send(e);
        let cache = LayerCache::open_default();
        let assemble = crate::image::assemble(&input, &source, &cache, &emit);
        let image = tokio::select! {
            _ = cancel.cancelled() => return Err(crate::nixbuild::BuildError::Cancelled.into()),
            r = assemble => r?,
        };
        let push = match target {
            Some(target) => {
                Some(crate::registry::predict_push(&target, &reference, &image.push_image()).await?)
            }
            None => None,
        };
        let layers = image
            .layers
            .iter()
            .enumerate()
            .map(|(index, l)| ImageLayer {
                index,
                digest: l.digest.clone(),
                size: l.size,
                paths: l.store_paths.len(),
            })
            .collect();
        Ok::<_, crate::Error>((layers, push))
    };
    let result = result.await;
    built.container.remove().await;
    let (layers, push) = result?;
    let mut paths: Vec<String> = built.closure.paths.iter().map(|p| p.path.clone()).collect();
    paths.sort();
    let current = Snapshot {
        label: format!("current configuration ({})", reference.reference()),
        packages: built
            .packages
            .iter()
            .map(|p| store_name(p).to_string())
            .collect(),
        paths,
        closure_size: Some(built.closure.total_nar_size()),
    };
    Ok(DiffReport {
        diff: diff(&from_snapshot, &current),
        layers,
        push,
    })
}
