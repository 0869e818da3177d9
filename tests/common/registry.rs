//! A real `docker-registry` (Debian's package, distribution 2.8) on a free loopback port, with its
//! own config and storage in a temp dir; killed and removed on drop. Under `CI=true` a missing
//! binary is a failure, never a skip.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::in_ci;

pub const BINARY: &str = "docker-registry";

/// A running registry. `host()` is `127.0.0.1:PORT`.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The storage is a tmpfs of limited size (see [`Options::storage_bytes`]).
    tmpfs: bool,
}

/// Options of a test registry.
#[derive(Default, Clone)]
pub struct Options {
    /// `(user, password)` pairs: turns on htpasswd (basic) auth.
    pub users: Vec<(String, String)>,
    /// Storage on a tmpfs of this many bytes, to fill the registry's disk for real (needs root,
    /// as the tests run here and in CI).
    pub storage_bytes: Option<u64>,
}

/// Returns None (and says so) when the binary is missing outside CI; panics under CI.
pub fn available() -> bool {
    let ok = Command::new(BINARY)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if in_ci() {
            panic!("CI=true and `{BINARY}` is missing: install Debian's docker-registry package");
        }
        eprintln!("skipped: `{BINARY}` is not installed (set CI=true to make this a failure)");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts a registry with no auth; None when the binary is missing (outside CI).
    pub fn start() -> Option<Registry> {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Option<Registry> {
        if !available() {
            return None;
        }
        // The port is free when we look; another process may take it before the registry binds,
        // so try a few times.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(&options) {
                Ok(r) => return Some(r),
                Err(e) => last = e,
            }
        }
        panic!("could not start {BINARY}: {last}");
    }

    fn try_start(options: &Options) -> Result<Registry, String> {
        let dir = tempfile::Builder::new()
            .prefix("biar-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        if let Some(bytes) = options.storage_bytes {
            mount_tmpfs(&storage, bytes);
        }
        let mut auth = String::new();
        if !options.users.is_empty() {
            let htpasswd = dir.path().join("htpasswd");
            let mut f = std::fs::File::create(&htpasswd).unwrap();
            for (user, password) in &options.users {
                // Cost 4: the lowest bcrypt allows; the registry checks it on every request.
                let hash = bcrypt::hash(password, 4).unwrap();
                writeln!(f, "{user}:{hash}").unwrap();
            }
            auth = format!(
                "auth:\n  htpasswd:\n    realm: biar-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: biar-test-secret\n{auth}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        // Append mode, so `clear_log` can truncate under the running registry.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("registry.log"))
            .unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut registry = Registry {
            child,
            port,
            dir,
            tmpfs: options.storage_bytes.is_some(),
        };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{BINARY} exited ({status}): {}", self.log()));
            }
            if let Some(code) = http_status(self.port, "/v2/") {
                // 200 without auth, 401 with it: either way it answers.
                if code == 200 || code == 401 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("{BINARY} did not answer /v2/: {}", self.log()))
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The registry's own log (access log lines included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The requests the registry served, as `METHOD PATH STATUS`, from its access log.
    pub fn requests(&self) -> Vec<String> {
        // The registry logs a request after answering it: wait until the log stops growing.
        let mut log = self.log();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(50));
            let again = self.log();
            if again == log {
                break;
            }
            log = again;
        }
        parse_access_log(&log)
    }

    /// Forgets the requests so far (truncates the log).
    pub fn clear_log(&self) {
        let _ = std::fs::write(self.dir.path().join("registry.log"), b"");
    }
}

/// Access log lines look like `127.0.0.1 - - [date] "HEAD /v2/x/blobs/sha256:… HTTP/1.1" 200 0 "" "ua"`.
pub fn parse_access_log(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(start) = line.find("] \"") else {
            continue;
        };
        let rest = &line[start + 3..];
        let Some(end) = rest.find('"') else { continue };
        let request = &rest[..end];
        let mut parts = request.split(' ');
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            continue;
        };
        let status = rest[end + 1..].split_whitespace().next().unwrap_or("");
        out.push(format!("{method} {path} {status}"));
    }
    out
}

/// GET http://127.0.0.1:port{path} with a bare TCP request; the status code if it answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

impl Registry {
    /// Freezes the registry process (SIGSTOP): the kernel still accepts connections for it, but
    /// nothing answers, as with a hung server. Dropping the registry kills it all the same.
    pub fn freeze(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// Lets a frozen registry run again (SIGCONT).
    pub fn thaw(&self) {
        signal(self.child.id(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.tmpfs {
            let _ = Command::new("umount").arg(self.storage()).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, bytes: u64) {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
        .arg(dir)
        .output()
        .expect("mount");
    assert!(
        out.status.success(),
        "mounting a tmpfs for the registry's storage needs root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Registry {
    /// Resizes the storage tmpfs (to free space after filling it).
    pub fn resize_storage(&self, bytes: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(self.storage())
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Writes `~/.docker/config.json` under `home` with basic credentials for `host`.
pub fn write_docker_config(home: &Path, host: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let dir = home.join(".docker");
    std::fs::create_dir_all(&dir).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let json = serde_json::json!({ "auths": { host: { "auth": auth } } });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&json).unwrap(),
    )
    .unwrap();
}

/// `skopeo inspect` of `reference` (`HOST/REPO:TAG`, plain HTTP allowed): the image's JSON, or
/// skopeo's error output when it cannot read it (not there, registry down).
pub fn skopeo_inspect(reference: &str) -> Result<serde_json::Value, String> {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("skopeo installed");
    if !out.status.success() {
        return Err(format!(
            "skopeo inspect {reference} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(serde_json::from_slice(&out.stdout).expect("skopeo prints JSON"))
}
