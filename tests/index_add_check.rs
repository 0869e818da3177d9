//! `biar-tui add` checks attributes against the package index: an unknown one is bad input
//! (exit 2, files untouched) with "did you mean"; `--force` adds it with a warning.

mod common;

use common::{biar, copy_project, repo, snapshot_tree};

#[test]
fn unknown_attribute_did_you_mean_and_force() {
    let home = tempfile::tempdir().unwrap();
    let (_tmp, dir) = copy_project(&repo().join("example"));
    let before = snapshot_tree(&dir);

    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["add", "ripgrep", "ripgrpe"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"ripgrpe\" is not in the package index; did you mean ripgrep"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(snapshot_tree(&dir), before, "bad input changed files");

    // Aliases of versioned attributes and sets count as known.
    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["add", "nodejs", "python3Packages.numpy", "pkgs.jq"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args(["add", "--force", "ripgrpe"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning:") && err.contains("did you mean ripgrep"),
        "{err}"
    );
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    assert!(user.contains("ripgrpe"), "{user}");
}

/// The names users type for versioned packages and sets are known to `add` and `search`
/// (the alias table shipped with the index), though the bundled list names each derivation once.
#[test]
fn nixpkgs_aliases_are_known_to_add_and_search() {
    let home = tempfile::tempdir().unwrap();
    let (_tmp, dir) = copy_project(&repo().join("example"));
    let out = biar(home.path())
        .arg("--project")
        .arg(&dir)
        .args([
            "add",
            "python312",
            "jdk21",
            "python3Packages.requests",
            "python3Packages.pandas",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (query, first) in [
        ("python3", "python3"),
        ("python312", "python312"),
        ("jdk21", "jdk21"),
        ("nodejs", "nodejs"),
        ("python3Packages.requests", "python3Packages.requests"),
    ] {
        let out = biar(home.path())
            .arg("--project")
            .arg(&dir)
            .args(["search", query, "--limit", "3", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(hits[0]["attr"], first, "{query}: {hits}");
    }
}
