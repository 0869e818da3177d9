//! Adding a package keeps the previous image's layers: `build --push` of a real environment, `add`
//! a package, `build --push` again: the second image follows the first (label `biar.layers`,
//! generation 2) and reuses its layers' digests but for the environment's and the new one's;
//! with a small `image.maxLayers` so that the plan must also compact. Then a load into the
//! Engine follows the registry's image, and the next load the Engine's, sending only the top.

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

/// The generation recorded in an image's labels.
fn generation(labels: &serde_json::Value) -> u64 {
    let record: serde_json::Value =
        serde_json::from_str(labels["biar.layers"].as_str().expect("biar.layers")).unwrap();
    record["generation"].as_u64().unwrap()
}

/// The `name:tag` a build reports on its `pushed` / `loaded` line, and that line.
fn reported(stdout: &str, verb: &str) -> (String, String) {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{verb} ")))
        .unwrap_or_else(|| panic!("no `{verb}` line: {stdout}"));
    (
        line.split_once(": ").unwrap().0.to_string(),
        line.to_string(),
    )
}

fn build(home: &std::path::Path, dir: &std::path::Path, push: bool) -> String {
    let mut cmd = biar(home);
    cmd.arg("build");
    if push {
        cmd.arg("--push");
    }
    let out = cmd.arg("--project").arg(dir).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

fn add(home: &std::path::Path, dir: &std::path::Path, package: &str) {
    biar(home)
        .args(["add", package, "--project"])
        .arg(dir)
        .assert()
        .success();
}

fn inspect(image: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{image} is in Docker");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
}

#[test]
fn adding_a_package_keeps_the_previous_layers() {
    if !docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let prefix = format!("biar-test-follow-{}-", std::process::id());
    let max_layers = 5;
    let (tmp, dir) = offline_project(|config| {
        config["registry"] = serde_json::json!({ "host": reg.host(), "namespace": "biar-test" });
        // A name of our own: the previous image is looked for by name.
        config["image"] = serde_json::json!({ "namePrefix": prefix, "maxLayers": max_layers });
    });
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }: with pkgs; [ hello jq ripgrep nano less ]\n",
    )
    .unwrap();
    let home = tmp.path();
    let mut cleanup = Images(Vec::new());

    // First image: planned from scratch (generation 1).
    let (first, _) = reported(&build(home, &dir, true), "pushed");
    cleanup.0.push(first.clone());
    let a = common::registry::skopeo_inspect(&first).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(generation(&a["Labels"]), 1, "{a}");
    let layers = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    let a_layers = layers(&a, "Layers");
    assert!(a_layers.len() <= max_layers, "{a_layers:?}");

    // A package added: the plan follows the first image.
    add(home, &dir, "git");
    let (second, _) = reported(&build(home, &dir, true), "pushed");
    cleanup.0.push(second.clone());
    assert_ne!(first, second);
    let b = common::registry::skopeo_inspect(&second).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(generation(&b["Labels"]), 2, "{b}");
    let b_layers = layers(&b, "Layers");
    assert!(
        b_layers.len() <= max_layers,
        "maxLayers is kept: {b_layers:?}"
    );
    // The bottom layers are the first image's, digest for digest: only the top store layer (the
    // environment, which references the new package, and the package merged into it or put
    // below it) and the root layer differ.
    let kept = a_layers
        .iter()
        .zip(&b_layers)
        .take_while(|(x, y)| x == y)
        .count();
    assert!(
        kept + 2 >= a_layers.len().min(b_layers.len()),
        "{a_layers:?} vs {b_layers:?}"
    );

    // A load follows the registry's newest image (the Engine has none of this name)…
    add(home, &dir, "gdb");
    let (third, line) = reported(&build(home, &dir, false), "loaded");
    cleanup.0.push(third.clone());
    let c = inspect(&third);
    assert_eq!(generation(&c["Config"]["Labels"]), 3, "{line}");
    let c_layers = layers(&c["RootFS"], "Layers");
    let kept = b_layers
        .iter()
        .zip(&c_layers)
        .take_while(|(x, y)| x == y)
        .count();
    assert!(
        kept + 2 >= b_layers.len().min(c_layers.len()),
        "{b_layers:?} vs {c_layers:?}"
    );

    // …and the next load the Engine's: the Engine keeps every layer below the top ones.
    add(home, &dir, "gcc");
    let (fourth, line) = reported(&build(home, &dir, false), "loaded");
    cleanup.0.push(fourth.clone());
    let d = inspect(&fourth);
    assert_eq!(generation(&d["Config"]["Labels"]), 4, "{line}");
    let d_layers = layers(&d["RootFS"], "Layers");
    assert!(d_layers.len() <= max_layers, "{d_layers:?}");
    let kept = c_layers
        .iter()
        .zip(&d_layers)
        .take_while(|(x, y)| x == y)
        .count();
    assert!(
        kept + 2 >= c_layers.len().min(d_layers.len()),
        "{c_layers:?} vs {d_layers:?}"
    );
    // `loaded …: N layers sent (…), M reused (…)`: the kept ones were not sent.
    let reused: usize = line
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(reused >= kept, "{line}");
}
