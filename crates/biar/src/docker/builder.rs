//! The builder: an image with Nix (`builder.image`, default `biar-builder:latest`) and the named
//! volume holding the Nix store (`builder.storeVolume`, default `biar-nix-store`, at `/nix`).
//!
//! [`create`] makes both and is safe to run again: it reports what already existed.
//! The default source is a pinned official Nix image pulled through the API, adjusted for
//! containers (no build sandbox, no build users, tar/gzip for Nix's builtins) and committed;
//! `offline` makes the image from this host's Debian packages instead (see `offline.rs`).

use std::collections::HashMap;

use bollard::models::{ContainerConfig, ContainerCreateBody, VolumeCreateRequest};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
};
use futures::StreamExt;

use super::{offline, DockerError, Engine};
use crate::config::BuilderSettings;

/// The official Nix image `builder create` starts from when it may pull.
pub const OFFICIAL_NIX_IMAGE: &str = "nixos/nix:2.24.14";

/// What `create` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReport {
    pub image: String,
    pub image_existed: bool,
    pub volume: String,
    pub volume_existed: bool,
}

/// What exists now, for `builder status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuilderStatus {
    pub engine: String,
    pub image: String,
    pub image_info: Option<ImageInfo>,
    pub volume: String,
    pub volume_exists: bool,
    /// Builder containers running now (label `biar=builder`).
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub created: String,
}

/// Makes the builder image and the store volume if missing.
/// `progress` receives human-readable steps.
pub async fn create(
    engine: &Engine,
    settings: &BuilderSettings,
    offline: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<CreateReport, DockerError> {
    let image_existed = image_info(engine, &settings.image).await?.is_some();
    if !image_existed {
        if offline {
            offline::create_image(engine, settings, progress).await?;
        } else {
            create_from_official(engine, settings, progress).await?;
        }
    }
    let volume_existed = volume_exists(engine, &settings.store_volume).await?;
    if !volume_existed {
        progress(&format!("creating volume {}", settings.store_volume));
        engine
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(settings.store_volume.clone()),
                labels: Some(HashMap::from([("biar".to_string(), "store".to_string())])),
                ..Default::default()
            })
            .await
            .map_err(DockerError::api(format!(
                "creating volume {}",
                settings.store_volume
            )))?;
    }
    // Initialise a new store now, so concurrent first builds do not race to create it.
    if !image_existed || !volume_existed {
        progress("initialising the Nix store");
        let container = super::BuilderContainer::start(engine, settings, "init").await?;
        let result = container
            .exec_checked(&["nix-store", "--init"])
            .await
            .map(|_| ());
        container.remove().await;
        result?;
    }
    Ok(CreateReport {
        image: settings.image.clone(),
        image_existed,
        volume: settings.store_volume.clone(),
        volume_existed,
    })
}

/// Fails with "run `biar-tui builder create`" unless both the image and the volume exist.
pub async fn ensure_exists(engine: &Engine, settings: &BuilderSettings) -> Result<(), DockerError> {
    if image_info(engine, &settings.image).await?.is_none() {
        return Err(DockerError::BuilderImageMissing {
            image: settings.image.clone(),
            address: engine.address.clone(),
        });
    }
    if !volume_exists(engine, &settings.store_volume).await? {
        return Err(DockerError::StoreVolumeMissing {
            volume: settings.store_volume.clone(),
            address: engine.address.clone(),
        });
    }
    Ok(())
}

pub async fn status(
    engine: &Engine,
    settings: &BuilderSettings,
) -> Result<BuilderStatus, DockerError> {
    let containers = engine
        .docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&HashMap::from([(
                    "label".to_string(),
                    vec!["biar=builder".to_string()],
                )]))
                .build(),
        ))
        .await
        .map_err(DockerError::api("listing builder containers"))?
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.first().cloned()))
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    Ok(BuilderStatus {
        engine: engine.address.clone(),
        image: settings.image.clone(),
        image_info: image_info(engine, &settings.image).await?,
        volume: settings.store_volume.clone(),
        volume_exists: volume_exists(engine, &settings.store_volume).await?,
        containers,
    })
}

/// The image's id, size and creation time, or `None` when the engine does not have it.
pub async fn image_info(engine: &Engine, image: &str) -> Result<Option<ImageInfo>, DockerError> {
    match engine.docker.inspect_image(image).await {
        Ok(info) => Ok(Some(ImageInfo {
            id: info.id.unwrap_or_default(),
            size: info.size.unwrap_or(0).max(0) as u64,
            created: info.created.unwrap_or_default(),
        })),
        Err(e) if DockerError::is_not_found(&e) => Ok(None),
        Err(e) => Err(DockerError::api(format!("inspecting image {image}"))(e)),
    }
}

pub async fn volume_exists(engine: &Engine, volume: &str) -> Result<bool, DockerError> {
    match engine.docker.inspect_volume(volume).await {
        Ok(_) => Ok(true),
        Err(e) if DockerError::is_not_found(&e) => Ok(false),
        Err(e) => Err(DockerError::api(format!("inspecting volume {volume}"))(e)),
    }
}

/// Splits `repo[:tag]` (a registry port's colon is not a tag).
pub fn split_reference(image: &str) -> (&str, &str) {
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

/// Pulls the official image, then runs a setup script in a container of it and commits the
/// result as the builder image.
async fn create_from_official(
    engine: &Engine,
    settings: &BuilderSettings,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DockerError> {
    progress(&format!("pulling {OFFICIAL_NIX_IMAGE}"));
    let (repo, tag) = split_reference(OFFICIAL_NIX_IMAGE);
    let mut pull = engine.docker.create_image(
        Some(
            CreateImageOptionsBuilder::default()
                .from_image(repo)
                .tag(tag)
                .build(),
        ),
        None,
        None,
    );
    while let Some(item) = pull.next().await {
        item.map_err(|e| DockerError::Pull {
            image: OFFICIAL_NIX_IMAGE.to_string(),
            reason: e.to_string(),
        })?;
    }
    progress("configuring Nix for a container (no sandbox, no build users, tar and gzip)");
    // The Nixery note: no sandbox in containers, Nix's users/groups written by hand, and the
    // tools Nix's builtins call without store paths (tar, gzip) on PATH.
    let script = format!(
        "set -e; mkdir -p /etc/nix; \
         printf 'sandbox = false\\nbuild-users-group =\\nsubstituters = {subs}\\ntrusted-public-keys = {keys}\\nexperimental-features = nix-command\\n' > /etc/nix/nix.conf; \
         grep -q '^root:' /etc/passwd || echo 'root:x:0:0:root:/root:/bin/sh' >> /etc/passwd; \
         grep -q '^root:' /etc/group || echo 'root:x:0:' >> /etc/group; \
         grep -q '^nixbld:' /etc/group || echo 'nixbld:x:30000:' >> /etc/group; \
         mkdir -p /tmp && chmod 1777 /tmp; \
         command -v tar && command -v gzip",
        subs = settings.substituters.join(" "),
        keys = settings.trusted_public_keys.join(" ")
    );
    let docker = &engine.docker;
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(OFFICIAL_NIX_IMAGE.to_string()),
                cmd: Some(vec!["sh".into(), "-c".into(), script]),
                ..Default::default()
            },
        )
        .await
        .map_err(DockerError::api(format!(
            "creating a setup container of {OFFICIAL_NIX_IMAGE}"
        )))?;
    let id = created.id;
    let result = async {
        docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(DockerError::api("starting the setup container"))?;
        let mut wait =
            docker.wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
        while let Some(r) = wait.next().await {
            r.map_err(DockerError::api("setting up the builder image"))?;
        }
        let (repo, tag) = split_reference(&settings.image);
        docker
            .commit_container(
                CommitContainerOptionsBuilder::default()
                    .container(&id)
                    .repo(repo)
                    .tag(tag)
                    .build(),
                ContainerConfig {
                    labels: Some(HashMap::from([(
                        "biar.builder".to_string(),
                        OFFICIAL_NIX_IMAGE.to_string(),
                    )])),
                    ..Default::default()
                },
            )
            .await
            .map_err(DockerError::api(format!("committing {}", settings.image)))?;
        Ok(())
    }
    .await;
    super::container::remove_container(engine, &id).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_colon_only() {
        assert_eq!(
            split_reference("biar-builder:latest"),
            ("biar-builder", "latest")
        );
        assert_eq!(split_reference("biar-builder"), ("biar-builder", "latest"));
        assert_eq!(
            split_reference("localhost:5000/b/x:1"),
            ("localhost:5000/b/x", "1")
        );
        assert_eq!(
            split_reference("localhost:5000/b/x"),
            ("localhost:5000/b/x", "latest")
        );
    }
}
