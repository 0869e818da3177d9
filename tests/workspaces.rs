//! Workspace profiles end to end (issue 15): images built with `image.profile`, checked through
//! the engine's own view (inspect, a container running the image).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{biar, docker_available, offline_project};

/// A unique no-op package, so each test's image is its own and can be removed.
fn unique_user_nix(dir: &Path) {
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n  pkgs.hello\n  (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }})\n]\n",
            common::testimage::unique("ws")
        ),
    )
    .unwrap();
}

/// Removes an image when dropped, so a failed assertion leaves nothing behind.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// Builds the offline example with `edit` applied to its config.json; the image's reference.
fn build(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, PathBuf, Image) {
    let (tmp, dir) = offline_project(edit);
    unique_user_nix(&dir);
    let hash = biar(tmp.path())
        .args(["hash", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        hash.status.success(),
        "{}",
        String::from_utf8_lossy(&hash.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&hash.stdout).unwrap();
    let image = Image(format!(
        "{}:{}",
        v["name"].as_str().unwrap(),
        v["tag"].as_str().unwrap()
    ));
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, dir, image)
}

fn inspect(image: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config}}", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `argv` in a throwaway container of `image` (as the image's user); stdout.
fn run_in(image: &str, argv: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", image])
        .args(argv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_devcontainer_profile_image_has_its_user_ids_files_env_and_label() {
    if !docker_available() {
        return;
    }
    let (_tmp, _dir, image) = build(|c| {
        c["image"] = serde_json::json!({
            "profile": "devcontainer", "user": "dev", "workdir": "/home/dev/project",
            "uid": 4242, "gid": 4343
        });
    });
    let config = inspect(&image.0);
    assert_eq!(config["User"], "4242:4343", "{config}");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for want in [
        "HOME=/home/dev",
        "USER=dev",
        "LANG=C.UTF-8",
        "PATH=/bin:/usr/bin",
    ] {
        assert!(env.contains(&want), "{want}: {env:?}");
    }
    assert!(
        env.iter().any(|e| e.starts_with("SSL_CERT_FILE=")),
        "{env:?}"
    );
    let label = config["Labels"]["devcontainer.metadata"].as_str().unwrap();
    let meta: serde_json::Value = serde_json::from_str(label).unwrap();
    assert_eq!(meta[0]["remoteUser"], "dev", "{meta}");
    assert_eq!(meta[0]["updateRemoteUserUID"], true, "{meta}");
    assert_eq!(meta[0]["containerEnv"]["HOME"], "/home/dev", "{meta}");
    assert_eq!(config["Labels"]["biar.profile"], "devcontainer");

    // Inside: the user by name, its home its own, /tmp sticky, os-release, sh and env.
    let id = run_in(&image.0, &["id"]);
    assert!(
        id.contains("uid=4242(dev)") && id.contains("gid=4343(dev)"),
        "{id}"
    );
    let stat = run_in(
        &image.0,
        &[
            "stat",
            "-c",
            "%u:%g %a %n",
            "/home/dev",
            "/tmp",
            "/etc/os-release",
        ],
    );
    assert!(stat.contains("4242:4343 755 /home/dev"), "{stat}");
    assert!(stat.contains("0:0 1777 /tmp"), "{stat}");
    assert!(stat.contains("/etc/os-release"), "{stat}");
    let env_out = run_in(&image.0, &["/usr/bin/env"]);
    assert!(env_out.contains("LANG=C.UTF-8"), "{env_out}");
    run_in(
        &image.0,
        &[
            "/bin/sh",
            "-c",
            "touch $HOME/x && test -f /etc/ssl/certs/ca-certificates.crt",
        ],
    );
}

#[test]
fn the_plain_profile_keeps_the_image_name_of_a_project_without_one() {
    let (tmp, dir) = offline_project(|_| {});
    let (tmp2, dir2) =
        offline_project(|c| c["image"] = serde_json::json!({"profile": "plain", "uid": 1000}));
    let hash = |t: &Path, d: &Path| {
        let o = biar(t)
            .args(["hash", "--json", "--project"])
            .arg(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(hash(tmp.path(), &dir), hash(tmp2.path(), &dir2));
    let (tmp3, dir3) = offline_project(|c| c["image"] = serde_json::json!({"profile": "coder"}));
    assert_ne!(
        hash(tmp.path(), &dir)["name"],
        hash(tmp3.path(), &dir3)["name"]
    );
}

#[test]
fn an_unknown_profile_or_a_uid_that_is_not_a_number_exits_2_naming_the_key() {
    for (image, needle) in [
        (
            serde_json::json!({"profile": "codr"}),
            "image.profile \"codr\"",
        ),
        (
            serde_json::json!({"uid": "abc"}),
            "image.uid \"abc\" is not a number",
        ),
        (serde_json::json!({"gid": 0}), "image.gid 0"),
    ] {
        let (tmp, dir) = offline_project(|c| c["image"] = image.clone());
        let out = biar(tmp.path())
            .args(["hash", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{image}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("config.json:"),
            "{image}: {err}"
        );
    }
}
