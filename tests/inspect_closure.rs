//! `biar-tui closure` end to end: the real engine, the offline builder, the test package set.
//! Its numbers must be Nix's own: `nix path-info -rsS` run in the builder on the same store.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{biar, builder_of, docker_available, offline_project};

fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = offline_project(|_| {});
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }:\nwith pkgs; [\n  hello\n  chatty\n]\n",
    )
    .unwrap();
    (tmp, dir)
}

fn closure_json(
    home: &std::path::Path,
    dir: &std::path::Path,
    extra: &[&str],
) -> serde_json::Value {
    let out = biar(home)
        .args(["closure", "--json"])
        .args(extra)
        .arg("--project")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn closure_sizes_agree_with_nix_path_info() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project();
    let report = closure_json(tmp.path(), &dir, &[]);
    let env = report["env_path"].as_str().unwrap();
    assert!(env.ends_with("-biar-env"), "{env}");

    // Nix's own answer, in the builder, on the same store volume.
    let (image, volume) = builder_of(&dir);
    let out = Command::new("docker")
        .args(["run", "--rm", "-v", &format!("{volume}:/nix"), &image])
        .args(["nix", "--extra-experimental-features", "nix-command"])
        .args(["path-info", "-rsS", "--json", env])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nix: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let nix: HashMap<&str, (u64, u64)> = nix
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap(),
                (
                    p["narSize"].as_u64().unwrap(),
                    p["closureSize"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let all = report["all"].as_array().unwrap();
    assert_eq!(all.len(), nix.len());
    assert_eq!(report["paths"].as_u64().unwrap() as usize, nix.len());
    for row in all {
        let path = row["path"].as_str().unwrap();
        let (nar, closure) = nix[path];
        assert_eq!(row["nar_size"].as_u64().unwrap(), nar, "{path}");
        assert_eq!(row["closure_size"].as_u64().unwrap(), closure, "{path}");
        assert!(row["added_size"].as_u64().unwrap() <= closure, "{path}");
        assert!(row["layer"].is_u64(), "{path} lands in no layer");
    }
    assert_eq!(report["closure_size"].as_u64().unwrap(), nix[env].1);

    // The configured packages are there, with what removing each saves: hello shares the
    // shell and busybox with the base configuration, so only its own path would go.
    let packages = report["packages"].as_array().unwrap();
    let hello = packages
        .iter()
        .find(|p| p["name"] == "hello-2.12.1")
        .expect("hello is a package");
    assert_eq!(hello["added_size"], hello["nar_size"]);
    assert!(hello["closure_size"].as_u64().unwrap() > hello["nar_size"].as_u64().unwrap());
    // Every layer's paths add up to the closure.
    let layers = report["layers"].as_array().unwrap();
    let layered: u64 = layers.iter().map(|l| l["nar_size"].as_u64().unwrap()).sum();
    assert_eq!(layered, nix[env].1);
}

#[test]
fn why_names_the_chain_and_refuses_what_is_not_there() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project();
    let chain = closure_json(tmp.path(), &dir, &["--why", "busybox"]);
    let names: Vec<&str> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"biar-env"));
    assert_eq!(names.last(), Some(&"busybox-1.35.0"));

    let out = biar(tmp.path())
        .args(["closure", "--why", "no-such-package", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"no-such-package\" is not in"), "{stderr}");

    let out = biar(tmp.path())
        .args(["closure", "--dot", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph closure {"), "{dot}");
    assert!(dot.contains("hello-2.12.1"), "{dot}");
}
