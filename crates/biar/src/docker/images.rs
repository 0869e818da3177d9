//! Image calls on the engine for the modules above: the images biar-tui loaded (by label), an
//! image's history, loading a docker-archive stream, pulling from a registry, tagging.

use std::collections::HashMap;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ImportImageOptionsBuilder, ListImagesOptionsBuilder,
    TagImageOptionsBuilder,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::{DockerError, Engine};

/// An image in the engine: its id and its layers' diff IDs, bottom first.
#[derive(Debug, Clone)]
pub struct EngineImageLayers {
    pub id: String,
    pub layers: Vec<String>,
}

/// An image in the engine with its tags, labels and when it was last tagged here (RFC 3339, as
/// the engine says it; none when it never was).
#[derive(Debug, Clone)]
pub struct LabelledImage {
    pub id: String,
    pub tags: Vec<String>,
    pub labels: HashMap<String, String>,
    pub last_tag_time: Option<String>,
}

/// Who pulls from a registry: sent to the engine for that registry only.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
    /// The registry's host (`host:port`).
    pub server: String,
}

/// One progress line of a pull (`id` is a layer, `status` e.g. `Downloading`).
#[derive(Debug, Clone, Default)]
pub struct PullLine {
    pub id: Option<String>,
    pub status: Option<String>,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

impl Engine {
    /// The engine's images that carry `label`, with their layers; one removed meanwhile is left out.
    pub async fn images_labelled(
        &self,
        label: &str,
    ) -> Result<Vec<EngineImageLayers>, DockerError> {
        let images = self.inspected_images(label).await?;
        Ok(images
            .into_iter()
            .map(|(image, inspect)| EngineImageLayers {
                id: image.id,
                layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            })
            .collect())
    }

    /// The engine's images whose labels match `filter` (`key` or `key=value`), with their labels
    /// and last tag time; one removed meanwhile is left out.
    pub async fn images_matching(&self, filter: &str) -> Result<Vec<LabelledImage>, DockerError> {
        let images = self.inspected_images(filter).await?;
        Ok(images
            .into_iter()
            .map(|(image, inspect)| LabelledImage {
                id: image.id,
                tags: image.repo_tags,
                labels: image.labels,
                last_tag_time: inspect.metadata.and_then(|m| m.last_tag_time),
            })
            .collect())
    }

    /// The images matching the label filter, each with its inspection; one removed between the
    /// list and its inspection is left out.
    async fn inspected_images(
        &self,
        filter: &str,
    ) -> Result<Vec<(bollard::models::ImageSummary, bollard::models::ImageInspect)>, DockerError>
    {
        let filters = HashMap::from([("label".to_string(), vec![filter.to_string()])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(DockerError::api("listing images"))?;
        let mut found = Vec::with_capacity(images.len());
        for image in images {
            let Ok(inspect) = self.docker.inspect_image(&image.id).await else {
                continue; // removed meanwhile
            };
            found.push((image, inspect));
        }
        Ok(found)
    }

    /// An image's history, `created_by` per entry, bottom first; empty when it cannot be read.
    pub async fn image_history(&self, id: &str) -> Vec<String> {
        let items = self.docker.image_history(id).await.unwrap_or_default();
        items.into_iter().rev().map(|i| i.created_by).collect()
    }

    /// Loads a docker-archive (`POST /images/load`) streamed from `body`; returns once the engine
    /// has answered to the end.
    pub async fn load_archive<S>(&self, body: S) -> Result<(), DockerError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut responses = self.docker.import_image_stream(options, body, None);
        while let Some(item) = responses.next().await {
            item.map_err(DockerError::api("loading an image"))?;
        }
        Ok(())
    }

    /// Pulls `image:tag` through the engine, which skips the layers it has; yields its progress.
    pub fn pull_image<'a>(
        &'a self,
        image: &str,
        tag: &str,
        login: Option<RegistryLogin>,
    ) -> impl Stream<Item = Result<PullLine, DockerError>> + 'a {
        let credentials = login.map(|l| DockerCredentials {
            username: Some(l.username),
            password: Some(l.password),
            serveraddress: Some(l.server),
            ..Default::default()
        });
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .tag(tag)
            .build();
        self.docker
            .create_image(Some(options), None, credentials)
            .map(|item| {
                let info = item.map_err(DockerError::api("pulling an image"))?;
                let detail = info.progress_detail.unwrap_or_default();
                Ok(PullLine {
                    id: info.id,
                    status: info.status,
                    current: detail.current,
                    total: detail.total,
                })
            })
    }

    /// Removes the images of `repository` other than `keep` (`repository:tag`); one in use, or
    /// any error, leaves it.
    pub async fn remove_other_tags(&self, repository: &str, keep: &str) {
        let filters = HashMap::from([("reference".to_string(), vec![repository.to_string()])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let Ok(images) = self.docker.list_images(Some(options)).await else {
            return;
        };
        for tag in images.iter().flat_map(|i| i.repo_tags.iter()) {
            if tag != keep && tag.starts_with(&format!("{repository}:")) {
                let _ = self
                    .docker
                    .remove_image(
                        tag,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await;
            }
        }
    }

    /// Tags the image `source` as `repo:tag`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker
            .tag_image(source, Some(options))
            .await
            .map_err(DockerError::api(format!("tagging {source}")))
    }
}
