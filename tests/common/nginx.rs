//! Debian's nginx as a binary cache on a free loopback port: its own config file and prefix
//! folder, the document root writable with WebDAV PUT (Nix's `nix copy --to http://…` uploads
//! with PUT), or refusing every upload with 403.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::in_ci;

const BINARY: &str = "/usr/sbin/nginx";

pub struct Nginx {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// Whether nginx is installed; panics under CI when it is not.
pub fn available() -> bool {
    let ok = Path::new(BINARY).exists();
    if !ok {
        if in_ci() {
            panic!("CI=true and nginx is missing: install Debian's nginx-light package");
        }
        eprintln!("skipped: nginx is not installed (set CI=true to make this a failure)");
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

impl Nginx {
    /// A cache accepting uploads; `None` when nginx is missing (outside CI).
    pub fn start() -> Option<Nginx> {
        Self::start_with(true)
    }

    /// A cache that serves what it has and answers 403 to every upload.
    pub fn start_refusing_uploads() -> Option<Nginx> {
        Self::start_with(false)
    }

    fn start_with(uploads: bool) -> Option<Nginx> {
        if !available() {
            return None;
        }
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(uploads) {
                Ok(n) => return Some(n),
                Err(e) => last = e,
            }
        }
        panic!("could not start nginx: {last}");
    }

    fn try_start(uploads: bool) -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("biar-nginx-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        if !uploads {
            // A read-only cache still says what it is (Nix would otherwise try to create this).
            std::fs::write(root.join("nix-cache-info"), "StoreDir: /nix/store\n").unwrap();
        }
        let p = dir.path().display();
        let location = if uploads {
            "dav_methods PUT; create_full_put_path on; dav_access user:rw group:r all:r;"
        } else {
            "limit_except GET HEAD { deny all; }"
        };
        // `user root`: started as root, the workers would otherwise run as nobody, who cannot
        // write the temp folder's root.
        let config = format!(
            "daemon off;\nuser root;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{}}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n\
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n\
             uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  client_max_body_size 0;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {};\n\
             location / {{ {location} }}\n  }}\n}}\n",
            root.display()
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(BINARY)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut nginx = Nginx {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if let Some(status) = nginx.child.as_mut().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(nginx.dir.path().join("stderr.log"))
                    .unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}"));
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The document root: the cache's files.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The `.narinfo` files the cache holds (one per store path).
    pub fn narinfos(&self) -> Vec<String> {
        narinfos(&self.root())
    }

    /// Stops the server (its port then refuses connections): SIGTERM to the master, which
    /// stops its workers (a SIGKILL would leave them serving the port).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
            // The workers are gone once nothing accepts on the port.
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The `.narinfo` files in a cache folder.
pub fn narinfos(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".narinfo"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
