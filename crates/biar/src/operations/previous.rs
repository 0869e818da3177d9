//! Which earlier image a build's layer plan follows: the newest image of the same name where the
//! build delivers (the registry for a push, the Engine for a load), else in the other place. Only
//! an optimization: a place that cannot be asked is logged and skipped, and without a previous
//! image the plan is made from scratch.

use std::time::Duration;

use crate::config::{ImageRef, Project};
use crate::docker::Engine;
use crate::image::PreviousImage;
use crate::registry::RegistryTarget;

/// How long a load waits for the project's registry (not where it delivers) to say what it has.
const OTHER_PLACE: Duration = Duration::from_secs(3);

/// The newest earlier image of `image.name`: in `push`'s registry then the Engine for a push; in
/// the Engine then the project's registry (if it names one, briefly) for a load.
pub async fn previous_image(
    engine: &Engine,
    project: &Project,
    image: &ImageRef,
    push: Option<&RegistryTarget>,
) -> Option<PreviousImage> {
    let in_engine = || async {
        crate::image::previous_in_engine(engine, image)
            .await
            .unwrap_or_else(|e| {
                tracing::info!("no previous image from the Engine: {e}");
                None
            })
    };
    let in_registry = |target: RegistryTarget, wait: Option<Duration>| async move {
        let ask = crate::registry::previous_in_registry(&target, image);
        let answer = match wait {
            Some(wait) => tokio::time::timeout(wait, ask).await.unwrap_or(Ok(None)),
            None => ask.await,
        };
        answer.unwrap_or_else(|e| {
            tracing::info!("no previous image from {}: {e}", target.host);
            None
        })
    };
    let found = match push {
        Some(target) => match in_registry(target.clone(), None).await {
            Some(p) => Some(p),
            None => in_engine().await,
        },
        None => match in_engine().await {
            Some(p) => Some(p),
            None => match RegistryTarget::from_config(&project.config) {
                Some(target) => in_registry(target, Some(OTHER_PLACE)).await,
                None => None,
            },
        },
    };
    if let Some(p) = &found {
        tracing::info!(
            "the layer plan follows {} (generation {})",
            p.found,
            p.record.generation
        );
    }
    found
}
