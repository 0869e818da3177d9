//! The TUI in a real terminal (tmux), against the real Docker Engine, the offline builder and the
//! test package set: search `hello`, add it, `r` to build and run attached, type `hello` in the
//! container's shell, `exit`, and find the TUI back with `hello` in the configuration.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{docker_available, offline_project};

/// A tmux session running one command; killed on drop, even when the test fails.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let status = Command::new("tmux")
            .args(["-L", name, "new-session", "-d", "-s", name])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .expect("tmux is installed");
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            name: name.to_string(),
        }
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.name]);
        cmd
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Literal text (no key names).
    fn type_text(&self, text: &str) {
        self.tmux()
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .unwrap();
    }

    fn key(&self, key: &str) {
        self.tmux()
            .args(["send-keys", "-t", &self.name, key])
            .status()
            .unwrap();
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `timeout`.
    fn wait(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().args(["kill-server"]).status();
    }
}

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
    let (tmp, dir) = project(&prefix);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let binary = assert_cmd::cargo::cargo_bin("biar-tui");
    let exit_file = tmp.path().join("exit-code");
    let command = format!(
        "env XDG_CACHE_HOME={cache} XDG_CONFIG_HOME={config} TERM=xterm-256color {bin} --project {dir}; echo $? > {exit}; sleep 60",
        cache = shell_quote(&home.join("cache")),
        config = shell_quote(&home.join("config")),
        bin = shell_quote(&binary),
        dir = shell_quote(&dir),
        exit = shell_quote(&exit_file),
    );
    let name = format!("biar-tui-e2e-{}", std::process::id());
    let tmux = Tmux::start(&name, 120, 32, &command);
    let short = Duration::from_secs(20);

    tmux.wait("the TUI with the index loaded", short, |s| {
        s.contains("Search 1") && s.contains("python")
    });
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
    assert!(back.contains("built: local"), "{back}");

    tmux.key("q");
    let start = Instant::now();
    while !exit_file.exists() && start.elapsed() < short {
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&exit_file).unwrap_or_default();
    assert_eq!(code.trim(), "0", "the TUI exited cleanly");
}

impl Tmux {
    /// A tmux format variable of the pane (`alternate_on`, `pane_pid`…).
    fn var(&self, name: &str) -> String {
        let out = self
            .tmux()
            .args([
                "display-message",
                "-p",
                "-t",
                &self.name,
                &format!("#{{{name}}}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// SIGTERM: the UI quits and the terminal is itself again (main screen, cursor shown, cooked
/// mode, so the shell after it echoes what is typed). Needs no Docker.
#[test]
fn sigterm_restores_the_terminal() {
    let (tmp, dir) = project("biar-tui-e2e-unused-");
    let home = tmp.path().join("home");
    let binary = assert_cmd::cargo::cargo_bin("biar-tui");
    let exit_file = tmp.path().join("exit-code");
    let command = format!(
        "env XDG_CACHE_HOME={cache} XDG_CONFIG_HOME={config} {bin} --project {dir}; echo $? > {exit}; exec cat",
        cache = shell_quote(&home.join("cache")),
        config = shell_quote(&home.join("config")),
        bin = shell_quote(&binary),
        dir = shell_quote(&dir),
        exit = shell_quote(&exit_file),
    );
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
        "0",
        "a clean exit on SIGTERM"
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
