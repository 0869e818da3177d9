//! Text that is not ours reaches the user's terminal only through the one sanitizer: a build whose
//! log, phase and forged Nix messages carry escape sequences, and a project whose preset
//! description, entries and config.json strings do, change nothing of the terminal the CLI runs
//! in. Checked in tmux with `set-clipboard on`: no paste buffer (OSC 52), the pane title kept
//! (OSC 0), no bell, the screen not cleared (CSI 2J), no C1 control acted on.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tmux::Tmux;
use common::{docker_available, offline_project};

const TITLE: &str = "biar-test-title";

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// A tmux server with the clipboard on and a known title, running `script` once the options
/// are set (it waits for a file).
fn terminal(name: &str, dir: &Path, home: &Path, script: &str) -> Tmux {
    let go = home.join("go");
    let command = format!(
        "while [ ! -e {go} ]; do sleep 0.1; done; export XDG_CACHE_HOME={cache} XDG_STATE_HOME={cache}/state XDG_CONFIG_HOME={config} TERM=xterm-256color; B={bin}; P={dir}; {script}; sleep 600",
        go = quote(&go),
        cache = quote(&home.join("cache")),
        config = quote(&home.join("config")),
        bin = quote(&assert_cmd::cargo::cargo_bin("biar-tui")),
        dir = quote(dir),
    );
    std::fs::create_dir_all(home).unwrap();
    let tmux = Tmux::start(name, 200, 60, &command);
    let ok = tmux
        .tmux()
        .args(["set", "-g", "set-clipboard", "on"])
        .status()
        .unwrap();
    assert!(ok.success());
    tmux.tmux()
        .args(["select-pane", "-T", TITLE])
        .status()
        .unwrap();
    std::fs::write(&go, "").unwrap();
    tmux
}

/// Nothing of the terminal changed but the text on it.
fn assert_untouched(tmux: &Tmux, screen: &str) {
    assert_eq!(tmux.buffers(), "", "OSC 52 wrote the clipboard:\n{screen}");
    assert_eq!(
        tmux.var("pane_title"),
        TITLE,
        "the title changed:\n{screen}"
    );
    assert_eq!(tmux.var("window_bell_flag"), "0", "a bell rang:\n{screen}");
}

/// `build` (the spinner, the error with the log's last lines) and `build -v` (phases, log lines,
/// Nix's messages) of a derivation that prints every kind of escape sequence and then fails,
/// having forged a Nix error that blames another derivation.
#[test]
fn a_hostile_build_log_changes_nothing_but_the_text() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = offline_project(|_| {});
    std::fs::write(dir.join("user.nix"), "{ pkgs }: [ pkgs.hostile.log ]\n").unwrap();
    let home = tmp.path().join("home");
    let name = format!("biar-hostile-build-{}", std::process::id());
    let tmux = terminal(
        &name,
        &dir,
        &home,
        &format!(
            "echo BEFORE-BUILD; \"$B\" build -p \"$P\"; echo \"exit=$?\"; while [ ! -e {go2} ]; do sleep 0.1; done; echo BEFORE-VERBOSE; \"$B\" build -v -p \"$P\"; echo \"verbose-exit=$?\"",
            go2 = quote(&home.join("go2"))
        ),
    );
    let screen = tmux.wait("the build's end", Duration::from_secs(600), |s| {
        s.contains("exit=")
    });
    assert!(
        screen.contains("BEFORE-BUILD"),
        "the screen was cleared:\n{screen}"
    );
    assert!(screen.contains("exit=1"), "{screen}");
    // The failure Nix counted, not the one the builder's message names.
    assert!(
        screen.contains("building hostile-log-1.0 failed"),
        "{screen}"
    );
    assert!(!screen.contains("building innocent"), "{screen}");
    // The log's last lines are there, as text.
    assert!(screen.contains("cliptitlebell"), "{screen}");
    assert!(
        !screen.contains("PWNED"),
        "a string's payload shows:\n{screen}"
    );
    assert!(
        !screen.contains("PWNED"),
        "a string's payload shows:\n{screen}"
    );
    assert_untouched(&tmux, &screen);

    std::fs::write(home.join("go2"), "").unwrap();
    let screen = tmux.wait("the verbose build's end", Duration::from_secs(600), |s| {
        s.contains("verbose-exit=")
    });
    assert!(screen.contains("verbose-exit=1"), "{screen}");
    assert!(
        screen.contains("BEFORE-VERBOSE"),
        "the screen was cleared:\n{screen}"
    );
    assert!(screen.contains("hostile-log-1.0: evilPhase"), "{screen}");
    assert!(screen.contains("hostile-log-1.0> clear"), "{screen}");
    assert_untouched(&tmux, &tmux.history());
}

/// A project's own text: a preset description (`presets`), entries of a userConfig file (`list`),
/// a userConfig path and a registry host in errors, the builder's image and volume names.
#[test]
fn hostile_project_text_changes_nothing_but_the_text() {
    let (tmp, dir) = offline_project(|config| {
        config["userConfig"] =
            serde_json::json!(["presets/python.nix", "presets/evil.nix", "user.nix"]);
    });
    std::fs::write(
        dir.join("presets/evil.nix"),
        "# Evil \x1b]52;c;UFdORUQtREVTQw==\x07preset\x1b]0;PWNED-DESC\x07 \x1b[2J\u{9d}0;PWNED-C1\u{9c}\x07\n{ pkgs }: [ ]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }: with pkgs; [\n  hello\n  pkgs.\"x\x1b]52;c;UFdORUQtQVRUUg==\x07y\"\n  (pkgs.writeText \"t\" \"\x1b]0;PWNED-EXPR\x07\x1b[2J\")\n]\n",
    )
    .unwrap();
    // A second project whose userConfig names a file that is not there, and a third whose
    // registry host is not one.
    let missing = tmp.path().join("missing");
    common::copy_dir(&dir, &missing);
    let config = missing.join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    json["userConfig"] =
        serde_json::json!(["\x1b]52;c;UFdORUQtUEFUSA==\x07\x1b]0;PWNED-PATH\x07x.nix"]);
    std::fs::write(&config, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let registry = tmp.path().join("registry");
    common::copy_dir(&dir, &registry);
    let config = registry.join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    json["registry"] =
        serde_json::json!({"host": "\x1b]52;c;UFdORUQtSE9TVA==\x07\x1b]0;PWNED-HOST\x07h\x1b[2J"});
    json["builder"]["image"] = "\x1b]52;c;UFdORUQtSU1BR0U=\x07img\x1b]0;PWNED-IMAGE\x07".into();
    json["builder"]["storeVolume"] = "vol\x1b]0;PWNED-VOLUME\x07\x1b[2J".into();
    std::fs::write(&config, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    let home = tmp.path().join("home");
    let name = format!("biar-hostile-project-{}", std::process::id());
    let script = format!(
        "echo BEFORE-ALL; \"$B\" presets -p \"$P\"; \"$B\" list -p \"$P\"; \"$B\" hash -p {missing}; \"$B\" pull -p {registry}; \"$B\" build --push -p {registry}; \"$B\" builder status -p {registry}; echo ALL-DONE",
        missing = quote(&missing),
        registry = quote(&registry),
    );
    let tmux = terminal(&name, &dir, &home, &script);
    let screen = tmux.wait("the commands' end", Duration::from_secs(60), |s| {
        s.contains("ALL-DONE")
    });
    assert!(
        screen.contains("BEFORE-ALL"),
        "the screen was cleared:\n{screen}"
    );
    assert!(screen.contains("Evil preset"), "{screen}");
    assert!(screen.contains("x.nix"), "{screen}");
    assert_untouched(&tmux, &screen);
}
