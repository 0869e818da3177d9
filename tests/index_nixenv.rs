//! `index update` from `nix-env -qaP --json --meta` of the project's pinned package set, run in
//! the builder container against the test package set (tests/fixtures/pkgs).

mod common;

use common::{biar, docker_available, offline_project};

#[test]
fn nix_env_source_lists_the_pinned_package_set() {
    if !docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (_tmp, dir) = offline_project(|_| {});

    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["index", "update", "--source", "nix-env"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("nix-env path ") && stdout.contains("loaded"),
        "{stdout}"
    );

    // Inside the project, search uses that index: versions from the package set.
    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["search", "ripgrep", "--json", "-n", "1"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["attr"], "ripgrep");
    assert_eq!(v[0]["version"], "14.1.1");
    // The bundled names are not mixed in: only the package set's attributes.
    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["search", "haskellPackages.lens", "--json", "-n", "1"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(
        v.get(0).map(|h| h["attr"].clone()),
        Some("haskellPackages.lens".into())
    );
}
