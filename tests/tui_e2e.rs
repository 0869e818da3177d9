//! The TUI in a real terminal (tmux), against the real Docker Engine, the offline builder and the
//! test package set: search `hello`, add it, `r` to build and run attached, type `hello` in the
//! container's shell, `exit`, and find the TUI back with `hello` in the configuration; `P` to push
//! to a real registry on loopback; the help on a small terminal.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::registry::Registry;
use common::tmux::Tmux;
use common::{biar, docker_available, offline_project};

/// A copy of example-offline pinned to the repository's package set, with an empty user.nix and
/// an image name prefix of its own (so the image is this test's alone, built here, and removed).
fn project(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = offline_project(|config| {
        config["image"]["namePrefix"] = prefix.into();
    });
    std::fs::write(
        dir.join("user.nix"),
        "# Your own packages.\n{ pkgs }:\nwith pkgs; [\n]\n",
    )
    .unwrap();
    (tmp, dir)
}

/// A test project with a HOME of its own beside it (the TUI's settings and state go there).
fn project_with_home(prefix: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir) = project(prefix);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    (tmp, dir, home)
}

/// The TUI on the project in a 120x32 tmux session, once the package index is loaded.
fn start_with_index(name: &str, home: &Path, dir: &Path, exit_file: &Path) -> Tmux {
    let tmux = Tmux::start(name, 120, 32, &tui_command(home, dir, exit_file));
    tmux.wait(
        "the TUI with the index loaded",
        Duration::from_secs(20),
        |s| s.contains("Search 1") && s.contains("python"),
    );
    tmux
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Removes every image whose name starts with the test's prefix, even when the test fails.
struct RemoveImages(String);

impl Drop for RemoveImages {
    fn drop(&mut self) {
        let out = Command::new("docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output();
        if let Ok(out) = out {
            for image in String::from_utf8_lossy(&out.stdout).lines() {
                if image.starts_with(&self.0) {
                    let _ = Command::new("docker").args(["rmi", "-f", image]).output();
                }
            }
        }
    }
}

#[test]
fn search_add_run_hello_and_come_back() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-e2e-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir, home) = project_with_home(&prefix);
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-e2e-{}", std::process::id());
    let tmux = start_with_index(&name, &home, &dir, &exit_file);
    let short = Duration::from_secs(20);
    tmux.key("/");
    tmux.type_text("hello");
    tmux.wait("hello among the results", short, |s| {
        s.lines()
            .any(|l| l.contains("│hello ") || l.contains("┃hello "))
    });
    tmux.key("Enter");
    let screen = tmux.wait("hello in the configuration pane", short, |s| {
        s.contains("added")
            && s.lines()
                .any(|l| l.contains("│  hello ") || l.contains("┃  hello "))
    });
    let user_nix = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    assert!(
        user_nix.contains("hello"),
        "user.nix:\n{user_nix}\nscreen:\n{screen}"
    );

    // Leave the search box for the configuration pane (tab), then `r`: build, then a shell here.
    tmux.key("Tab");
    tmux.wait("the configuration pane focused", short, |s| {
        s.contains("┏ Configuration")
    });
    tmux.key("r");
    tmux.wait(
        "the container's shell prompt",
        Duration::from_secs(600),
        |s| {
            !s.contains("Presets")
                && s.lines()
                    .any(|l| l.trim_end().ends_with('$') || l.trim_end().ends_with('#'))
        },
    );
    tmux.type_text("hello");
    tmux.key("Enter");
    tmux.wait("hello's greeting from the container", short, |s| {
        s.contains("Hello, world!")
    });
    tmux.type_text("exit");
    tmux.key("Enter");
    let back = tmux.wait("the TUI back after exit", short, |s| {
        s.contains("Presets") && s.contains("exited with code 0")
    });
    assert!(
        back.lines().any(|l| l.contains("  hello ")),
        "hello still in the configuration:\n{back}"
    );
    // `r` built the environment and ran it from the store volume: no image.
    assert!(back.contains("built: environment"), "{back}");

    tmux.key("q");
    let start = Instant::now();
    while !exit_file.exists() && start.elapsed() < short {
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&exit_file).unwrap_or_default();
    assert_eq!(code.trim(), "0", "the TUI exited cleanly");
}

/// SIGTERM: the UI quits and the terminal is itself again (main screen, cursor shown, cooked
/// mode, so the shell after it echoes what is typed). Needs no Docker.
#[test]
fn sigterm_restores_the_terminal() {
    let (tmp, dir) = project("biar-tui-e2e-unused-");
    let home = tmp.path().join("home");
    let binary = assert_cmd::cargo::cargo_bin("biar-tui");
    let exit_file = tmp.path().join("exit-code");
    let command = tui_command_then(&home, &dir, &exit_file, "exec cat");
    let name = format!("biar-tui-term-{}", std::process::id());
    let tmux = Tmux::start(&name, 100, 30, &command);
    tmux.wait("the TUI", Duration::from_secs(20), |s| {
        s.contains("Presets")
    });
    assert_eq!(tmux.var("alternate_on"), "1");
    assert_eq!(tmux.var("cursor_flag"), "0", "the TUI hides the cursor");
    let pid = Command::new("pgrep")
        .args(["-f", &format!("^{} --project", binary.display())])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&pid.stdout).to_string();
    let pid = pids
        .lines()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .map(|c| c.contains(&dir.display().to_string()))
                .unwrap_or(false)
        })
        .expect("the TUI's pid");
    Command::new("kill").args(["-TERM", pid]).status().unwrap();
    let start = Instant::now();
    while !exit_file.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&exit_file)
            .unwrap_or_default()
            .trim(),
        "143",
        "a clean exit on SIGTERM, with the code a shell gives a terminated command"
    );
    assert_eq!(tmux.var("alternate_on"), "0", "back on the main screen");
    assert_eq!(tmux.var("cursor_flag"), "1", "cursor shown again");
    // Cooked mode: `cat` echoes a typed line and prints it back after enter.
    tmux.type_text("still-typing");
    tmux.key("Enter");
    tmux.wait(
        "the line echoed by the tty and by cat",
        Duration::from_secs(5),
        |s| s.matches("still-typing").count() >= 2,
    );
}

/// Keys typed right after `r` (a space, two more `r`s) belong to the hand-over: they reach the
/// environment or no one, never the TUI; keys typed at the shell's first prompt all reach the
/// shell. After the shell exits, no preset was toggled and the environment does not run again.
#[test]
fn keys_typed_during_the_hand_over_never_reach_the_tui() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-keys-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir, home) = project_with_home(&prefix);
    // Built beforehand, so `r` attaches at once.
    biar(&home)
        .args(["build", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let config_before = std::fs::read(dir.join("config.json")).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-keys-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI with the image built", short, |s| {
        s.contains("Presets") && s.contains("built: local")
    });
    // One write: `r`, then what a hurried hand types next (space toggles the preset under the
    // cursor, `r` runs the environment).
    tmux.keys(&["r", "Space", "r", "r"]);
    tmux.wait(
        "the container's shell prompt",
        Duration::from_secs(60),
        |s| {
            !s.contains("Presets")
                && s.lines()
                    .any(|l| l.trim_end().ends_with('$') || l.trim_end().ends_with('#'))
        },
    );
    // Whatever of those keys reached the shell is a line of its own. Keys typed as soon as the
    // prompt shows are the shell's, every one (the TUI's keyboard reader once took them).
    tmux.key("Enter");
    tmux.type_text("echo typed-$((6*7))");
    tmux.key("Enter");
    tmux.wait("the command typed at the prompt", short, |s| {
        s.lines().any(|l| l.trim_end() == "typed-42")
    });
    tmux.type_text("exit");
    tmux.key("Enter");
    tmux.wait("the TUI back after exit", Duration::from_secs(60), |s| {
        s.contains("Presets") && s.contains("exited with code 0")
    });
    // Give replayed keys time to act.
    std::thread::sleep(Duration::from_secs(3));
    let screen = tmux.screen();
    assert!(
        screen.contains("Presets") && screen.contains("exited with code 0"),
        "the environment ran again:\n{screen}"
    );
    assert_eq!(
        std::fs::read(dir.join("config.json")).unwrap(),
        config_before,
        "a preset was toggled:\n{screen}"
    );
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}

/// The TUI's build view of a derivation whose log, phase and forged Nix messages carry escape
/// sequences (OSC 52, OSC 0, CSI 2J, BEL, C1), with tmux's clipboard on: no paste buffer, the
/// pane title kept, no bell; the failure names the derivation Nix says failed.
#[test]
fn a_hostile_build_log_leaves_the_tuis_terminal_alone() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-hostile-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir) = project(&prefix);
    std::fs::write(dir.join("user.nix"), "{ pkgs }: [ pkgs.hostile.log ]\n").unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-hostile-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    tmux.tmux()
        .args(["set", "-g", "set-clipboard", "on"])
        .status()
        .unwrap();
    tmux.tmux()
        .args(["select-pane", "-T", "biar-test-title"])
        .status()
        .unwrap();
    let short = Duration::from_secs(20);
    tmux.wait("the TUI", short, |s| s.contains("Presets"));
    tmux.key("b");
    let screen = tmux.wait("the build failed", Duration::from_secs(300), |s| {
        s.contains("✗ failed")
    });
    // The failure Nix counted; the builder's forged message shows only as a line of its log.
    assert!(
        screen.contains("the build failed: building hostile-log-1.0 failed"),
        "{screen}"
    );
    assert!(!screen.contains("building innocent"), "{screen}");
    assert!(!screen.contains("PWNED"), "{screen}");
    assert_eq!(tmux.buffers(), "", "OSC 52 wrote the clipboard:\n{screen}");
    assert_eq!(tmux.var("pane_title"), "biar-test-title", "{screen}");
    assert_eq!(tmux.var("window_bell_flag"), "0", "a bell rang:\n{screen}");
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}

/// The command line that runs the TUI on `dir` in tmux with a private cache and config, writes its
/// exit code to `exit`, then keeps the pane open.
fn tui_command(home: &Path, dir: &Path, exit: &Path) -> String {
    tui_command_then(home, dir, exit, "sleep 60")
}

/// [`tui_command`], running `then` in the pane after the TUI exits.
fn tui_command_then(home: &Path, dir: &Path, exit: &Path, then: &str) -> String {
    format!(
        "env -u DOCKER_REGISTRY_HOST XDG_CACHE_HOME={cache} XDG_STATE_HOME={cache}/state XDG_CONFIG_HOME={config} TERM=xterm-256color {bin} --project {dir}; echo $? > {exit}; {then}",
        cache = shell_quote(&home.join("cache")),
        config = shell_quote(&home.join("config")),
        bin = shell_quote(&assert_cmd::cargo::cargo_bin("biar-tui")),
        dir = shell_quote(dir),
        exit = shell_quote(exit),
    )
}

fn wait_for_exit(exit_file: &Path) -> String {
    // The pane's shell creates the file before `echo` writes the code into it: an empty file is
    // not an answer yet, a whole line is.
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(exit_file).unwrap_or_default();
        if text.ends_with('\n') || start.elapsed() > Duration::from_secs(20) {
            return text.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `P` builds and pushes to the project's registry (Debian's docker-registry on loopback): the
/// build view shows the push, the status line says the image is in the registry, and skopeo finds
/// it there. `P` again sends nothing.
#[test]
fn shift_p_builds_and_pushes_to_the_registry() {
    if !docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let prefix = format!("biar-tui-push-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"]["namePrefix"] = prefix.clone().into();
        config["registry"] = serde_json::json!({ "host": reg.host(), "namespace": "biar-test" });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-push-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI, the registry asked", short, |s| {
        s.contains("Presets") && s.contains("not built yet")
    });

    tmux.key("P");
    // The preview of what changes comes first; enter pushes.
    tmux.key("Enter");
    tmux.wait("the push in the build view", short, |s| {
        s.contains("┏ Push")
    });
    let done = tmux.wait("the push done", Duration::from_secs(600), |s| {
        s.contains("built: in registry") || s.contains("✗ failed")
    });
    let remote_prefix = format!("{}/biar-test/{prefix}", reg.host());
    assert!(
        done.contains(&format!("✓ pushed {remote_prefix}")),
        "{done}"
    );
    assert!(
        done.contains("pushed ") && done.contains("blobs sent"),
        "{done}"
    );

    // The registry has it, as skopeo reads it.
    let out = biar(&home)
        .args(["hash", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let hash: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let remote = format!(
        "{}/biar-test/{}",
        reg.host(),
        hash["reference"].as_str().unwrap()
    );
    let v = common::registry::skopeo_inspect(&remote).unwrap_or_else(|e| panic!("{e}"));
    assert!(v["Layers"].as_array().unwrap().len() >= 2, "{v}");
    assert_eq!(v["Labels"]["biar.user-hash"], hash["tag"], "{v}");

    // Again, from the build view: already there, nothing sent.
    reg.clear_log();
    tmux.key("P");
    // The preview of what changes comes first; enter pushes.
    tmux.key("Enter");
    tmux.wait("the second push", Duration::from_secs(120), |s| {
        s.contains("✓ already in the registry")
    });
    let requests = reg.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("PUT ") || r.starts_with("POST ")),
        "{requests:?}"
    );

    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}

/// Without a registry in config.json (or DOCKER_REGISTRY_HOST), `P` says which key to set on an
/// 80-column status line and starts nothing. Needs no Docker.
#[test]
fn shift_p_without_a_registry_says_which_key_to_set() {
    let (tmp, dir) = offline_project(|config| {
        let obj = config.as_object_mut().unwrap();
        obj.remove("DOCKER_REGISTRY_HOST");
        obj.remove("DOCKER_REGISTRY_CONTAINER");
    });
    let home = tmp.path().join("home");
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-noreg-{}", std::process::id());
    let tmux = Tmux::start(&name, 80, 24, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI", short, |s| s.contains("Presets"));
    tmux.key("P");
    let screen = tmux.wait("the warning", short, |s| {
        s.contains("to push, set registry.host")
    });
    assert!(!screen.contains("Push"), "nothing started:\n{screen}");
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0");
}

/// `?` on an 80x12 terminal: the list scrolls and says there is more. Needs no Docker.
#[test]
fn help_scrolls_on_a_small_terminal() {
    let (tmp, dir) = project("biar-tui-e2e-unused-");
    let home = tmp.path().join("home");
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-help-{}", std::process::id());
    let tmux = Tmux::start(&name, 80, 12, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI", short, |s| s.contains("Presets"));
    tmux.key("?");
    tmux.wait("the help's first page", short, |s| {
        s.contains("search packages") && s.contains("↓ more") && !s.contains("quit")
    });
    tmux.key("End");
    tmux.wait("the help's last page", short, |s| {
        s.contains("quit") && s.contains("↑ more") && !s.contains("search packages")
    });
    tmux.key("PageUp");
    tmux.wait("a page up", short, |s| s.contains("↑↓ more"));
    tmux.key("Escape");
    tmux.wait("the help closed", short, |s| !s.contains("more ·"));
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0");
}

/// `c` then `y` during a push (here while Nix builds a slow derivation) stops it within seconds:
/// the status line says the push was cancelled (not failed), the registry has no tag, no builder
/// container is left.
#[test]
fn cancelling_a_push_stops_it_and_tags_nothing() {
    if !docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let prefix = format!("biar-tui-pushc-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"]["namePrefix"] = prefix.clone().into();
        config["registry"] = serde_json::json!({ "host": reg.host(), "namespace": "biar-test" });
    });
    // A derivation of its own (the salt), so it really builds, slowly.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let salt = format!("{}-{nanos}", std::process::id());
    std::fs::write(
        dir.join("user.nix"),
        format!("{{ pkgs }}: [ (pkgs.sleeper {{ seconds = 120; salt = \"{salt}\"; }}) ]\n"),
    )
    .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-pushc-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI, the registry asked", short, |s| {
        s.contains("Presets") && s.contains("not built yet")
    });
    let tui_pid = Command::new("pgrep")
        .args(["-P", &tmux.var("pane_pid")])
        .output()
        .unwrap();
    let tui_pid = String::from_utf8_lossy(&tui_pid.stdout).trim().to_string();
    let cmdline = std::fs::read_to_string(format!("/proc/{tui_pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.contains("biar-tui"), "the TUI's pid: {tui_pid:?}");

    tmux.key("P");
    // The preview of what changes comes first; enter pushes.
    tmux.key("Enter");
    tmux.wait("the sleeper building", Duration::from_secs(120), |s| {
        s.contains("building sleeper")
    });
    tmux.key("c");
    tmux.wait("the question", short, |s| s.contains("Cancel the push?"));
    tmux.key("y");
    let sent = Instant::now();
    let screen = tmux.wait("the push stopped", short, |s| s.contains("✗ cancelled"));
    eprintln!("the push stopped {:?} after `y`", sent.elapsed());
    assert!(
        screen.contains("push cancelled")
            && !screen.contains("push failed")
            && !screen.contains("✗ failed"),
        "{screen}"
    );
    let containers = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=biar=builder"])
        .args(["--filter", &format!("label=biar.pid={tui_pid}")])
        .output()
        .unwrap();
    assert!(
        containers.stdout.is_empty(),
        "stray builder containers: {}",
        String::from_utf8_lossy(&containers.stdout)
    );
    let out = biar(&home)
        .args(["hash", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let hash: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let remote = format!(
        "{}/biar-test/{}",
        reg.host(),
        hash["reference"].as_str().unwrap()
    );
    assert!(
        common::registry::skopeo_inspect(&remote).is_err(),
        "nothing was tagged"
    );

    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}

/// The pid of the TUI running on `dir`.
fn tui_pid(dir: &Path) -> u32 {
    let binary = assert_cmd::cargo::cargo_bin("biar-tui");
    let out = Command::new("pgrep")
        .args(["-f", &format!("^{} --project", binary.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .map(|c| c.contains(&dir.display().to_string()))
                .unwrap_or(false)
        })
        .expect("the TUI's pid")
        .parse()
        .unwrap()
}

/// `r` runs the environment; SIGTERM, or the terminal closing (tmux killed: SIGHUP), while the
/// shell in it runs removes its container before the TUI is gone.
#[test]
fn sigterm_or_hangup_during_a_run_removes_the_container() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-runsig-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let img = common::testimage::make("tui signal test");
    let image = common::testimage::import(&img.rootfs);
    for hangup in [false, true] {
        let (tmp, dir, home) = project_with_home(&prefix);
        // The project's image is the test image under the project's name:tag: `r` runs it at once.
        let out = biar(&home)
            .args(["hash", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let reference = text
            .lines()
            .find_map(|l| l.strip_prefix("reference"))
            .expect("hash prints the reference")
            .trim()
            .to_string();
        assert!(Command::new("docker")
            .args(["tag", &image.reference, &reference])
            .status()
            .unwrap()
            .success());
        let exit_file = tmp.path().join("exit-code");
        let name = format!("biar-tui-runsig-{}-{hangup}", std::process::id());
        let tmux = Tmux::start(&name, 100, 30, &tui_command(&home, &dir, &exit_file));
        let short = Duration::from_secs(30);
        tmux.wait("the TUI", short, |s| s.contains("Presets"));
        tmux.key("r");
        tmux.wait("the container's shell", short, |s| {
            !s.contains("Presets") && s.lines().any(|l| l.trim_end().ends_with('#'))
        });
        // Keys typed the moment the prompt shows may still go to the TUI (the hand-over is
        // another item of issue 10): type until the shell answers.
        let start = Instant::now();
        while !tmux.screen().contains("in-42") {
            assert!(start.elapsed() < short, "no answer:\n{}", tmux.screen());
            tmux.type_text("echo in-$((6*7))");
            tmux.key("Enter");
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(common::testimage::containers_of(&reference).len(), 1);
        let pid = tui_pid(&dir);
        if hangup {
            drop(tmux);
        } else {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap();
        }
        let start = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                start.elapsed() < short,
                "hangup={hangup}: the TUI did not exit; containers: {:?}",
                common::testimage::containers_of(&reference)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            common::testimage::containers_of(&reference),
            Vec::<String>::new(),
            "hangup={hangup}: removed when the TUI was gone"
        );
    }
}

/// The closure explorer in a real terminal: `e` builds the closure (no image), the packages sorted
/// by name, `G` selects the last (vim), `d` removes it from user.nix, and the explorer rebuilds
/// and shows fewer paths and the old total beside the new.
#[test]
fn the_explorer_removes_a_package_and_shows_the_size_drop() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = offline_project(|config| {
        config["userConfig"] = serde_json::json!(["user.nix"]);
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello vim ]\n").unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-explorer-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI", short, |s| s.contains("Presets"));
    tmux.key("e");
    let paths = |s: &str| -> Option<usize> {
        let rest = &s[s.find("closure: ")? + 9..];
        rest.split(' ').next()?.parse().ok()
    };
    let first = tmux.wait("the closure", Duration::from_secs(300), |s| {
        paths(s).is_some() || s.contains("did not load")
    });
    let before = paths(&first).unwrap_or_else(|| panic!("{first}"));
    assert!(first.contains("vim-"), "{first}");
    // By name: busybox, hello, nss-cacert, shell, vim; the last row is vim.
    tmux.keys(&["s", "s", "s", "G", "d"]);
    let after = tmux.wait("the rebuilt closure", Duration::from_secs(300), |s| {
        s.contains("(was ") || s.contains("did not load")
    });
    let now = paths(&after).unwrap_or_else(|| panic!("{after}"));
    assert!(now < before, "{before} → {now}:\n{after}");
    assert!(!after.contains("vim-"), "{after}");
    assert_eq!(
        std::fs::read_to_string(dir.join("user.nix")).unwrap(),
        "{ pkgs }: with pkgs; [ hello ]\n"
    );
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}

/// Issue 12's "done means", in the TUI: a project with one preset (python), Python packages added
/// from the search in the TUI, built there against the offline test package set; then the
/// environment's one Python imports the preset's packages and the added ones.
#[test]
fn python_packages_added_from_the_search_are_importable() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-e2e-py-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir, home) = project_with_home(&prefix);
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-e2e-py-{}", std::process::id());
    let tmux = start_with_index(&name, &home, &dir, &exit_file);
    let short = Duration::from_secs(20);
    tmux.key("/");
    for package in ["pandas", "seaborn"] {
        let attr = format!("python3Packages.{package}");
        tmux.key("C-w");
        tmux.type_text(package);
        tmux.wait(&format!("{attr} first among the results"), short, |s| {
            s.lines()
                .find(|l| l.contains("Packages."))
                .is_some_and(|l| l.contains(&attr))
        });
        tmux.key("Enter");
        tmux.wait(&format!("{attr} added"), short, |s| {
            s.contains(&format!("added {attr}"))
        });
    }
    let user_nix = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    assert!(
        user_nix.contains("python3Packages.pandas") && user_nix.contains("python3Packages.seaborn"),
        "{user_nix}"
    );
    tmux.key("Tab");
    tmux.key("b");
    tmux.wait("the build done", Duration::from_secs(600), |s| {
        s.contains("✓ built") || s.contains("✗ failed")
    });
    let screen = tmux.screen();
    assert!(screen.contains("✓ built"), "{screen}");
    // Back to the main screen before `q` (an escape right before a key reads as alt-key).
    tmux.key("Escape");
    tmux.wait("the main screen", short, |s| s.contains("Presets"));
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0");

    let out = biar(&home)
        .args(["run", "--project"])
        .arg(&dir)
        .args([
            "--",
            "python3",
            "-c",
            "import numpy, requests, pandas, seaborn",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where no project is, the TUI offers one: pick a preset, enter writes it as `init` would, and
/// the main screen opens on it. Needs no Docker.
#[test]
fn the_tui_creates_a_project_where_none_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh");
    std::fs::create_dir_all(&dir).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let command = tui_command(&home, &dir, &exit_file);
    let name = format!("biar-tui-e2e-init-{}", std::process::id());
    let tmux = Tmux::start(&name, 110, 30, &command);
    let short = Duration::from_secs(20);
    tmux.wait("the new-project screen", short, |s| {
        s.contains("New project") && s.contains("python")
    });
    // Down to python (the shipped presets are listed by name) and pick it.
    let below = ["cpp", "data-science", "devops", "go", "java", "node"];
    for _ in below {
        tmux.key("Down");
    }
    tmux.key("Space");
    tmux.wait("python picked", short, |s| {
        s.contains("[x] python ") && s.contains("(1 picked)")
    });
    tmux.key("Enter");
    tmux.wait("the main screen on the new project", short, |s| {
        s.contains("created the project") && s.contains("Presets 1/1")
    });
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(config.contains("presets/python.nix"), "{config}");
    assert!(dir.join("user.nix").exists() && dir.join("workdir").is_dir());
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0");
}

/// Issue 16's generations in a real terminal: two builds made by the CLI are two generations;
/// `h` lists them newest first, space on both shows what changed (chatty added), and enter on the
/// older runs its image here, which has no chatty in its store.
#[test]
fn generations_are_listed_compared_and_an_earlier_one_runs() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-tui-gens-{}-", std::process::id());
    let _cleanup = RemoveImages(prefix.clone());
    let (tmp, dir, home) = project_with_home(&prefix);
    for packages in ["hello", "hello chatty"] {
        std::fs::write(
            dir.join("user.nix"),
            format!("{{ pkgs }}: with pkgs; [ {packages} ]\n"),
        )
        .unwrap();
        // The TUI's state folder (tui_command's), where the CLI records the generations.
        biar(&home)
            .env("XDG_STATE_HOME", home.join("cache").join("state"))
            .args(["build", "--project"])
            .arg(&dir)
            .assert()
            .success();
    }
    let exit_file = tmp.path().join("exit-code");
    let name = format!("biar-tui-gens-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &tui_command(&home, &dir, &exit_file));
    let short = Duration::from_secs(20);
    tmux.wait("the TUI", short, |s| s.contains("Presets"));
    tmux.key("h");
    let list = tmux.wait("the generations", short, |s| {
        s.contains("generations: 2") || s.contains("could not be read")
    });
    let rows: Vec<&str> = list
        .lines()
        .filter(|l| l.contains(&prefix) && (l.contains(" load ") || l.contains(" push ")))
        .collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].contains("  2  ") && rows[0].contains("(current)"),
        "{list}"
    );
    tmux.keys(&["Space", "Down", "Space"]);
    tmux.wait("the diff of 1 and 2", Duration::from_secs(60), |s| {
        s.contains("+ chatty-1.0") || s.contains("could not compare")
    });
    // Enter on generation 1: its image, attached here.
    tmux.key("Enter");
    tmux.wait("generation 1's shell", Duration::from_secs(120), |s| {
        !s.contains("generations:")
            && s.lines()
                .any(|l| l.trim_end().ends_with('$') || l.trim_end().ends_with('#'))
    });
    tmux.type_text("echo chatty=$(ls /nix/store | grep -c chatty)");
    tmux.key("Enter");
    tmux.wait("no chatty in generation 1", short, |s| {
        s.contains("chatty=0")
    });
    tmux.type_text("exit");
    tmux.key("Enter");
    tmux.wait("the list back after exit", short, |s| {
        s.contains("generations: 2") && s.contains("exited with code 0")
    });
    // Esc alone (Esc then q in one burst reads as alt-q).
    tmux.key("Escape");
    tmux.wait("the main screen", short, |s| s.contains("Presets"));
    tmux.key("q");
    assert_eq!(wait_for_exit(&exit_file), "0", "the TUI exited cleanly");
}
