//! Reading an image without running it, for the doctor: its config from the engine's inspect,
//! its files through a container that is created and never started (the engine's archive API
//! reads its filesystem: stat for modes and links, a tar of a path for contents and owners).
//! Paths only ever go to the engine as an API parameter, never to a shell.

use std::collections::BTreeMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{owner, remove_container, DockerError, Engine};

/// An image's config as the engine reports it (`Config.User`, `Env`, `Labels`).
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub id: Option<String>,
    pub user: String,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// The engine's stat of a path: Go's `os.FileMode` bits and the target of a link.
#[derive(Debug, Clone, Default)]
pub struct PathStat {
    pub mode: u32,
    pub link_target: String,
}

impl Engine {
    /// An image's config; `None` when the engine has no such image.
    pub async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>, DockerError> {
        let image = match self.docker.inspect_image(reference).await {
            Ok(i) => i,
            Err(e) if DockerError::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(DockerError::api(format!("inspecting {reference}"))(e)),
        };
        let config = image.config.unwrap_or_default();
        Ok(Some(ImageConfig {
            id: image.id,
            user: config.user.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
        }))
    }
}

/// A never-started container of an image, named `name`, to read the image's files. Watched by
/// the owner watcher from its creation; [`ImageFiles::remove`] removes it.
pub struct ImageFiles<'a> {
    engine: &'a Engine,
    name: String,
}

impl<'a> ImageFiles<'a> {
    /// Creates the container of `image` (an id or a reference; `reference` names it in errors).
    pub async fn create(
        engine: &'a Engine,
        name: &str,
        image: &str,
        reference: &str,
    ) -> Result<ImageFiles<'a>, DockerError> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            // Never started: an entrypoint is needed to create a container of an image without one.
            entrypoint: Some(vec!["/biar-doctor-never-runs".to_string()]),
            cmd: Some(Vec::new()),
            network_disabled: Some(true),
            labels: Some(owner::labels()),
            ..Default::default()
        };
        owner::create_container(engine, name, body)
            .await
            .map_err(DockerError::api(format!(
                "creating a container of {reference}"
            )))?;
        Ok(ImageFiles {
            engine,
            name: name.to_string(),
        })
    }

    /// The engine's stat of `path` (links not followed); `None` when nothing is there.
    pub async fn stat(&self, path: &str) -> Result<Option<PathStat>, DockerError> {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        match self
            .engine
            .docker
            .get_container_archive_info(&self.name, Some(options))
            .await
        {
            Ok(s) => Ok(Some(PathStat {
                mode: s.file_mode,
                link_target: s.link_target,
            })),
            Err(e) if DockerError::is_not_found(&e) => Ok(None),
            Err(e) => Err(DockerError::api(format!("reading {path} in the image"))(e)),
        }
    }

    /// The start of the engine's tar of `path`: at least `limit` bytes unless the tar is shorter
    /// (read in chunks, stopped once past the limit).
    pub async fn tar_head(&self, path: &str, limit: usize) -> Result<Vec<u8>, DockerError> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .engine
            .docker
            .download_from_container(&self.name, Some(options));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(DockerError::api(format!("reading {path} in the image")))?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() >= limit {
                break;
            }
        }
        Ok(bytes)
    }

    /// Removes the container and stops watching it.
    pub async fn remove(self) {
        remove_container(self.engine, &self.name).await;
        owner::unwatch(&self.name);
    }
}
