//! End-to-end: a project's files as hostile input (issue 10): concurrent edits, file sizes and
//! kinds (FIFO, directory), symlinks, byte order marks, a pin with two forms, quoted attribute
//! names. The real binary on temp copies of `example/`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{biar_std, copy_project, repo, snapshot_tree};

fn example() -> (tempfile::TempDir, std::path::PathBuf) {
    copy_project(&repo().join("example"))
}

/// `biar-tui --project DIR ARGS…` as a child with its output piped.
fn spawn(home: &Path, dir: &Path, args: &[&str]) -> Child {
    biar_std(home)
        .arg("--project")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs")
}

/// Waits for `child`, killing it (and failing) if it takes more than 60 s: a FIFO must not hang.
fn finish(mut child: Child, what: &str) -> (i32, String, String) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after 60 s (hangs)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(home: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    finish(spawn(home, dir, args), &format!("{args:?}"))
}

/// Exit 2, `needle` in the message, and no file under `dir` changed.
fn bad_input(home: &Path, dir: &Path, args: &[&str], needle: &str) {
    let before = snapshot_tree(dir);
    let (code, out, err) = run(home, dir, args);
    assert_eq!(code, 2, "{args:?}\nstdout: {out}\nstderr: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert_eq!(snapshot_tree(dir), before, "{args:?} changed files");
}

fn user_config(dir: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    v["userConfig"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ten_parallel_adds_all_survive() {
    let (tmp, dir) = example();
    let names: Vec<String> = (0..10).map(|i| format!("tool{i}")).collect();
    let children: Vec<Child> = names
        .iter()
        .map(|n| spawn(tmp.path(), &dir, &["add", "--force", n]))
        .collect();
    for (child, name) in children.into_iter().zip(&names) {
        let (code, _, err) = finish(child, name);
        assert_eq!(code, 0, "add {name}: {err}");
    }
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    for n in &names {
        assert!(user.contains(&format!("  {n}\n")), "{n} lost:\n{user}");
    }
    // And parallel removes of all ten leave the original list.
    let children: Vec<Child> = names
        .iter()
        .map(|n| spawn(tmp.path(), &dir, &["remove", n]))
        .collect();
    for (child, name) in children.into_iter().zip(&names) {
        let (code, _, err) = finish(child, name);
        assert_eq!(code, 0, "remove {name}: {err}");
    }
    assert_eq!(
        std::fs::read(dir.join("user.nix")).unwrap(),
        std::fs::read(repo().join("example/user.nix")).unwrap()
    );
}

#[test]
fn parallel_toggles_all_survive() {
    let (tmp, dir) = example();
    let off = [
        "rust",
        "go",
        "node",
        "cpp",
        "java",
        "ruby",
        "devops",
        "data-science",
    ];
    let children: Vec<Child> = off
        .iter()
        .map(|n| spawn(tmp.path(), &dir, &["toggle", n]))
        .collect();
    for (child, name) in children.into_iter().zip(off) {
        let (code, out, err) = finish(child, name);
        assert_eq!(code, 0, "toggle {name}: {err}");
        assert!(out.contains(&format!("{name}: on")), "{out}");
    }
    let entries = user_config(&dir);
    for n in off {
        assert!(
            entries.contains(&format!("presets/{n}.nix")),
            "{n} lost: {entries:?}"
        );
    }
    assert_eq!(entries.len(), 11, "{entries:?}");
}

#[test]
fn oversized_project_files_are_refused_with_the_limit() {
    let (tmp, dir) = example();
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    // Valid JSON, only far too large: 2 MiB of spaces.
    std::fs::write(
        dir.join("config.json"),
        format!("{}{}", " ".repeat(2 << 20), text),
    )
    .unwrap();
    for args in [&["hash"][..], &["list"], &["add", "jq"], &["toggle", "go"]] {
        bad_input(tmp.path(), &dir, args, "limit");
    }

    let (tmp, dir) = example();
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    let comment = format!("# {}\n", "x".repeat(100));
    std::fs::write(
        dir.join("user.nix"),
        format!("{}{user}", comment.repeat(9 << 20 >> 7)),
    )
    .unwrap();
    for args in [
        &["hash"][..],
        &["list"],
        &["add", "jq"],
        &["remove", "cowsay"],
    ] {
        bad_input(tmp.path(), &dir, args, "limit");
    }
}

#[test]
fn fifos_and_folders_are_refused_without_hanging() {
    let mkfifo = |p: &Path| {
        let status = Command::new("mkfifo").arg(p).status().unwrap();
        assert!(status.success());
    };
    // config.json as a FIFO and as a folder.
    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("config.json")).unwrap();
    mkfifo(&dir.join("config.json"));
    for args in [&["hash"][..], &["add", "jq"], &["toggle", "go"]] {
        let (code, _, err) = run(tmp.path(), &dir, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("FIFO"), "{err}");
    }
    // A search reads config.json too (for the index settings): it must not hang either.
    let (code, _, err) = run(tmp.path(), &dir, &["search", "hello"]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    std::fs::create_dir(dir.join("config.json")).unwrap();
    let (code, _, err) = run(tmp.path(), &dir, &["hash"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a directory"), "{err}");

    // A userConfig entry that is a FIFO or a folder is not "missing".
    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("user.nix")).unwrap();
    mkfifo(&dir.join("user.nix"));
    for args in [&["hash"][..], &["list"], &["add", "jq"], &["presets"]] {
        let (code, _, err) = run(tmp.path(), &dir, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("FIFO"), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
    }
    std::fs::remove_file(dir.join("user.nix")).unwrap();
    std::fs::create_dir(dir.join("user.nix")).unwrap();
    let (code, _, err) = run(tmp.path(), &dir, &["list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a directory"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");

    // workdir/local.nix and a project preset as FIFOs.
    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("workdir/local.nix")).unwrap();
    mkfifo(&dir.join("workdir/local.nix"));
    let (code, _, err) = run(tmp.path(), &dir, &["hash"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FIFO"), "{err}");
    let (tmp, dir) = example();
    mkfifo(&dir.join("presets/mine.nix"));
    let (code, _, err) = run(tmp.path(), &dir, &["toggle", "mine"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn a_byte_order_mark_is_named() {
    let (tmp, dir) = example();
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend(std::fs::read(dir.join("config.json")).unwrap());
    std::fs::write(dir.join("config.json"), text).unwrap();
    bad_input(tmp.path(), &dir, &["hash"], "byte order mark");

    let (tmp, dir) = example();
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend(std::fs::read(dir.join("user.nix")).unwrap());
    std::fs::write(dir.join("user.nix"), text).unwrap();
    for args in [&["hash"][..], &["list"], &["add", "jq"]] {
        bad_input(tmp.path(), &dir, args, "user.nix:1:1: ");
        bad_input(tmp.path(), &dir, args, "byte order mark");
    }
}

#[test]
fn a_pin_with_two_forms_is_refused() {
    for pin in [
        r#"{ "path": "pkgs", "channel": "nixos-24.11" }"#,
        r#"{ "channel": "nixos-24.11", "url": "https://example.invalid/a.tar.gz", "sha256": "x" }"#,
    ] {
        let (tmp, dir) = example();
        let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
        let start = text.find("\"nixpkgs\"").unwrap();
        let end = start + text[start..].find('}').unwrap() + 1;
        let text = format!("{}\"nixpkgs\": {pin}{}", &text[..start], &text[end..]);
        std::fs::write(dir.join("config.json"), text).unwrap();
        bad_input(tmp.path(), &dir, &["hash"], "config.json:10:3: nixpkgs");
        bad_input(tmp.path(), &dir, &["hash"], "exactly one");
    }
}

#[test]
fn symlinks_inside_the_project_are_followed_and_written_through() {
    let (tmp, dir) = example();
    std::fs::create_dir(dir.join("shared")).unwrap();
    std::fs::rename(dir.join("user.nix"), dir.join("shared/user.nix")).unwrap();
    std::os::unix::fs::symlink("shared/user.nix", dir.join("user.nix")).unwrap();
    std::fs::rename(dir.join("config.json"), dir.join("shared/config.json")).unwrap();
    std::os::unix::fs::symlink("shared/config.json", dir.join("config.json")).unwrap();
    let (code, _, err) = run(tmp.path(), &dir, &["add", "jq"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(tmp.path(), &dir, &["toggle", "go"]);
    assert_eq!(code, 0, "{err}");
    // The links are still links, and their targets hold the edits.
    for (link, target) in [
        ("user.nix", "shared/user.nix"),
        ("config.json", "shared/config.json"),
    ] {
        let meta = std::fs::symlink_metadata(dir.join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} was replaced");
        let _ = target;
    }
    let user = std::fs::read_to_string(dir.join("shared/user.nix")).unwrap();
    assert!(user.contains("  jq\n"), "{user}");
    assert!(user_config(&dir.join("shared")).contains(&"presets/go.nix".to_string()));
    let (code, out, _) = run(tmp.path(), &dir, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("jq"), "{out}");
}

#[test]
fn symlinks_that_leave_the_project_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("user.nix");
    std::fs::write(&secret, "{ pkgs }: with pkgs; [ hello ]\n").unwrap();

    let (tmp, dir) = example();
    std::fs::remove_file(dir.join("user.nix")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("user.nix")).unwrap();
    for args in [
        &["hash"][..],
        &["list"],
        &["add", "jq"],
        &["remove", "hello"],
        &["toggle", "go"],
    ] {
        bad_input(tmp.path(), &dir, args, "outside the project");
    }
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "{ pkgs }: with pkgs; [ hello ]\n"
    );

    // A presets folder that links out: turning a shipped preset on must not write there.
    let (tmp, dir) = example();
    std::fs::remove_dir_all(dir.join("presets")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.join("presets")).unwrap();
    let (code, _, err) = run(tmp.path(), &dir, &["toggle", "go"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("outside the project"), "{err}");
    assert!(!outside.path().join("go.nix").exists());
}

#[test]
fn a_quoted_name_is_added_as_an_attribute_not_a_string() {
    let (tmp, dir) = example();
    let (code, out, err) = run(tmp.path(), &dir, &["add", "--force", "\"a.b\""]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added"), "{out}");
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    assert!(user.contains("  pkgs.\"a.b\"\n"), "{user}");
    // Listed as the attribute, and removable by the same name.
    let (_, out, _) = run(tmp.path(), &dir, &["list", "--json"]);
    assert!(out.contains(r#""attr": "\"a.b\"""#), "{out}");
    let (code, _, err) = run(tmp.path(), &dir, &["remove", "\"a.b\""]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(dir.join("user.nix")).unwrap(),
        std::fs::read(repo().join("example/user.nix")).unwrap()
    );
}
