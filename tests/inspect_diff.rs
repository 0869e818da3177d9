//! `history` and `diff` end to end: generations recorded in the state folder (never in the
//! project), `run --image N`, and a diff whose predicted upload bytes are what the push then
//! sends (a real registry process, the offline builder, the test package set).

mod common;

use std::process::Command;

use common::registry::Registry;
use common::{biar, docker_available, offline_project, snapshot_tree};

struct Images(Vec<String>);
impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `pushed` event's summary of a `build --push --json`.
fn pushed(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "pushed")
        .unwrap_or_else(|| panic!("no pushed event: {}", String::from_utf8_lossy(&out.stdout)))
}

fn upload_bytes(report: &serde_json::Value) -> u64 {
    report["push"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["fate"] == "upload")
        .map(|b| b["size"].as_u64().unwrap())
        .sum()
}

#[test]
fn diff_predicts_the_bytes_a_push_sends() {
    if !docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let prefix = format!("biar-test-diff-{}-", std::process::id());
    let (tmp, dir) = offline_project(|config| {
        config["registry"] = serde_json::json!({ "host": reg.host(), "namespace": "biar-test" });
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let home = tmp.path();
    let diff = |args: &[&str]| {
        biar(home)
            .arg("diff")
            .args(args)
            .arg("--project")
            .arg(&dir)
            .output()
            .unwrap()
    };

    // No generation yet: everything is new, and the registry lacks every blob.
    let first = json_of(&diff(&["--json"]));
    assert!(first["diff"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "hello-2.12.1"));
    let predicted = upload_bytes(&first);
    assert!(predicted > 0, "{first}");
    reg.clear_log();
    let summary = pushed(
        &biar(home)
            .args(["build", "--push", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    assert_eq!(
        summary["summary"]["bytes_sent"].as_u64().unwrap(),
        predicted
    );

    // A package more: the diff names it, most blobs are skipped, and the push sends exactly
    // the predicted bytes.
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }: with pkgs; [ hello chatty ]\n",
    )
    .unwrap();
    let second = json_of(&diff(&["--json"]));
    assert_eq!(second["diff"]["added"], serde_json::json!(["chatty-1.0"]));
    assert!(second["diff"]["from"].as_str().unwrap().starts_with("#1 "));
    let skipped = second["push"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["fate"] == "skip")
        .count();
    assert!(skipped >= 2, "{second}");
    let predicted = upload_bytes(&second);
    let summary = pushed(
        &biar(home)
            .args(["build", "--push", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    assert_eq!(
        summary["summary"]["bytes_sent"].as_u64().unwrap(),
        predicted
    );
    let remote = summary["reference"].as_str().unwrap().to_string();
    let mut cleanup = Images(vec![remote]);

    // Generations 1 and 2 compare without building; a FROM never recorded is bad input.
    let between = json_of(&diff(&["--json", "1", "2"]));
    assert_eq!(between["diff"]["added"], serde_json::json!(["chatty-1.0"]));
    let out = diff(&["41"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"41\""));
    let out = diff(&["nosuch:tag"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"nosuch:tag\" is not a recorded"),
        "{stderr}"
    );

    // Generation 1 was pushed, never loaded: `run --image 1` pulls it back from the registry
    // under its local name and runs it.
    let history = json_of(
        &biar(home)
            .args(["history", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    let first = &history.as_array().unwrap()[0];
    for key in ["reference", "remote"] {
        cleanup.0.push(first[key].as_str().unwrap().to_string());
    }
    let local = first["reference"].as_str().unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", local]).output();
    let out = biar(home)
        .args(["run", "--image", "1", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, world!\n");
    assert!(stderr.contains("pulling"), "{stderr}");
    // Now in the Engine under its local name: the next run asks no registry.
    reg.clear_log();
    biar(home)
        .args(["run", "--image", "1", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .assert()
        .success();
    assert!(reg.requests().is_empty(), "{:?}", reg.requests());
}

#[test]
fn builds_are_generations_outside_the_project_and_run_by_number() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-gen-{}-", std::process::id());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    let home = tmp.path();
    let mut images = Images(Vec::new());
    for packages in ["hello", "hello chatty"] {
        std::fs::write(
            dir.join("user.nix"),
            format!("{{ pkgs }}: with pkgs; [ {packages} ]\n"),
        )
        .unwrap();
        let out = biar(home)
            .args(["build", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let e: serde_json::Value = serde_json::from_str(l).unwrap();
            if e["event"] == "loaded" {
                images.0.push(e["reference"].as_str().unwrap().to_string());
            }
        }
    }
    let before = snapshot_tree(&dir);
    let history = json_of(
        &biar(home)
            .args(["history", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    let generations = history.as_array().unwrap();
    assert_eq!(generations.len(), 2, "{history}");
    assert_eq!(generations[0]["number"], 1);
    assert_eq!(
        generations[1]["packages"].as_array().unwrap().len(),
        generations[0]["packages"].as_array().unwrap().len() + 1
    );
    assert!(generations[1]["closure_size"].as_u64().unwrap() > 0);
    // Kept in the state folder, never in the project.
    assert!(std::fs::read_dir(home.join("state/biar/generations"))
        .unwrap()
        .next()
        .is_some());
    assert_eq!(snapshot_tree(&dir), before);

    // The earlier generation still runs.
    biar(home)
        .args(["run", "--image", "1", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .assert()
        .success()
        .stdout("Hello, world!\n");
    let out = biar(home)
        .args(["run", "--image", "9", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"9\" is not a recorded generation"),
        "{stderr}"
    );
    let out = biar(home)
        .args(["diff", "999", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"999\""));

    // Removed from Docker and never pushed: gone, said plainly, nothing runs.
    let first = generations[0]["reference"].as_str().unwrap();
    let removed = Command::new("docker")
        .args(["rmi", "-f", first])
        .output()
        .unwrap();
    assert!(removed.status.success());
    let out = biar(home)
        .args(["run", "--image", "1", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("generation #1") && stderr.contains("is gone") && stderr.contains(first),
        "{stderr}"
    );
}
