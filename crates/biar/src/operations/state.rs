//! What the front ends say about the project's image and the engine, without changing anything.

use std::path::Path;
use std::time::Duration;

use crate::config::Project;
use crate::registry::RegistryTarget;

/// Where the configuration's image is, as far as a quick look tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    /// The project does not load or name an image, or Docker does not answer.
    Unknown,
    /// `name:tag` is in Docker.
    Local,
    /// Not in Docker, but in the project's registry.
    Registry,
    NotBuilt,
}

/// A registry that does not answer within this is as good as absent for [`image_state`].
const REGISTRY_PATIENCE: Duration = Duration::from_secs(5);

/// Is the image of the project in `dir` built: in Docker, else in its registry?
pub async fn image_state(dir: &Path) -> ImageState {
    let Ok(project) = Project::load(dir) else {
        return ImageState::Unknown;
    };
    let Ok(image) = project.image_ref() else {
        return ImageState::Unknown;
    };
    let Ok(engine) = crate::docker::connect().await else {
        return ImageState::Unknown;
    };
    match crate::run::image_exists(&engine, &image.reference()).await {
        Ok(true) => return ImageState::Local,
        Ok(false) => {}
        Err(_) => return ImageState::Unknown,
    }
    let Some(target) = RegistryTarget::from_config(&project.config) else {
        return ImageState::NotBuilt;
    };
    let asked = tokio::time::timeout(
        REGISTRY_PATIENCE,
        crate::registry::exists_in_registry(&target, &image),
    );
    match asked.await {
        Ok(Ok(true)) => ImageState::Registry,
        _ => ImageState::NotBuilt,
    }
}

/// The Docker Engine's version, or why it cannot be reached.
pub async fn docker_version() -> Result<String, crate::docker::DockerError> {
    let engine = crate::docker::connect().await?;
    Ok(engine.version().await.unwrap_or_else(|| "up".into()))
}
