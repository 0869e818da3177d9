//! `biar-tui search` end to end: the real binary over the bundled index, in and out of a project,
//! with a fresh, a warm and a damaged cache.

mod common;

use common::biar;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn searches_the_bundled_names_outside_any_project() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = biar(home.path())
        .args(["search", "ripgrep", "--limit", "3", "--project"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "ripgrep\nemacsPackages.ripgrep\nripgrep-all\n"
    );
    // The first run wrote the cache; the second reads it and answers the same.
    let cache = home.path().join("cache/biar/index");
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(files.len(), 1);
    let again = biar(home.path())
        .args(["search", "ripgrep", "--limit", "3"])
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&again), stdout(&out));
}

#[test]
fn json_output_has_attr_version_description() {
    let home = tempfile::tempdir().unwrap();
    let out = biar(home.path())
        .args([
            "search",
            "nodejs",
            "-n",
            "2",
            "--json",
            "--project",
            "/nonexistent/dir",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            // `nodejs` from the alias table shipped with the index (the list names nodejs_22).
            {"attr": "nodejs", "version": null, "description": null},
            {"attr": "nodejs_23", "version": null, "description": null}
        ])
    );
}

#[test]
fn a_damaged_cache_is_rebuilt_with_a_note() {
    let home = tempfile::tempdir().unwrap();
    biar(home.path()).args(["search", "x"]).assert().success();
    let dir = home.path().join("cache/biar/index");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let out = biar(home.path())
        .args(["search", "rustc", "-n", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "rustc\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("checksum mismatch") && err.contains("rebuilt"),
        "{err}"
    );
    // Rebuilt: the next run is quiet.
    let out = biar(home.path())
        .args(["search", "rustc"])
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn odd_queries_do_not_fail() {
    let home = tempfile::tempdir().unwrap();
    for q in ["", "(.*)[", "ñandú 🦀", &"z".repeat(100_000), "qqqqzzzz"] {
        let out = biar(home.path())
            .args(["search", q, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "query {q:.20}: {out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.is_array());
    }
}
