//! `builder create --offline` and `builder status` against the real engine.

mod common;

use common::{biar, docker_available};

#[test]
fn create_offline_is_idempotent_and_status_reports_it() {
    if !docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // scripts/test.sh made the shared builder already; running it again must be safe.
    for _ in 0..2 {
        let out = biar(home.path())
            .args(["builder", "create", "--offline"])
            .current_dir(home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = biar(home.path())
        .args(["builder", "create", "--offline"])
        .current_dir(home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("biar-builder:latest: already existed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("biar-nix-store: already existed"),
        "{stdout}"
    );

    let out = biar(home.path())
        .args(["builder", "status", "--json"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["image"], "biar-builder:latest");
    assert!(status["image_info"]["size"].as_u64().unwrap() > 10_000_000);
    assert_eq!(status["volume_exists"], true);
}

#[test]
fn docker_unreachable_names_the_address() {
    let home = tempfile::tempdir().unwrap();
    let out = biar(home.path())
        .args(["builder", "status"])
        .current_dir(home.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn status_says_a_missing_image_and_volume_need_builder_create() {
    if !docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let unique = format!("{}-{}", std::process::id(), rand_suffix());
    std::fs::write(
        home.path().join("config.json"),
        serde_json::json!({
            "baseConfig": "base.nix",
            "userConfig": [],
            "builder": {
                "image": format!("biar-test-no-such-builder-{unique}:latest"),
                "storeVolume": format!("biar-test-no-such-volume-{unique}"),
            }
        })
        .to_string(),
    )
    .unwrap();
    let out = biar(home.path())
        .args(["builder", "status"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("missing (run `biar-tui builder create"),
        "{stdout}"
    );
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[test]
fn the_default_create_pulls_and_fails_clearly_with_no_network() {
    if !docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let image = format!(
        "biar-test-online-builder-{}-{}",
        std::process::id(),
        rand_suffix()
    );
    std::fs::write(
        home.path().join("config.json"),
        serde_json::json!({
            "baseConfig": "base.nix",
            "userConfig": [],
            "builder": { "image": format!("{image}:latest") }
        })
        .to_string(),
    )
    .unwrap();
    let out = biar(home.path())
        .args(["builder", "create"])
        .current_dir(home.path())
        .output()
        .unwrap();
    if out.status.success() {
        // A machine with network made it: clean up what this test created.
        let _ = std::process::Command::new("docker")
            .args(["rmi", &format!("{image}:latest")])
            .output();
        return;
    }
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot pull nixos/nix:"), "{stderr}");
    assert!(stderr.contains("builder create --offline"), "{stderr}");
}

#[test]
fn a_fresh_store_volume_is_initialised_and_builds_from_scratch() {
    if !docker_available() {
        return;
    }
    let volume = format!(
        "biar-test-fresh-store-{}-{}",
        std::process::id(),
        rand_suffix()
    );
    struct RemoveVolume(String);
    impl Drop for RemoveVolume {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker")
                .args(["volume", "rm", "-f", &self.0])
                .output();
        }
    }
    let _guard = RemoveVolume(volume.clone());
    let (tmp, dir) = common::copy_project(&common::repo().join("example-offline"));
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    common::pin_test_package_set(&dir, &mut config);
    config["builder"]["storeVolume"] = volume.clone().into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    // A user configuration of its own, so the image identity is new and the build really runs.
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}: [ pkgs.hello (pkgs.sleeper {{ seconds = 0; salt = \"{volume}\"; }}) ]\n"
        ),
    )
    .unwrap();

    let out = biar(tmp.path())
        .args(["builder", "create", "--offline", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{volume}: created")), "{stdout}");

    let out = biar(tmp.path())
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    // The image step made this test's own image (unique user.nix): remove it.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(reference) = event["reference"].as_str() {
                let _ = std::process::Command::new("docker")
                    .args(["rmi", "-f", reference])
                    .output();
            }
        }
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // From an empty store everything is built: busybox, shell, hello, the stand-ins, the env.
    assert!(stdout.contains("\"name\":\"busybox-1.35.0\""), "{stdout}");
    assert!(stdout.contains("-biar-env\""), "{stdout}");
}
