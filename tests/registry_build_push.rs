//! The whole path a user takes with a registry: `build --push` of a real built environment (the
//! offline builder, the test package set), a repush that sends nothing, `skopeo inspect`, then
//! `pull` into Docker and `run -- hello` printing the greeting.

mod common;

use std::process::Command;

use common::registry::Registry;
use common::{biar, docker_available, offline_project};

struct Images(Vec<String>);
impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

#[test]
fn build_push_pull_run_hello() {
    if !docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let prefix = format!("biar-test-push-{}-", std::process::id());
    let (tmp, dir) = offline_project(|config| {
        config["registry"] = serde_json::json!({ "host": reg.host(), "namespace": "biar-test" });
        // A name of our own, so no other test's image of the same content is mistaken for ours.
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let home = tmp.path();

    let out = biar(home)
        .args(["build", "--push", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let pushed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pushed "))
        .unwrap_or_else(|| panic!("no `pushed` line: {stdout}"));
    // `pushed HOST:PORT/biar-test/NAME:TAG: N blobs sent …`
    let remote = pushed.split_once(": ").unwrap().0;
    assert!(
        remote.starts_with(&format!("{}/biar-test/{prefix}", reg.host())),
        "{remote}"
    );
    let local = remote
        .strip_prefix(&format!("{}/biar-test/", reg.host()))
        .unwrap()
        .to_string();
    let _cleanup = Images(vec![remote.to_string(), local.clone()]);

    // The registry has it, as skopeo reads it.
    let v = common::registry::skopeo_inspect(remote).unwrap_or_else(|e| panic!("{e}"));
    assert!(v["Layers"].as_array().unwrap().len() >= 2, "{v}");

    // Again: nothing is sent.
    reg.clear_log();
    let out = biar(home)
        .args(["build", "--push", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("nothing"), "{stdout}");
    let reqs = reg.requests();
    assert!(
        !reqs
            .iter()
            .any(|r| r.starts_with("PUT ") || r.starts_with("POST ")),
        "{reqs:?}"
    );

    // Pull into Docker, then run the greeting.
    biar(home)
        .args(["pull", "--registry", &format!("{}/biar-test", reg.host())])
        .args(["--image", &local])
        .assert()
        .success();
    biar(home)
        .args(["run", "--image", &local, "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .assert()
        .success()
        .stdout("Hello, world!\n");
}

fn project_with_registry(registry: Option<&str>) -> (tempfile::TempDir, std::path::PathBuf) {
    offline_project(|config| {
        let obj = config.as_object_mut().unwrap();
        obj.remove("DOCKER_REGISTRY_HOST");
        obj.remove("DOCKER_REGISTRY_CONTAINER");
        if let Some(host) = registry {
            obj.insert("registry".into(), serde_json::json!({ "host": host }));
        }
    })
}

#[test]
fn push_faults_are_said_before_building() {
    if !docker_available() {
        return;
    }
    // No registry configured: bad input, exit 2, nothing changed.
    let (tmp, dir) = project_with_registry(None);
    let before = common::snapshot_tree(&dir);
    biar(tmp.path())
        .env_remove("DOCKER_REGISTRY_HOST")
        .args(["build", "--push", "--project"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--push needs a registry"));
    assert_eq!(before, common::snapshot_tree(&dir));

    // A registry nobody answers at: exit 1 at once, naming it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let (tmp, dir) = project_with_registry(Some(&host));
    let out = biar(tmp.path())
        .args(["build", "--push", "--project"])
        .arg(&dir)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("cannot reach the registry") && stderr.contains(&host),
        "{stderr}"
    );
    assert!(
        !stderr.contains("derivations built"),
        "no build was started: {stderr}"
    );
}
