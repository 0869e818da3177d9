//! A real `docker-credential-pass` (Debian's golang-docker-credential-helpers) with a throwaway
//! gpg key and password store in temp folders, filled the way `docker login` fills it (`store`).
//! Under `CI=true` a missing helper, `pass` or `gpg` is a failure, never a skip.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::in_ci;

pub const HELPER: &str = "docker-credential-pass";

/// A password store for `docker-credential-pass`; the gpg agent it started is stopped on drop.
pub struct PassStore {
    pub dir: tempfile::TempDir,
}

/// False (and says so) when the tools are missing outside CI; panics under CI.
pub fn available() -> bool {
    let missing: Vec<&str> = [HELPER, "pass", "gpg"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    if in_ci() {
        panic!("CI=true and {missing:?} are missing: install golang-docker-credential-helpers, pass and gnupg");
    }
    eprintln!("skipped: {missing:?} not installed (set CI=true to make this a failure)");
    false
}

impl PassStore {
    /// A new store with its own gpg key; None when the tools are missing (outside CI).
    pub fn new() -> Option<PassStore> {
        if !available() {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("biar-pass-")
            .tempdir()
            .unwrap();
        let store = PassStore { dir };
        std::fs::create_dir_all(store.gnupghome()).unwrap();
        std::fs::set_permissions(
            store.gnupghome(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        store.run(
            Command::new("gpg").args([
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "biar-test-key",
                "default",
                "default",
                "never",
            ]),
            None,
        );
        store.run(Command::new("pass").args(["init", "biar-test-key"]), None);
        Some(store)
    }

    pub fn gnupghome(&self) -> PathBuf {
        self.dir.path().join("gnupg")
    }

    pub fn password_store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The environment the helper needs to find this store.
    pub fn env(&self) -> [(&'static str, PathBuf); 2] {
        [
            ("GNUPGHOME", self.gnupghome()),
            ("PASSWORD_STORE_DIR", self.password_store()),
        ]
    }

    /// Stores credentials for `server` as `docker login` does (`docker-credential-pass store`).
    pub fn store(&self, server: &str, user: &str, secret: &str) {
        let json = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
        self.run(Command::new(HELPER).arg("store"), Some(json.to_string()));
    }

    fn run(&self, cmd: &mut Command, input: Option<String>) {
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.gnupghome())
            .status();
    }
}

/// Writes `docker-credential-<name>` into `dir`, a shell script standing for a broken helper.
pub fn write_helper_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// `PATH` with `dir` first.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}
