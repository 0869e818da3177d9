//! A real terminal for the tests: a tmux server of the test's own (`-L name`) running one
//! command, its screen, its keys and its format variables (pane title, bell, buffers…).

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session running one command; killed on drop, even when the test fails.
pub struct Tmux {
    name: String,
}

impl Tmux {
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
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

    pub fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.name]);
        cmd
    }

    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Literal text (no key names).
    pub fn type_text(&self, text: &str) {
        self.tmux()
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .unwrap();
    }

    pub fn key(&self, key: &str) {
        self.tmux()
            .args(["send-keys", "-t", &self.name, key])
            .status()
            .unwrap();
    }

    /// Several keys (tmux key names) in one write, as a fast typist's burst arrives.
    pub fn keys(&self, keys: &[&str]) {
        self.tmux()
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
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

impl Tmux {
    /// A tmux format variable of the pane (`alternate_on`, `pane_pid`…).
    pub fn var(&self, name: &str) -> String {
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

    /// Every line of the pane, its scrollback included.
    pub fn history(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-S", "-", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The paste buffers (`tmux list-buffers`): what OSC 52 would have written.
    pub fn buffers(&self) -> String {
        let out = self.tmux().args(["list-buffers"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
