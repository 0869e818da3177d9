//! `pull`: an image from a registry into Docker under its local `name:tag`, unless Docker has it.

use crate::config::ImageRef;
use crate::registry::{pull_into_docker, PullProgress, RegistryTarget};

use super::Error;

/// What a pull tells its front end while it runs.
#[derive(Debug, Clone)]
pub enum PullEvent {
    /// Docker lacks the image: pulling `remote` starts.
    Started { remote: String },
    /// A progress line from the engine.
    Progress(PullProgress),
}

/// How a pull ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// `name:tag` was in Docker already: nothing was asked of the registry.
    AlreadyThere,
    /// Pulled from `remote` and tagged with the local name.
    Pulled { remote: String },
}

/// Pulls `image` from `target` into Docker (see [`pull_into_docker`]).
pub async fn pull(
    image: &ImageRef,
    target: &RegistryTarget,
    events: &(dyn Fn(PullEvent) + Send + Sync),
) -> Result<Pulled, Error> {
    let remote = target.reference(image)?;
    let engine = crate::docker::connect().await?;
    if engine.image_exists(&image.reference()).await? {
        return Ok(Pulled::AlreadyThere);
    }
    let client = target.client()?;
    events(PullEvent::Started {
        remote: remote.to_string(),
    });
    pull_into_docker(&engine, &client, &remote, image, &|p| {
        events(PullEvent::Progress(p))
    })
    .await?;
    Ok(Pulled::Pulled {
        remote: remote.to_string(),
    })
}
