//! End-to-end: the real binary on temp copies of `example/`: presets, toggle, add, remove, list,
//! hash, and every kind of bad input (exit 2, a clear message, every file byte-identical).

mod common;

use std::path::Path;

use common::{biar, copy_project, repo, snapshot_tree};

fn example() -> (tempfile::TempDir, std::path::PathBuf) {
    copy_project(&repo().join("example"))
}

/// Runs `biar-tui --project DIR ARGS…`; returns (exit code, stdout, stderr).
fn run(home: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = biar(home)
        .arg("--project")
        .arg(dir)
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the command is bad input (exit 2) naming `needle`, and changed no file.
fn bad_input(home: &Path, dir: &Path, args: &[&str], needle: &str) {
    bad_input_watching(home, dir, dir, args, needle)
}

/// [`bad_input`] with `--project dir`, checking that nothing under `watched` changed.
fn bad_input_watching(home: &Path, dir: &Path, watched: &Path, args: &[&str], needle: &str) {
    let before = snapshot_tree(watched);
    let (code, out, err) = run(home, dir, args);
    assert_eq!(code, 2, "{args:?}\nstdout: {out}\nstderr: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(snapshot_tree(watched), before, "{args:?} changed files");
}

#[test]
fn presets_lists_the_shipped_ones_and_their_state() {
    let (tmp, dir) = example();
    let (code, out, _) = run(tmp.path(), &dir, &["presets"]);
    assert_eq!(code, 0);
    assert!(out.contains("[x] python"), "{out}");
    assert!(out.contains("[x] shell"), "{out}");
    assert!(out.contains("[ ] rust"), "{out}");
    let (code, out, _) = run(tmp.path(), &dir, &["presets", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rust = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rust")
        .unwrap();
    assert_eq!(rust["enabled"], false);
    assert_eq!(rust["file"], "presets/rust.nix");
    assert!(rust["description"].as_str().unwrap().starts_with("Rust"));
}

#[test]
fn hash_is_the_same_for_two_copies_and_json_has_the_three_keys() {
    let (a_tmp, a) = example();
    let (b_tmp, b) = example();
    let (code, out_a, _) = run(a_tmp.path(), &a, &["hash", "--json"]);
    assert_eq!(code, 0);
    let (_, out_b, _) = run(b_tmp.path(), &b, &["hash", "--json"]);
    assert_eq!(out_a, out_b);
    let v: serde_json::Value = serde_json::from_str(&out_a).unwrap();
    let (name, tag) = (v["name"].as_str().unwrap(), v["tag"].as_str().unwrap());
    assert!(name.starts_with("biar-"));
    assert_eq!(v["reference"], format!("{name}:{tag}"));
    let (_, human, _) = run(a_tmp.path(), &a, &["hash"]);
    assert!(
        human.contains(&format!("reference  {name}:{tag}")),
        "{human}"
    );
}

#[test]
fn toggle_turns_a_preset_on_and_off_keeping_the_rest_of_config_json() {
    let (tmp, dir) = example();
    let (_, before_ref, _) = run(tmp.path(), &dir, &["hash", "--json"]);
    let (code, out, err) = run(tmp.path(), &dir, &["toggle", "rust"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rust: on"), "{out}");
    let rust = std::fs::read_to_string(dir.join("presets/rust.nix")).unwrap();
    assert!(rust.starts_with("# Rust"));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["userConfig"],
        serde_json::json!([
            "presets/shell.nix",
            "presets/python.nix",
            "presets/rust.nix",
            "user.nix"
        ])
    );
    assert_eq!(config["DOCKER_REGISTRY_HOST"], "localhost:5000");
    let (_, on_ref, _) = run(tmp.path(), &dir, &["hash", "--json"]);
    assert_ne!(on_ref, before_ref);

    let (code, out, _) = run(tmp.path(), &dir, &["toggle", "rust"]);
    assert_eq!(code, 0);
    assert!(out.contains("rust: off"), "{out}");
    // Back to the original config.json, byte for byte, and the same reference.
    assert_eq!(
        std::fs::read(dir.join("config.json")).unwrap(),
        std::fs::read(repo().join("example/config.json")).unwrap()
    );
    let (_, off_ref, _) = run(tmp.path(), &dir, &["hash", "--json"]);
    assert_eq!(off_ref, before_ref);
}

#[test]
fn add_and_remove_edit_user_nix_in_place() {
    let (tmp, dir) = example();
    let user = dir.join("user.nix");
    let original = std::fs::read_to_string(&user).unwrap();
    let (code, out, err) = run(
        tmp.path(),
        &dir,
        &["add", "ripgrep", "python312Packages.numpy"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "added ripgrep, python312Packages.numpy to user.nix"
    );
    let edited = std::fs::read_to_string(&user).unwrap();
    assert_eq!(
        edited,
        original.replace(
            "  sqlite\n",
            "  sqlite\n  ripgrep\n  python312Packages.numpy\n"
        )
    );

    // Already there: nothing changes, and it says so.
    let before = snapshot_tree(&dir);
    let (code, out, _) = run(tmp.path(), &dir, &["add", "pkgs.ripgrep"]);
    assert_eq!(code, 0);
    assert!(out.contains("ripgrep already in user.nix"), "{out}");
    assert_eq!(snapshot_tree(&dir), before);

    let (code, out, _) = run(tmp.path(), &dir, &["list", "--json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["file"] == "user.nix" && r["attr"] == "ripgrep"));

    let (code, out, _) = run(
        tmp.path(),
        &dir,
        &["remove", "ripgrep", "python312Packages.numpy"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("removed ripgrep, python312Packages.numpy from user.nix"));
    assert_eq!(std::fs::read_to_string(&user).unwrap(), original);

    let (code, out, _) = run(tmp.path(), &dir, &["remove", "ripgrep"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("ripgrep is not in user.nix: nothing removed"),
        "{out}"
    );
    let (_, out, _) = run(tmp.path(), &dir, &["remove", "cowsey"]);
    assert!(out.contains("did you mean `cowsay`?"), "{out}");
}

#[test]
fn crlf_and_tabs_survive_add_and_remove() {
    let (tmp, dir) = example();
    let user = dir.join("user.nix");
    let crlf = std::fs::read_to_string(&user)
        .unwrap()
        .replace("  ", "\t")
        .replace('\n', "\r\n");
    std::fs::write(&user, &crlf).unwrap();
    let (code, _, err) = run(tmp.path(), &dir, &["add", "htop"]);
    assert_eq!(code, 0, "{err}");
    let edited = std::fs::read_to_string(&user).unwrap();
    assert_eq!(
        edited,
        crlf.replace("\tsqlite\r\n", "\tsqlite\r\n\thtop\r\n")
    );
    let (code, _, _) = run(tmp.path(), &dir, &["remove", "htop"]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&user).unwrap(), crlf);
}

#[test]
fn add_with_file_edits_another_user_config_entry() {
    let (tmp, dir) = example();
    let (code, _, err) = run(
        tmp.path(),
        &dir,
        &["add", "--file", "presets/shell.nix", "bat"],
    );
    assert_eq!(code, 0, "{err}");
    let shell = std::fs::read_to_string(dir.join("presets/shell.nix")).unwrap();
    assert!(shell.contains("  openssh\n  bat\n]"), "{shell}");
    let (code, _, err) = run(
        tmp.path(),
        &dir,
        &["add", "--file", "workdir/local.nix", "cowsay"],
    );
    assert_eq!(code, 0, "{err}");
    let local = std::fs::read_to_string(dir.join("workdir/local.nix")).unwrap();
    assert!(local.contains("  hello\n  cowsay\n"), "{local}");
}

#[test]
fn list_shows_every_user_config_file() {
    let (tmp, dir) = example();
    let (code, out, _) = run(tmp.path(), &dir, &["list"]);
    assert_eq!(code, 0);
    for header in [
        "presets/shell.nix",
        "presets/python.nix",
        "user.nix (2 entries)",
    ] {
        assert!(out.contains(header), "{out}");
    }
    assert!(out.contains("python312.withPackages"), "{out}");
}

#[test]
fn malformed_config_json_is_bad_input_with_position() {
    let (tmp, dir) = example();
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        text.replace("\"user.nix\"\n", "\"user.nix\",\n"),
    )
    .unwrap();
    for args in [
        &["presets"][..],
        &["hash"],
        &["list"],
        &["toggle", "rust"],
        &["add", "jq"],
        &["remove", "cowsay"],
    ] {
        bad_input(tmp.path(), &dir, args, "config.json:7:3: trailing comma");
    }
}

#[test]
fn missing_base_or_user_files_are_named() {
    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("base.nix")).unwrap();
    for args in [&["hash"][..], &["add", "jq"], &["toggle", "go"]] {
        bad_input(
            tmp.path(),
            &dir,
            args,
            "baseConfig names \"base.nix\", which does not exist",
        );
    }
    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("presets/python.nix")).unwrap();
    for args in [&["presets"][..], &["list"], &["add", "jq"]] {
        bad_input(
            tmp.path(),
            &dir,
            args,
            "config.json:5:5: userConfig names \"presets/python.nix\", which does not exist",
        );
    }
}

#[test]
fn a_nix_file_that_does_not_parse_is_bad_input_with_position() {
    let (tmp, dir) = example();
    std::fs::write(dir.join("user.nix"), "{ pkgs }:\nwith pkgs; [\n  cowsay\n").unwrap();
    for args in [
        &["add", "jq"][..],
        &["remove", "cowsay"],
        &["list"],
        &["hash"],
    ] {
        bad_input(tmp.path(), &dir, args, "user.nix:4:1: Nix syntax error");
    }
}

#[test]
fn a_file_without_a_package_list_says_where_and_why() {
    let (tmp, dir) = example();
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }:\n{ packages = [ pkgs.jq ]; }\n",
    )
    .unwrap();
    for args in [&["add", "jq"][..], &["remove", "jq"], &["list"]] {
        bad_input(
            tmp.path(),
            &dir,
            args,
            "user.nix:2:1: no package list to edit: the file's value is an attribute set",
        );
    }
}

#[test]
fn invalid_attribute_paths_are_refused_before_anything_is_read() {
    let (tmp, dir) = example();
    bad_input(
        tmp.path(),
        &dir,
        &["add", "jq", "hello ]; x"],
        "`hello ]; x` is not a valid Nix attribute path",
    );
    bad_input(
        tmp.path(),
        &dir,
        &["remove", "a..b"],
        "not a valid Nix attribute path",
    );
    // Even in a folder that is not a project: the name is checked first.
    let empty = tempfile::tempdir().unwrap();
    bad_input(
        tmp.path(),
        empty.path(),
        &["add", "x y"],
        "not a valid Nix attribute path",
    );
}

#[test]
fn unknown_presets_suggest_the_closest() {
    let (tmp, dir) = example();
    bad_input(
        tmp.path(),
        &dir,
        &["toggle", "pyhton"],
        "did you mean `python`?",
    );
    bad_input(
        tmp.path(),
        &dir,
        &["toggle", "nodejs"],
        "did you mean `node`?",
    );
}

#[test]
fn a_path_pin_without_a_package_set_is_bad_input() {
    let (tmp, dir) = example();
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let start = text.find("\"nixpkgs\"").unwrap();
    let end = start + text[start..].find('}').unwrap() + 1;
    let text = format!(
        "{}\"nixpkgs\": {{ \"path\": \"missing\" }}{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(dir.join("config.json"), text).unwrap();
    bad_input(
        tmp.path(),
        &dir,
        &["hash"],
        "config.json:10:3: nixpkgs.path \"missing\" is not a package set",
    );
}

#[test]
fn a_folder_without_config_json_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("empty");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("user.nix"), "{ pkgs }: [ ]\n").unwrap();
    for args in [
        &["presets"][..],
        &["toggle", "go"],
        &["add", "jq"],
        &["remove", "jq"],
        &["list"],
        &["hash"],
    ] {
        bad_input(tmp.path(), &dir, args, "no config.json here");
        for not_a_folder in ["user.nix", "nope"] {
            let at = dir.join(not_a_folder);
            bad_input_watching(tmp.path(), &at, &dir, args, "no config.json here");
        }
    }
}

#[test]
fn add_to_a_file_outside_user_config_is_refused() {
    let (tmp, dir) = example();
    bad_input(
        tmp.path(),
        &dir,
        &["add", "--file", "base.nix", "jq"],
        "\"base.nix\" is not an entry of userConfig",
    );
}
