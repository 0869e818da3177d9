//! `biar-tui build -v` shows the build tree: a line each time a derivation changes state, with
//! its time; a failing derivation's own last log lines in the error; and the durations kept in
//! the state folder give the next build of the same names an ETA. The real engine, the offline
//! builder, the test package set (tests/fixtures/pkgs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::children::salt;
use common::tmux::Tmux;
use common::{biar, docker_available, offline_project};

/// The offline example with `user.nix` listing `packages` (each test's environment its own).
fn project(packages: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = offline_project(|_| {});
    std::fs::write(
        dir.join("user.nix"),
        format!("{{ pkgs }}:\n[\n{packages}\n]\n"),
    )
    .unwrap();
    (tmp, dir)
}

fn remove_image_named_in(text: &str) {
    for word in text.split_whitespace() {
        if word.starts_with("biar-") && word.contains(':') {
            let _ = Command::new("docker").args(["rmi", "-f", word]).output();
        }
    }
}

/// `build -v` of `dir` that must succeed (its image then removed); what it wrote to stderr.
fn build_verbose(home: &std::path::Path, dir: &std::path::Path) -> String {
    let out = biar(home)
        .args(["build", "-v", "--project"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    remove_image_named_in(&stdout);
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_good_build_shows_its_tree_nested_with_done_states_and_times_then_an_eta() {
    if !docker_available() {
        return;
    }
    let salt = salt();
    let (tmp, dir) = project(&format!(
        "  (pkgs.sleeper {{ seconds = 1; salt = \"{salt}\"; }})\n  \
         (pkgs.sleeperApp {{ seconds = 2; salt = \"{salt}\"; }})"
    ));
    let stderr = build_verbose(tmp.path(), &dir);
    // One line per state change, indented under the environment, with elapsed times.
    for wanted in [
        "  · sleeper-1s  waiting",
        "  ▶ sleeper-1s  building 0s",
        "  ✓ sleeper-1s  done 1s",
        "  ✓ biar-env  done",
        "✓ environment  done",
    ] {
        assert!(stderr.contains(wanted), "no {wanted:?} in:\n{stderr}");
    }
    assert!(stderr.contains("ETA unknown"), "{stderr}");
    // Under what needs it (from the derivation graph, asked beside the build): the library is
    // drawn under the program once the graph came, which is before its 2s build ends.
    assert!(
        stderr.contains("  ✓ sleeper-app-1.0  done"),
        "no program in:\n{stderr}"
    );
    assert!(
        stderr.contains("    ✓ sleeper-2s  done 2s"),
        "the library is not nested in:\n{stderr}"
    );
    // Not a redraw: each change is said once.
    assert_eq!(stderr.matches("✓ sleeper-1s  done").count(), 1, "{stderr}");

    // Its times were kept in the state folder, outside the project...
    let times = tmp.path().join("state/biar/build-times.json");
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&times).unwrap()).unwrap();
    assert!(kept["names"]["sleeper-1s"]["secs"].as_f64().unwrap() >= 1.0);
    assert!(!dir.join("build-times.json").exists());

    // ...so a new build of the same names has an ETA (another salt: built again).
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n  (pkgs.sleeper {{ seconds = 1; salt = \"{salt}-again\"; }})\n]\n"
        ),
    )
    .unwrap();
    let stderr = build_verbose(tmp.path(), &dir);
    let building = stderr
        .lines()
        .find(|l| l.contains("▶ environment  building"))
        .unwrap_or_else(|| panic!("no root line in:\n{stderr}"));
    assert!(
        building.contains("ETA ") && !building.contains("ETA unknown"),
        "{building}"
    );
}

#[test]
fn a_failing_derivation_is_failed_in_the_tree_and_its_last_lines_are_in_the_error() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project(&format!(
        "  pkgs.failing\n  (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }})",
        salt()
    ));
    let out = biar(tmp.path())
        .args(["build", "-v", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for wanted in [
        "  · failing-1.0  waiting",
        "  ▶ failing-1.0  building",
        "  ✗ failing-1.0  failed",
        "✗ environment  failed",
    ] {
        assert!(stderr.contains(wanted), "no {wanted:?} in:\n{stderr}");
    }
    // The error, last, pins the failed derivation's own lines.
    let error = &stderr[stderr.rfind("building failing-1.0 failed").expect(&stderr)..];
    assert!(error.contains("last lines of its log"), "{error}");
    assert!(error.contains("compiling main.c"), "{error}");
    assert!(
        error.contains("main.c:3:1: error: expected ';' before '}' token"),
        "{error}"
    );
    // A failed build's time is not an estimate for the next.
    let times = tmp.path().join("state/biar/build-times.json");
    if let Ok(bytes) = std::fs::read(&times) {
        let kept: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(kept["names"].get("failing-1.0").is_none(), "{kept}");
    }
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn the_tui_pins_a_failure_saves_its_log_with_w_and_copies_it_with_y() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.failing");
    let home = tmp.path().join("home");
    let state = home.join("state");
    let command = format!(
        "env -u DOCKER_REGISTRY_HOST XDG_CACHE_HOME={cache} XDG_STATE_HOME={state} \
         XDG_CONFIG_HOME={config} TERM=xterm-256color {bin} --project {dir}; sleep 60",
        cache = shell_quote(&home.join("cache")),
        state = shell_quote(&state),
        config = shell_quote(&home.join("config")),
        bin = shell_quote(&assert_cmd::cargo::cargo_bin("biar-tui")),
        dir = shell_quote(&dir),
    );
    let name = format!("biar-tui-tree-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &command);
    // Clipboard writes (OSC 52) become tmux buffers.
    tmux.tmux()
        .args(["set", "-g", "set-clipboard", "on"])
        .status()
        .unwrap();
    tmux.wait("the TUI", Duration::from_secs(20), |s| {
        s.contains("Presets")
    });
    tmux.key("b");
    let screen = tmux.wait("the build failed", Duration::from_secs(300), |s| {
        s.contains("✗ failed")
    });
    // Pinned above the tree: the failed derivation and its own last lines.
    assert!(screen.contains("✗ failing-1.0 failed after"), "{screen}");
    assert!(screen.contains("  compiling main.c"), "{screen}");
    assert!(screen.contains("✗ failing-1.0  failed"), "{screen}");

    tmux.key("w");
    let screen = tmux.wait("the log saved", Duration::from_secs(20), |s| {
        s.contains("saved the log of failing-1.0 to")
    });
    let saved = state.join("biar/logs/failing-1.0.log");
    let text = std::fs::read_to_string(&saved).unwrap_or_else(|e| panic!("{e}:\n{screen}"));
    assert_eq!(
        text,
        "configuring failing-1.0\ncompiling main.c\nmain.c:3:1: error: expected ';' before '}' token\n"
    );
    assert!(!dir.join("failing-1.0.log").exists());

    tmux.key("y");
    tmux.wait("the copy said", Duration::from_secs(20), |s| {
        s.contains("copied the log of failing-1.0")
    });
    let start = std::time::Instant::now();
    let copied = loop {
        let out = tmux.tmux().args(["show-buffer"]).output().unwrap();
        let copied = String::from_utf8_lossy(&out.stdout).into_owned();
        if !copied.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break copied;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(copied, text);
    tmux.key("q");
}
