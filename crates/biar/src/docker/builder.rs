//! The builder: an image with Nix (`builder.image`, default `biar-builder:latest`) and the named
//! volume holding the Nix store (`builder.storeVolume`, default `biar-nix-store`, at `/nix`).
//!
//! [`create`] makes both and is safe to run again: it reports what already existed.
//! The default source is a pinned official Nix image pulled through the API, adjusted for
//! containers (build users, no sandbox, tar/gzip for Nix's builtins) and committed; `offline`
//! makes the image from this host's Debian packages instead (see `offline.rs`).
//!
//! Both kinds run every build as an unprivileged build user (`nixbld1`…, Nix's multi-user
//! model): the store is shared by every project, and a build running as root could rewrite any
//! path in it, so every later image holding that path. A build user can write only its own
//! outputs. Nix's sandbox cannot start under Docker's default seccomp profile, and the builder
//! is never made privileged for it: `sandbox = false`, and `sandbox-fallback = false` so nothing
//! ever silently runs unsandboxed where a sandbox was asked for.

use std::collections::HashMap;

use bollard::models::{ContainerConfig, ContainerCreateBody, VolumeCreateRequest};
use std::path::PathBuf;

use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures::StreamExt;

use super::tar_stream::{tar_stream, TarEntry};
use super::{offline, DockerError, Engine};
use crate::config::BuilderSettings;

/// The official Nix image `builder create` starts from when it may pull (the default of the
/// builder settings, which config owns).
pub use crate::config::OFFICIAL_NIX_IMAGE;

/// How many build users (`nixbld1`…) the builder has: builds wait for a free one, so this is
/// the most derivations built at once over all concurrent builds sharing the store.
pub const BUILD_USERS: u32 = 32;
/// The label saying which builder layout an image has; images without it (made by biar-tui
/// before build users) run builds as root and are re-created by `create`.
pub const FORMAT_LABEL: &str = "biar.builder.format";
/// Version 2: build users, explicit sandbox settings.
pub const FORMAT: &str = "2";

/// What `create` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReport {
    pub image: String,
    pub image_existed: bool,
    /// The image existed but was made by an older biar-tui (builds as root) and was re-created.
    pub image_replaced: bool,
    pub volume: String,
    pub volume_existed: bool,
}

/// What exists now, for `builder status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuilderStatus {
    /// The engine's address as the user names it (`unix://…`, `tcp://…`, `ssh://…`).
    pub engine: String,
    /// How that engine was chosen: `DOCKER_HOST`, `DOCKER_CONTEXT=NAME`, the config's
    /// `currentContext`, the local socket.
    pub engine_chosen_by: String,
    pub engine_transport: super::Transport,
    /// The engine's product and version (`Docker Engine 20.10.24`, `Podman Engine 4.3.1`).
    pub engine_version: Option<String>,
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
    /// Made by an older biar-tui: builds in it run as root, so it is refused until re-created.
    pub outdated: bool,
}

/// Makes the builder image and the store volume if missing.
/// `progress` receives human-readable steps.
pub async fn create(
    engine: &Engine,
    settings: &BuilderSettings,
    offline: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<CreateReport, DockerError> {
    let existing = image_info(engine, &settings.image).await?;
    let image_existed = existing.is_some();
    let image_replaced = existing.as_ref().is_some_and(|i| i.outdated);
    if image_replaced {
        progress(&format!(
            "{} was made by an older biar-tui (builds run as root there); re-creating it",
            settings.image
        ));
    }
    if !image_existed || image_replaced {
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
    if !image_existed || image_replaced || !volume_existed {
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
        image_replaced,
        volume: settings.store_volume.clone(),
        volume_existed,
    })
}

/// How `create` makes a missing builder image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuilderSource {
    /// From the settings' `baseImage` (the official Nix image), pulled unless the engine has it.
    Official,
    /// From this host's Debian packages, pulling nothing.
    Offline,
}

impl std::str::FromStr for BuilderSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "official" => Ok(BuilderSource::Official),
            "offline" => Ok(BuilderSource::Offline),
            other => Err(format!(
                "{other:?} is not a way to make the builder: `official` (pull the Nix image) or `offline` (this host's Debian packages)"
            )),
        }
    }
}

/// What `create` would make on this engine: only what is missing (or outdated).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuilderPlan {
    pub engine: String,
    /// The builder image, when it must be made.
    pub image: Option<String>,
    /// The image exists but was made by an older biar-tui (builds as root): it is re-created.
    pub image_outdated: bool,
    /// The store volume, when it must be made.
    pub volume: Option<String>,
    /// Where an image would come from with [`BuilderSource::Official`].
    pub base_image: String,
}

impl BuilderPlan {
    /// What `create` will do, one line a step, saying where the image comes from.
    pub fn steps(&self, source: BuilderSource) -> Vec<String> {
        let mut steps = Vec::new();
        if let Some(image) = &self.image {
            let verb = if self.image_outdated {
                "re-create the builder image (the one there was made by an older biar-tui and runs builds as root)"
            } else {
                "create the builder image"
            };
            steps.push(match source {
                BuilderSource::Official => format!(
                    "{verb} {image} from {} (pulled unless the engine has it)",
                    self.base_image
                ),
                BuilderSource::Offline => format!(
                    "{verb} {image} from this host's Debian packages ({}; fetched with apt, nothing pulled)",
                    super::offline::ROOT_PACKAGES.join(", ")
                ),
            });
        }
        if let Some(volume) = &self.volume {
            steps.push(format!("create the Nix store volume {volume}"));
        }
        steps.push(format!("on the Docker Engine at {}", self.engine));
        steps
    }
}

/// What is missing for builds on this engine, `None` when the builder is ready.
pub async fn plan(
    engine: &Engine,
    settings: &BuilderSettings,
) -> Result<Option<BuilderPlan>, DockerError> {
    let info = image_info(engine, &settings.image).await?;
    let image_outdated = info.as_ref().is_some_and(|i| i.outdated);
    let image = (info.is_none() || image_outdated).then(|| settings.image.clone());
    let volume = (!volume_exists(engine, &settings.store_volume).await?)
        .then(|| settings.store_volume.clone());
    if image.is_none() && volume.is_none() {
        return Ok(None);
    }
    Ok(Some(BuilderPlan {
        engine: engine.address.clone(),
        image,
        image_outdated,
        volume,
        base_image: settings.base_image.clone(),
    }))
}

/// Fails with "run `biar-tui builder create`" unless both the image and the volume exist and
/// the image runs builds as build users.
pub async fn ensure_exists(engine: &Engine, settings: &BuilderSettings) -> Result<(), DockerError> {
    match image_info(engine, &settings.image).await? {
        None => {
            return Err(DockerError::BuilderImageMissing {
                image: settings.image.clone(),
                address: engine.address.clone(),
            })
        }
        Some(info) if info.outdated => {
            return Err(DockerError::BuilderImageOutdated {
                image: settings.image.clone(),
                address: engine.address.clone(),
            })
        }
        Some(_) => {}
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
        engine_chosen_by: engine.chosen_by.clone(),
        engine_transport: engine.transport,
        engine_version: engine.product().await,
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
            outdated: info
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(FORMAT_LABEL))
                .is_none_or(|v| v != FORMAT),
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

/// The builder's `/etc/nix/nix.conf`. Config load validated the substituters and keys; they
/// are checked again here because this text is the builder's configuration: one word each, so
/// none can add a setting of its own.
pub(super) fn nix_conf(settings: &BuilderSettings) -> Result<String, DockerError> {
    for s in &settings.substituters {
        crate::config::check_substituter(s)
            .map_err(|why| DockerError::Other(format!("substituter {s:?}: {why}")))?;
    }
    for k in &settings.trusted_public_keys {
        crate::config::check_public_key(k)
            .map_err(|why| DockerError::Other(format!("trusted public key {k:?}: {why}")))?;
    }
    Ok(format!(
        "# written by biar-tui builder create\n\
         # Builds run as the build users nixbld1..{BUILD_USERS} (Nix's multi-user model): a build\n\
         # can write only its own outputs, never a path already in the shared store.\n\
         build-users-group = nixbld\n\
         # Nix's sandbox cannot start under Docker's default seccomp profile (\"cloning builder\n\
         # process: Operation not permitted\") and the builder is never made privileged for it.\n\
         # No sandbox, and never a silent fallback to none where one is asked for.\n\
         sandbox = false\n\
         sandbox-fallback = false\n\
         substituters = {}\n\
         trusted-public-keys = {}\n\
         experimental-features = nix-command\n",
        settings.substituters.join(" "),
        settings.trusted_public_keys.join(" ")
    ))
}

/// `/etc/passwd` lines of the build users: uid 30001…, group `nixbld` (30000), no login.
pub(super) fn build_user_passwd_lines() -> String {
    (1..=BUILD_USERS)
        .map(|i| {
            format!(
                "nixbld{i}:x:{}:30000:Nix build user {i}:/var/empty:/bin/false\n",
                30000 + i
            )
        })
        .collect()
}

/// The `/etc/group` line of `nixbld` with every build user as a member (Nix refuses a build
/// users group without members).
pub(super) fn nixbld_group_line() -> String {
    let members: Vec<String> = (1..=BUILD_USERS).map(|i| format!("nixbld{i}")).collect();
    format!("nixbld:x:30000:{}\n", members.join(","))
}

/// The setup script run in a container of the base image. Constant text: every value it needs
/// (nix.conf, the users) arrives as a file in `/biar-setup` uploaded before it starts, so no
/// setting can become a command.
const SETUP_SCRIPT: &str = r#"set -e
mkdir -p /etc/nix /var/empty
rm -f /etc/nix/nix.conf
cp /biar-setup/nix.conf /etc/nix/nix.conf
grep -q '^root:' /etc/passwd || echo 'root:x:0:0:root:/root:/bin/sh' >> /etc/passwd
grep -q '^root:' /etc/group || echo 'root:x:0:' >> /etc/group
grep -v '^nixbld[0-9]*:' /etc/passwd > /biar-setup/passwd.new
cat /biar-setup/passwd.new /biar-setup/passwd > /biar-setup/passwd.all
grep -v '^nixbld:' /etc/group > /biar-setup/group.new
cat /biar-setup/group >> /biar-setup/group.new
rm -f /etc/passwd /etc/group
cp /biar-setup/passwd.all /etc/passwd
cp /biar-setup/group.new /etc/group
chmod 644 /etc/passwd /etc/group /etc/nix/nix.conf
rm -rf /biar-setup
mkdir -p /tmp && chmod 1777 /tmp
command -v tar && command -v gzip
"#;

/// Makes the builder from `settings.base_image` (an official Nix image; pulled unless the
/// engine has it): a container of it gets nix.conf and the build users, and is committed as the
/// builder image.
async fn create_from_official(
    engine: &Engine,
    settings: &BuilderSettings,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DockerError> {
    let base = settings.base_image.as_str();
    if image_info(engine, base).await?.is_none() {
        progress(&format!("pulling {base}"));
        pull(engine, base).await?;
    }
    progress("configuring Nix for a container (build users, no sandbox, tar and gzip)");
    let setup_files = tar_stream(setup_entries(settings)?);
    // Named and watched like every container we make, so a biar-tui killed mid-setup (even by
    // SIGKILL) leaves none behind. No owner labels: a commit would copy them into the builder.
    let name = format!(
        "biar-setup-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let created = super::owner::create_container(
        engine,
        &name,
        ContainerCreateBody {
            image: Some(base.to_string()),
            cmd: Some(vec!["sh".into(), "-c".into(), SETUP_SCRIPT.into()]),
            ..Default::default()
        },
    )
    .await
    .map_err(DockerError::api(format!(
        "creating a setup container of {base}"
    )))?;
    let id = created.id;
    let result = set_up_and_commit(engine, &id, setup_files, settings).await;
    super::container::remove_container(engine, &id).await;
    super::owner::unwatch(&name);
    result
}

/// Pulls `image` (`repo:tag`) into the engine.
async fn pull(engine: &Engine, image: &str) -> Result<(), DockerError> {
    let (repo, tag) = split_reference(image);
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
            image: image.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The files [`SETUP_SCRIPT`] installs: nix.conf and the build users and their group.
fn setup_entries(settings: &BuilderSettings) -> Result<Vec<TarEntry>, DockerError> {
    Ok(vec![
        TarEntry::File {
            dest: PathBuf::from("biar-setup/nix.conf"),
            bytes: nix_conf(settings)?.into_bytes(),
            mode: 0o644,
        },
        TarEntry::File {
            dest: PathBuf::from("biar-setup/passwd"),
            bytes: build_user_passwd_lines().into_bytes(),
            mode: 0o644,
        },
        TarEntry::File {
            dest: PathBuf::from("biar-setup/group"),
            bytes: nixbld_group_line().into_bytes(),
            mode: 0o644,
        },
    ])
}

/// In the setup container `id`: upload `setup_files`, run [`SETUP_SCRIPT`] to its end, then
/// commit the container as the builder image (`settings.image`), labelled with its base and
/// format.
async fn set_up_and_commit(
    engine: &Engine,
    id: &str,
    setup_files: impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    settings: &BuilderSettings,
) -> Result<(), DockerError> {
    let docker = &engine.docker;
    let base = settings.base_image.as_str();
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_try_stream(setup_files),
        )
        .await
        .map_err(DockerError::api("uploading the builder's settings"))?;
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(DockerError::api("starting the setup container"))?;
    let mut wait =
        docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    while let Some(r) = wait.next().await {
        r.map_err(DockerError::api("setting up the builder image"))?;
    }
    let (repo, tag) = split_reference(&settings.image);
    docker
        .commit_container(
            CommitContainerOptionsBuilder::default()
                .container(id)
                .repo(repo)
                .tag(tag)
                .build(),
            ContainerConfig {
                labels: Some(HashMap::from([
                    ("biar.builder".to_string(), base.to_string()),
                    (FORMAT_LABEL.to_string(), FORMAT.to_string()),
                ])),
                ..Default::default()
            },
        )
        .await
        .map_err(DockerError::api(format!("committing {}", settings.image)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_conf_has_build_users_and_one_line_per_setting() {
        let settings = BuilderSettings::default();
        let conf = nix_conf(&settings).unwrap();
        assert!(conf.contains("\nbuild-users-group = nixbld\n"), "{conf}");
        assert!(
            conf.contains("\nsandbox = false\nsandbox-fallback = false\n"),
            "{conf}"
        );
        assert!(nixbld_group_line().starts_with("nixbld:x:30000:nixbld1,nixbld2,"));
        assert_eq!(
            build_user_passwd_lines().lines().count(),
            BUILD_USERS as usize
        );
        // Whatever got past config load, a value never adds a line of its own.
        for bad in ["https://x\nsandbox = true", "https://x y"] {
            let settings = BuilderSettings {
                substituters: vec![bad.to_string()],
                ..BuilderSettings::default()
            };
            assert!(nix_conf(&settings).is_err(), "{bad:?}");
        }
        let settings = BuilderSettings {
            trusted_public_keys: vec!["k:AAAA\nsandbox = true".to_string()],
            ..BuilderSettings::default()
        };
        assert!(nix_conf(&settings).is_err());
    }

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
