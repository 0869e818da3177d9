//! Running the environment straight from the store volume, with no image of it: the closure is
//! already in the volume, so copying it into an image (seconds for a large closure) only to run
//! it locally is wasted work.
//!
//! The container is made from a *root image* of a few kilobytes: the image's own root layer
//! (`image::root`: `/bin`, `/usr/bin`, the users, home, working directory, `/tmp`,
//! certificates) over the empty `/nix/store` folder, with the image's config (user, env, shell,
//! working directory), named by its digest and loaded once per environment. The closure's store
//! paths, exactly those, are read-only bind mounts of the volume's folders on the engine's host
//! (`docker volume inspect`'s `Mountpoint`; the engine resolves binds on its own host). What runs
//! is the environment the image would give: the same files at the same paths, nothing else of
//! the store visible (`tests/run_direct.rs` runs the same checks in both and compares).
//!
//! Docker 20.10 (API 1.41) has no volume `Subpath` mounts, hence one bind per store path; a few
//! hundred binds add about 0.1 s to a container's start (docs/benchmarks.md).

use sha2::{Digest, Sha256};

use super::RunError;
use crate::docker::Engine;
use crate::image::root::{root_layer, RootSpec};
use crate::image::tar::{self, Kind};

/// The label the root images carry.
const ROOT_LABEL: &str = "biar.direct-root";

/// An environment to run from the store volume.
#[derive(Debug, Clone)]
pub struct DirectRoot {
    /// The repository its root images go to (`<image name>-direct`; tagged by digest).
    pub repository: String,
    /// The root files, user and environment, as the image would have them.
    pub root: RootSpec,
    /// Every store path of the closure (`/nix/store/…`).
    pub paths: Vec<String>,
    /// The store volume holding them (`builder.storeVolume`).
    pub store_volume: String,
    /// A folder of the volume holding exactly the closure as hard links ([`view_of`]), mounted
    /// whole at `/nix/store` when it is there (one bind, not one per path).
    pub view: Option<String>,
}

/// Where in the store volume the view of `env_path`'s closure lies: `var/biar/views/<hash>`,
/// made by `operations::build_env` in the builder (see [`VIEW_SCRIPT`]).
pub fn view_of(env_path: &str) -> Option<String> {
    let name = store_name(env_path)?;
    let hash = name.split('-').next()?;
    Some(format!("var/biar/views/{hash}"))
}

/// Makes `/nix/$1` (a [`view_of`]) from the store paths that follow, unless it exists: each
/// path's tree copied as hard links (no data copied; the same filesystem), into a temporary
/// folder renamed at the end, so a view is whole or absent. Views not made or used for a week
/// go (their folders are read-only, like the store's). Paths arrive as arguments, never as
/// shell text.
pub const VIEW_SCRIPT: &str = r#"set -e
view=/nix/$1; shift
if [ ! -d "$view" ]; then
  mkdir -p /nix/var/biar/views
  rm -rf "$view.tmp"; mkdir "$view.tmp"
  cp -al "$@" "$view.tmp/"
  mv "$view.tmp" "$view"
fi
touch "$view"
find /nix/var/biar/views -mindepth 1 -maxdepth 1 -mtime +7 -exec sh -c 'chmod -R u+w "$1"; rm -rf "$1"' sh {} \;
"#;

impl DirectRoot {
    /// The read-only binds of the closure, `(source on the engine's host, target)`, for a volume
    /// at `mountpoint`. A path that is not a plain store path name is refused: a bind source
    /// must never lead out of the store.
    pub fn binds(&self, mountpoint: &str) -> Result<Vec<(String, String)>, RunError> {
        let mountpoint = mountpoint.trim_end_matches('/');
        if let Some(view) = &self.view {
            return Ok(vec![(
                format!("{mountpoint}/{view}"),
                "/nix/store".to_string(),
            )]);
        }
        self.paths
            .iter()
            .map(|path| {
                let name = store_name(path).ok_or_else(|| {
                    RunError::Other(format!("{path:?} is not a store path: nothing was run"))
                })?;
                Ok((
                    format!("{mountpoint}/store/{name}"),
                    format!("/nix/store/{name}"),
                ))
            })
            .collect()
    }

    /// The container's `Env`: the image config's.
    pub fn env(&self) -> Vec<String> {
        self.root.env()
    }
}

/// `name` of `/nix/store/name` when it is one plain path component of store-path characters.
fn store_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/nix/store/")?;
    let (hash, rest) = name.split_once('-')?;
    let ok = hash.len() == 32
        && hash.bytes().all(|b| b.is_ascii_alphanumeric())
        && !rest.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b));
    ok.then_some(name)
}

/// The store folder every image's store layers start with: `nix/` and `nix/store/`, 0755, root.
fn store_folder_layer() -> Vec<u8> {
    let mut layer = Vec::new();
    tar::header(&mut layer, b"nix/", Kind::Dir, 0o755);
    tar::header(&mut layer, b"nix/store/", Kind::Dir, 0o755);
    tar::end(&mut layer);
    layer
}

fn diff_id(layer: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(layer)))
}

/// The OCI name of this machine's architecture (the image must run here).
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The root image of `d` as a docker-archive, and its `repository:tag`: the store folder and
/// the image's root layer, with the image's config (user, env, shell, working directory). Its
/// name is its config's digest, so an environment already run once is not loaded again.
fn root_image(d: &DirectRoot) -> (String, Vec<u8>) {
    let store = store_folder_layer();
    let root = root_layer(&d.root);
    let config = serde_json::json!({
        "architecture": architecture(),
        "os": "linux",
        "created": crate::image::CREATED,
        "config": {
            "User": d.root.user_spec(),
            "Env": d.env(),
            "Cmd": ["/bin/sh"],
            "WorkingDir": d.root.workdir,
            "Labels": { ROOT_LABEL: "1", "biar.env": d.root.env_path },
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id(&store), diff_id(&root)] },
    })
    .to_string();
    let tag = &hex::encode(Sha256::digest(config.as_bytes()))[..32];
    let reference = format!("{}:{tag}", d.repository);
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": [reference],
        "Layers": ["store.tar", "root.tar"],
    }])
    .to_string();
    let mut archive = Vec::new();
    tar::file(&mut archive, b"store.tar", &store, 0o644);
    tar::file(&mut archive, b"root.tar", &root, 0o644);
    tar::file(&mut archive, b"config.json", config.as_bytes(), 0o644);
    tar::file(&mut archive, b"manifest.json", manifest.as_bytes(), 0o644);
    tar::end(&mut archive);
    (reference, archive)
}

/// `d`'s root image, loaded into the engine first if it lacks it (a few kilobytes). Files put
/// into a created container instead would cost more: the engine mounts every bind of the
/// container to extract them.
pub(super) async fn ensure_root_image(engine: &Engine, d: &DirectRoot) -> Result<String, RunError> {
    let (reference, archive) = root_image(d);
    let have = engine
        .image_exists(&reference)
        .await
        .map_err(RunError::docker("inspect the root image"))?;
    if !have {
        let body = futures::stream::once(async move { Ok(bytes::Bytes::from(archive)) });
        engine
            .load_archive(body)
            .await
            .map_err(RunError::docker("load the root image"))?;
        // The project's earlier root images (a few kilobytes each) are not needed any more;
        // one a running container still uses stays.
        engine.remove_other_tags(&d.repository, &reference).await;
    }
    Ok(reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn root() -> DirectRoot {
        DirectRoot {
            repository: "biar-x-direct".into(),
            root: RootSpec {
                env_path: "/nix/store/abcdefghijklmnopqrstuvwxyz012345-biar-env".into(),
                user: "user".into(),
                workdir: "/home/user/workdir".into(),
                ca_bundle: None,
                uid: 1000,
                gid: 1000,
                profile: Profile::Plain,
            },
            paths: vec!["/nix/store/abcdefghijklmnopqrstuvwxyz012345-biar-env".into()],
            store_volume: "biar-nix-store".into(),
            view: None,
        }
    }

    #[test]
    fn binds_map_store_paths_into_the_volume() {
        let binds = root().binds("/var/lib/docker/volumes/s/_data/").unwrap();
        assert_eq!(
            binds,
            [(
                "/var/lib/docker/volumes/s/_data/store/abcdefghijklmnopqrstuvwxyz012345-biar-env"
                    .to_string(),
                "/nix/store/abcdefghijklmnopqrstuvwxyz012345-biar-env".to_string()
            )]
        );
    }

    #[test]
    fn a_view_is_one_bind_at_the_store() {
        let mut r = root();
        r.view = view_of(&r.root.env_path);
        assert_eq!(
            r.view.as_deref(),
            Some("var/biar/views/abcdefghijklmnopqrstuvwxyz012345")
        );
        assert_eq!(
            r.binds("/v/_data").unwrap(),
            [(
                "/v/_data/var/biar/views/abcdefghijklmnopqrstuvwxyz012345".to_string(),
                "/nix/store".to_string()
            )]
        );
        assert_eq!(view_of("/etc/../x"), None);
    }

    #[test]
    fn only_plain_store_paths_become_binds() {
        for bad in [
            "/nix/store/../../etc",
            "/nix/store/abcdefghijklmnopqrstuvwxyz012345-x/../../etc",
            "/etc/passwd",
            "/nix/store/short-x",
            "/nix/store/abcdefghijklmnopqrstuvwxyz012345-",
            "/nix/store/abcdefghijklmnopqrstuvwxyz012345-a b",
        ] {
            let mut r = root();
            r.paths = vec![bad.to_string()];
            assert!(r.binds("/v").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_root_image_is_named_by_its_content() {
        let (a, bytes) = root_image(&root());
        assert_eq!((a.clone(), bytes.clone()), root_image(&root()));
        assert!(a.starts_with("biar-x-direct:"), "{a}");
        let mut other = root();
        other.root.uid = 4242;
        assert_ne!(root_image(&other).0, a);
        let mut archive = ::tar::Archive::new(std::io::Cursor::new(bytes));
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["store.tar", "root.tar", "config.json", "manifest.json"]
        );
    }
}
