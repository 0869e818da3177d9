//! The closure explorer's use case: the environment's closure, evaluated and built (or found in
//! the store) in the builder without making an image, indexed with the layer plan the image
//! would have.

use tokio_util::sync::CancellationToken;

use crate::config::Project;
use crate::image::{plan_with, LayerCache, Strategy};
use crate::inspect::ClosureModel;
use crate::nixbuild::{BuildError, BuildOptions, ClosureGraph};
use crate::progress;

/// What [`inspect_closure`] found.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub model: ClosureModel,
    /// The graph as Nix gave it (for `--closure-json`-style output and tests).
    pub graph: ClosureGraph,
}

/// Builds `project`'s environment (Nix reuses what the store has: a built environment costs an
/// evaluation) and indexes its closure: sizes, why-chains, the layer each path lands in and
/// each layer's size (from the layer cache when an earlier image made it). Progress goes to
/// `events`; `cancel` stops the build.
pub async fn inspect_closure(
    project: &Project,
    events: progress::Sender,
    cancel: CancellationToken,
) -> Result<Inspected, crate::Error> {
    let engine = crate::docker::connect().await?;
    let built =
        crate::nixbuild::run(&engine, project, &BuildOptions::default(), events, cancel).await?;
    // The closure is all we need: the container goes at once.
    built.container.remove().await;
    let (graph, env_path) = (built.closure, built.env_path);
    let max_layers = project.config.image.max_layers;
    tokio::task::spawn_blocking(move || model_of(graph, &env_path, max_layers))
        .await
        .map_err(|e| BuildError::Other(format!("indexing the closure: {e}")))?
}

/// The model of `graph` with the default layer plan and the layer cache's sizes.
pub fn model_of(
    graph: ClosureGraph,
    env_path: &str,
    max_layers: usize,
) -> Result<Inspected, crate::Error> {
    let plan = plan_with(&graph, max_layers, Strategy::default())?;
    let cache = LayerCache::open_default();
    let model = ClosureModel::new(&graph, env_path)?
        .with_layers(&plan, |i| cache.get(&plan.layers[i].paths).map(|d| d.size));
    Ok(Inspected { model, graph })
}
