//! `build` and `run` where no builder exists (issue 12, "no dead end on a fresh machine"): they
//! say exactly what they would make and make nothing, unless asked with `--create-builder`.
//!
//! The shared builder image and store volume are never touched: each test names its own.

mod common;

use std::process::Command;

use common::images::ImagesNamed;
use common::{biar, docker_available, offline_project};

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("biar-test-{what}-{}-{nanos}", std::process::id())
}

/// Removes a volume on drop (so also when the test fails).
struct VolumeNamed(String);

impl Drop for VolumeNamed {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

fn exists(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn build_and_run_without_a_builder_say_what_they_would_make_and_make_nothing() {
    if !docker_available() {
        return;
    }
    let image = format!("{}:latest", unique("absent-builder"));
    let volume = unique("absent-store");
    let _volume = VolumeNamed(volume.clone());
    let prefix = format!("{}-", unique("absent"));
    let _images = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["builder"]["image"] = image.clone().into();
        config["builder"]["storeVolume"] = volume.clone().into();
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    for args in [&["build"][..], &["run", "--", "true"]] {
        let out = biar(tmp.path())
            .arg(args[0])
            .arg("--project")
            .arg(&dir)
            .args(&args[1..])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        for said in [
            format!("create the builder image {image} from nixos/nix:"),
            format!("create the Nix store volume {volume}"),
            "--create-builder".to_string(),
            "--create-builder=offline".to_string(),
        ] {
            assert!(stderr.contains(&said), "{args:?}: {said:?} in {stderr}");
        }
        assert!(!exists("image", &image), "{args:?} made the image");
        assert!(!exists("volume", &volume), "{args:?} made the volume");
    }
}

#[test]
fn create_builder_makes_what_is_missing_then_builds_and_runs() {
    if !docker_available() {
        return;
    }
    // The builder image exists (scripts/test.sh makes it); the store volume is this test's own,
    // so the build really starts from an empty store.
    let volume = unique("on-demand-store");
    let _volume = VolumeNamed(volume.clone());
    let prefix = format!("{}-", unique("on-demand"));
    let _images = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["builder"]["storeVolume"] = volume.clone().into();
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    let out = biar(tmp.path())
        .args(["run", "--create-builder=offline", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("will create the Nix store volume {volume}")),
        "it says what it makes: {stderr}"
    );
    assert!(
        !stderr.contains("create the builder image"),
        "the image existed: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Hello"));
    assert!(exists("volume", &volume));

    // Made once: the next build has nothing to make (and says nothing about it).
    std::fs::write(dir.join("user.nix"), "{ pkgs }: [ pkgs.hello pkgs.tree ]\n").unwrap();
    let out = biar(tmp.path())
        .args(["build", "--create-builder", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("will create"), "{stderr}");
}
