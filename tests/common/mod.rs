//! Shared helpers for the end-to-end tests: the real binary, temp copies of projects, and the
//! rule that under `CI=true` a missing Docker Engine or registry is a failure, never a skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// An id no other test process (of this run or an earlier one) uses: for volumes, images and
/// containers that may outlive a killed test.
pub fn unique_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real `biar-tui` binary, with a private cache and config folder so tests never touch the
/// user's.
pub fn biar(home: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(biar_std(home))
}

/// [`biar`] as a `std::process::Command`, for tests that spawn several at once.
pub fn biar_std(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_biar-tui"));
    cmd.env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("BIAR_PROJECT");
    cmd
}

/// Copies a folder (e.g. `example/`) into a fresh temp dir; returns the dir and the copy's path.
pub fn copy_project(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dst = tmp.path().join("project");
    copy_dir(src, &dst);
    (tmp, dst)
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_dir(&entry.path(), &to);
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// True under CI, where a missing service fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Returns false (and says so) when Docker is unreachable outside CI; panics under CI.
pub fn docker_available() -> bool {
    let ok = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
        || Path::new("/var/run/docker.sock").exists();
    if !ok {
        if in_ci() {
            panic!("CI=true and the Docker Engine is unreachable: this test needs it");
        }
        eprintln!("skipped: the Docker Engine is unreachable (set CI=true to make this a failure)");
    }
    ok
}

/// A bollard client of its own, for what a test checks in the Engine behind biar's back (the
/// library hands out no client). Honours `DOCKER_HOST` like the docker CLI.
pub fn docker_client() -> bollard::Docker {
    bollard::Docker::connect_with_defaults().expect("a Docker client")
}

/// Every file under `dir` with its bytes, to check a failed command changed nothing.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    walk(dir, &mut out);
    out
}

pub mod children;
pub mod counting;
pub mod cred_pass;
pub mod images;
pub mod nginx;
pub mod registry;
pub mod testimage;
pub mod tmux;

/// A temp copy of `example-offline/` pinned to a copy of the repository's test package set
/// inside the project (`pkgs/`: a pin outside a project needs the user's trust, see
/// [`pin_test_package_set`]), with `edit` applied to its config.json.
///
/// `BIAR_TEST_BUILDER_IMAGE` / `BIAR_TEST_STORE_VOLUME`, when set, replace the shared builder
/// image and store volume, for developing the builder itself without touching the shared ones.
pub fn offline_project(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_project(&repo().join("example-offline"));
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    pin_test_package_set(&dir, &mut config);
    if let Ok(image) = std::env::var("BIAR_TEST_BUILDER_IMAGE") {
        config["builder"]["image"] = image.into();
    }
    if let Ok(volume) = std::env::var("BIAR_TEST_STORE_VOLUME") {
        config["builder"]["storeVolume"] = volume.into();
    }
    edit(&mut config);
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    (tmp, dir)
}

/// Copies the test package set (tests/fixtures/pkgs) into `dir/pkgs` and pins `config` to it.
/// A path pin is uploaded whole into the builder, so one outside the project is refused unless
/// the user's `trusted-paths` lists it; a copy inside the project needs no trust.
pub fn pin_test_package_set(dir: &Path, config: &mut serde_json::Value) {
    copy_dir(&repo().join("tests/fixtures/pkgs"), &dir.join("pkgs"));
    config["nixpkgs"] = serde_json::json!({ "path": "pkgs" });
}

/// The builder image and store volume a project's config.json names (defaults if it names none).
pub fn builder_of(dir: &Path) -> (String, String) {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    (
        config["builder"]["image"]
            .as_str()
            .unwrap_or("biar-builder:latest")
            .to_string(),
        config["builder"]["storeVolume"]
            .as_str()
            .unwrap_or("biar-nix-store")
            .to_string(),
    )
}
