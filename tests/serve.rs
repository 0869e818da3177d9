//! `biar-tui serve` end to end: the real binary serving the test package set, pulled by the real
//! Docker Engine and skopeo, copied into and backed by Debian's docker-registry.
//!
//! One server per test process (nextest runs each test in its own process), started on first
//! use on a free port, killed when the process ends (parent-death signal); the images pulled
//! from it are removed by each test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::images::ImagesNamed;
use common::registry::Registry;
use common::{docker_available, repo};

/// A running server: its address and every line it printed so far.
struct Server {
    host: String,
    lines: Arc<Mutex<Vec<String>>>,
    _dir: PathBuf,
}

impl Server {
    /// How many builds of `name:tag` started.
    fn builds_of(&self, display: &str) -> usize {
        let wanted = format!("[{display}] build started");
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| **l == wanted)
            .count()
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Removes what this server's images left in Docker, on drop.
    fn images(&self) -> ImagesNamed {
        ImagesNamed(format!("{}/", self.host))
    }
}

/// The user settings every server gets: the repository's test package set is trusted (a path
/// pin is uploaded into the builder, see docs/security.md).
fn home() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("biar-serve-test-")
        .tempdir()
        .unwrap()
        .keep();
    std::fs::create_dir_all(dir.join("config/biar")).unwrap();
    std::fs::write(
        dir.join("config/biar/config.toml"),
        format!(
            "trusted-paths = [{:?}]\n",
            repo().join("tests/fixtures/pkgs").display().to_string()
        ),
    )
    .unwrap();
    dir
}

/// Starts `biar-tui serve` with `extra` flags; returns when it listens.
fn start(extra: &[&str]) -> Server {
    let dir = home();
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    let storage = dir.join("storage");
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let home = dir.clone();
    // The child dies with the thread that spawned it (PR_SET_PDEATHSIG): this thread lives as
    // long as the process.
    std::thread::spawn(move || {
        let mut cmd = common::biar_std(&home);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--offline", "--nixpkgs"])
            .arg(repo().join("tests/fixtures/pkgs"))
            .arg("--storage")
            .arg(&storage)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("biar-tui serve starts");
        let mut stderr = child.stderr.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            if !text.is_empty() {
                eprintln!("serve stderr: {text}");
            }
        });
        let mut sent = false;
        for line in out.lines() {
            let Ok(line) = line else { break };
            eprintln!("serve: {line}");
            if !sent {
                if let Some(rest) = line.split("http://").nth(1) {
                    let host = rest.split('/').next().unwrap().to_string();
                    tx.send(host).unwrap();
                    sent = true;
                }
            }
            kept.lock().unwrap().push(line);
        }
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    let host = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");
    Server {
        host,
        lines,
        _dir: dir,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// The server of this test process (tag `latest` = the test package set).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = start(&[]);
        // A static is never dropped: its folder goes when the process exits.
        STATIC_DIR.set(server._dir.clone()).unwrap();
        extern "C" fn remove_static_dir() {
            if let Some(dir) = STATIC_DIR.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        unsafe { libc::atexit(remove_static_dir) };
        server
    })
}

static STATIC_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A plain HTTP/1.1 request (`Connection: close`): status, headers (lower-case names), body.
fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[&str],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(host).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every folder under `storage/projects/` is a recorded image's or a tag's `names-` project.
fn assert_projects_are_of_built_images(server: &Server) {
    let storage = server._dir.join("storage");
    for entry in std::fs::read_dir(storage.join("projects")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            name.starts_with("names-") || storage.join(format!("images/{name}.json")).exists(),
            "a failed build's project was left: {name}\n{}",
            server.output()
        );
    }
}

fn skopeo_available() -> bool {
    let ok = Command::new("skopeo").arg("--version").output().is_ok();
    if !ok {
        if common::in_ci() {
            panic!("CI=true and skopeo is missing");
        }
        eprintln!("skipped: skopeo is not installed");
    }
    ok
}

#[test]
fn docker_pulls_runs_and_pulls_again_from_storage() {
    if !docker_available() {
        return;
    }
    let server = server();
    let _cleanup = server.images();
    let image = format!("{}/shell/hello", server.host);
    let out = docker(&["pull", &image]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    let out = docker(&["run", "--rm", &image, "hello"]);
    assert!(text(&out).contains("Hello, world!"), "{}", text(&out));
    assert_eq!(server.builds_of("shell/hello:latest"), 1);

    // The same packages in another order, after the image left Docker: served from storage.
    let out = docker(&["rmi", &image]);
    assert!(out.status.success(), "{}", text(&out));
    let again = format!("{}/hello/shell:latest", server.host);
    let out = docker(&["pull", &again]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    let out = docker(&["run", "--rm", &again, "hello"]);
    assert!(text(&out).contains("Hello, world!"), "{}", text(&out));
    assert_eq!(
        server.builds_of("shell/hello:latest"),
        1,
        "{}",
        server.output()
    );
    let page = http(&server.host, "GET", "/", &[]);
    let page = String::from_utf8_lossy(&page.2).to_string();
    assert!(
        page.contains("shell/hello:latest") && page.contains("done"),
        "{page}"
    );
}

#[test]
fn two_concurrent_pulls_of_a_new_name_build_once() {
    if !docker_available() {
        return;
    }
    let server = server();
    let _cleanup = server.images();
    let image = format!("{}/jq/shell/git", server.host);
    let pulls: Vec<_> = (0..2)
        .map(|_| {
            let image = image.clone();
            std::thread::spawn(move || docker(&["pull", &image]))
        })
        .collect();
    for p in pulls {
        let out = p.join().unwrap();
        assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    }
    assert_eq!(
        server.builds_of("shell/git/jq:latest"),
        1,
        "{}",
        server.output()
    );
    let out = docker(&["run", "--rm", &image, "jq"]);
    assert!(text(&out).contains("jq 1.7.1"), "{}", text(&out));
}

#[test]
fn unknown_packages_and_failed_builds_are_errors_a_user_can_act_on() {
    if !docker_available() {
        return;
    }
    let server = server();
    let _cleanup = server.images();
    let out = docker(&["pull", &format!("{}/shell/hellp/zzzq", server.host)]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("hellp (did you mean hello"), "{said}");
    assert!(said.contains("zzzq"), "{said}");

    let out = docker(&["pull", &format!("{}/shell/failing", server.host)]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("building failing-1.0 failed"), "{said}");
    assert!(said.contains("expected ';' before '}' token"), "{said}");
    // Failures leave no project folder behind (only built images' and the tags' names-).
    assert_projects_are_of_built_images(server);

    // A tag with no package set, and names that are not attribute paths.
    let (status, _, body) = http(&server.host, "GET", "/v2/shell/hello/manifests/nope", &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("MANIFEST_UNKNOWN"));
    for bad in [
        "/v2/shell/a;b/manifests/latest",
        "/v2/x/${y}/manifests/latest",
        "/v2/rec/manifests/latest",
    ] {
        let (status, _, body) = http(&server.host, "GET", bad, &[]);
        assert_eq!(status, 400, "{bad}");
        assert!(
            String::from_utf8_lossy(&body).contains("NAME_INVALID"),
            "{bad}"
        );
    }
    let many = vec!["hello"; 40].join("/");
    let (status, _, _) = http(
        &server.host,
        "GET",
        &format!("/v2/{many}/manifests/latest"),
        &[],
    );
    assert_eq!(status, 400);
    // Garbage is not a request; the server still answers afterwards.
    let mut s = TcpStream::connect(&server.host).unwrap();
    let _ = s.write_all(b"\x00\x01GARBAGE \xff\r\n\r\n");
    let _ = s.read_to_end(&mut Vec::new());
    let (status, headers, _) = http(&server.host, "GET", "/v2/", &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "docker-distribution-api-version"),
        Some("registry/2.0")
    );
}

#[test]
fn docker_pulls_a_capitalised_attribute_by_its_lower_case_name() {
    if !docker_available() {
        return;
    }
    let server = server();
    let _cleanup = server.images();
    // `docker pull` refuses capitals; the server finds the attribute ignoring case.
    let image = format!("{}/shell/python312packages.numpy", server.host);
    let out = docker(&["pull", &image]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    assert_eq!(
        server.builds_of("shell/python312Packages.numpy:latest"),
        1,
        "{}",
        server.output()
    );
    // The capitalised name is the same image, from storage.
    let digest = |path: &str| {
        let (status, headers, _) = http(
            &server.host,
            "HEAD",
            path,
            &["Accept: application/vnd.oci.image.manifest.v1+json"],
        );
        assert_eq!(status, 200, "{path}");
        header(&headers, "docker-content-digest")
            .unwrap()
            .to_string()
    };
    assert_eq!(
        digest("/v2/python312packages.numpy/manifests/latest"),
        digest("/v2/python312Packages.numpy/shell/manifests/latest")
    );
    assert_eq!(
        server.builds_of("shell/python312Packages.numpy:latest"),
        1,
        "{}",
        server.output()
    );
    // Two attributes differing only by case: the client is told both.
    let out = docker(&["pull", &format!("{}/casetwins.ab", server.host)]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("casetwins.ab (it could be caseTwins.AB, caseTwins.Ab)"),
        "{said}"
    );
}

#[test]
fn manifests_and_blobs_have_the_registry_headers_and_ranges() {
    if !docker_available() {
        return;
    }
    let server = server();
    let (status, headers, body) =
        http(&server.host, "GET", "/v2/shell/hello/manifests/latest", &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    let digest = header(&headers, "docker-content-digest")
        .unwrap()
        .to_string();
    assert_eq!(digest, biar::registry::sha256_digest(&body));
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let (status, headers, head_body) = http(
        &server.host,
        "HEAD",
        &format!("/v2/x/manifests/{digest}"),
        &[],
    );
    assert_eq!(status, 200);
    assert!(head_body.is_empty());
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );

    let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let layer = &manifest["layers"][0];
    let (ld, size) = (
        layer["digest"].as_str().unwrap(),
        layer["size"].as_u64().unwrap(),
    );
    let (status, headers, whole) = http(
        &server.host,
        "GET",
        &format!("/v2/shell/hello/blobs/{ld}"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(whole.len() as u64, size);
    assert_eq!(biar::registry::sha256_digest(&whole), ld);
    assert_eq!(header(&headers, "docker-content-digest"), Some(ld));
    let (status, headers, part) = http(
        &server.host,
        "GET",
        &format!("/v2/shell/hello/blobs/{ld}"),
        &["Range: bytes=10-19"],
    );
    assert_eq!(status, 206);
    assert_eq!(part, whole[10..20]);
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes 10-19/{size}").as_str())
    );
    let (status, _, _) = http(
        &server.host,
        "GET",
        &format!("/v2/shell/hello/blobs/{ld}"),
        &[&format!("Range: bytes={size}-")],
    );
    assert_eq!(status, 416);
    let (status, _, body) = http(
        &server.host,
        "GET",
        &format!("/v2/x/blobs/sha256:{}", "0".repeat(64)),
        &[],
    );
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("BLOB_UNKNOWN"));
}

#[test]
fn skopeo_inspects_and_copies_to_a_registry() {
    if !docker_available() || !skopeo_available() {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let server = server();
    let source = format!("docker://{}/shell/ripgrep", server.host);
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &source])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        inspected["Layers"].as_array().unwrap().len() > 1,
        "{inspected}"
    );
    let dest = format!("docker://{}/copied/ripgrep:1", registry.host());
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &source,
            &dest,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &dest])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let copied: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // skopeo compresses uncompressed layers on the way: the same image, other blobs.
    assert_eq!(
        copied["Layers"].as_array().unwrap().len(),
        inspected["Layers"].as_array().unwrap().len()
    );
    assert_eq!(copied["Labels"], inspected["Labels"]);
    assert_eq!(server.builds_of("shell/ripgrep:latest"), 1);
}

#[test]
fn a_backing_registry_serves_the_blobs_through_a_redirect() {
    if !docker_available() {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let backing = format!("{}/serve-test", registry.host());
    let server = start(&["--registry", &backing]);
    let _cleanup = server.images();
    let image = format!("{}/shell/hello", server.host);
    let out = docker(&["pull", &image]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    let out = docker(&["run", "--rm", &image, "hello"]);
    assert!(text(&out).contains("Hello, world!"), "{}", text(&out));
    let (_, headers, body) = http(&server.host, "GET", "/v2/shell/hello/manifests/latest", &[]);
    let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ld = manifest["layers"][0]["digest"].as_str().unwrap();
    // The same image as a server with a storage folder makes (layers written while measured
    // there, measured then pushed here).
    let (_, local, _) = http(
        &self::server().host,
        "GET",
        "/v2/hello/manifests/latest",
        &[],
    );
    assert_eq!(
        header(&headers, "docker-content-digest"),
        header(&local, "docker-content-digest")
    );
    let (status, headers, _) = http(
        &server.host,
        "GET",
        &format!("/v2/shell/hello/blobs/{ld}"),
        &[],
    );
    assert_eq!(status, 307);
    let location = header(&headers, "location").unwrap();
    assert!(
        location.starts_with(&format!("http://{}/v2/serve-test/", registry.host()))
            && location.ends_with(ld),
        "{location}"
    );
    // The blobs are read from the registry (the engine may have had these layers already: a
    // copy into a folder reads every one).
    if skopeo_available() {
        let into = tempfile::tempdir().unwrap();
        let out = Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{image}"),
            ])
            .arg(format!("dir:{}", into.path().display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let requests = registry.requests().join("\n");
    assert!(
        requests.lines().any(
            |r| r.starts_with("GET /v2/serve-test/") && r.contains(&format!("/blobs/{ld} 200"))
        ),
        "{requests}"
    );

    // Another server on the same backing registry builds nothing.
    let other = start(&["--registry", &backing]);
    let _cleanup2 = other.images();
    let out = docker(&["pull", &format!("{}/shell/hello", other.host)]);
    assert!(out.status.success(), "{}\n{}", text(&out), other.output());
    let said = other.output();
    assert!(said.contains("found in the backing registry"), "{said}");
    assert!(!said.contains("[shell/hello:latest] evaluate"), "{said}");
}

#[test]
fn bad_flags_exit_2() {
    let dir = home();
    for args in [
        &["serve", "--max-builds", "0"][..],
        &["serve", "--build-timeout", "5 minutes"],
        &["serve", "--listen", "nowhere"],
        &["serve", "--nixpkgs", "/definitely/not/here"],
        &["serve", "--nixpkgs", "https://example.invalid/x.tar.gz"],
        &["serve", "--pin", "latest=/tmp"],
        &["serve", "--pin", "no-equals"],
        &["serve", "--base", "/definitely/not/here.nix"],
    ] {
        let out = common::biar_std(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    // A package set outside the user's trusted paths is refused like a project's pin.
    let untrusted = tempfile::tempdir().unwrap();
    std::fs::write(untrusted.path().join("default.nix"), "{ ... }: { }").unwrap();
    let out = common::biar_std(&dir)
        .args(["serve", "--nixpkgs"])
        .arg(untrusted.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("trusted-paths"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_builds_log_reaches_the_client_without_control_sequences() {
    if !docker_available() {
        return;
    }
    let server = server();
    let (status, _, body) = http(
        &server.host,
        "GET",
        "/v2/shell/hostile.log/manifests/latest",
        &[],
    );
    assert_eq!(status, 404);
    let body = String::from_utf8(body).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = parsed["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("hostile-log-1.0"), "{message}");
    assert!(message.contains("hostile: start"), "{message}");
    assert!(
        !message
            .chars()
            .any(|c| (c.is_control() && c != '\n') || ('\u{80}'..='\u{9f}').contains(&c)),
        "{message:?}"
    );
    let said = server.output();
    assert!(
        !said.contains('\u{1b}') && !said.contains('\u{7}'),
        "{said:?}"
    );
}

#[test]
fn a_request_that_outwaits_wait_is_told_to_retry_while_the_build_goes_on() {
    if !docker_available() {
        return;
    }
    let server = start(&["--wait", "0s"]);
    let path = "/v2/shell/cargo/manifests/latest";
    let (status, headers, body) = http(&server.host, "GET", path, &[]);
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "retry-after"), Some("30"));
    let body = String::from_utf8_lossy(&body).to_string();
    assert!(
        body.contains("TOOMANYREQUESTS") && body.contains("still being built"),
        "{body}"
    );
    // The build went on: once done, the same request gets the manifest, built once.
    let mut answered = 0;
    for _ in 0..600 {
        let (status, _, _) = http(&server.host, "GET", path, &[]);
        if status == 200 {
            answered = status;
            break;
        }
        assert_eq!(status, 429);
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(answered, 200, "{}", server.output());
    assert_eq!(
        server.builds_of("shell/cargo:latest"),
        1,
        "{}",
        server.output()
    );
}

#[test]
fn a_custom_base_and_a_shipped_preset_are_in_the_image() {
    if !docker_available() {
        return;
    }
    // The test set has stand-ins for what the shipped `shell` preset names.
    let base = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        base.path(),
        "# A class's base: the shipped one and cowsay.\n{ pkgs }:\nwith pkgs; [\n  bashInteractive\n  coreutils\n  cacert\n  cowsay\n]\n",
    )
    .unwrap();
    let server = start(&["--base", base.path().to_str().unwrap()]);
    let _cleanup = server.images();
    let image = format!("{}/preset-shell/hello", server.host);
    let out = docker(&["pull", &image]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.output());
    for (command, says) in [
        ("cowsay", "cowsay 1.0 (test package set)"),
        ("jq", "jq 1.7.1"),
        ("tmux", "tmux 1.0 (test package set)"),
        ("hello", "Hello, world!"),
    ] {
        let out = docker(&["run", "--rm", &image, command]);
        assert!(text(&out).contains(says), "{command}: {}", text(&out));
    }
}

#[test]
fn a_build_over_build_timeout_is_stopped_and_the_server_goes_on() {
    if !docker_available() {
        return;
    }
    let server = start(&["--build-timeout", "5s"]);
    let _cleanup = server.images();
    // Lower case, as `docker pull` needs: `slowBuilds.tenMinutes`.
    let out = docker(&["pull", &format!("{}/slowbuilds.tenminutes", server.host)]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("took longer than the server's --build-timeout (5s) and was stopped"),
        "{said}\n{}",
        server.output()
    );
    assert_projects_are_of_built_images(&server);
    // The server still answers, and lists the stopped build as failed.
    let (status, _, _) = http(&server.host, "GET", "/v2/", &[]);
    assert_eq!(status, 200);
    let (status, _, body) = http(&server.host, "GET", "/v2/shell/tags/list", &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("latest"));
    let page = http(&server.host, "GET", "/", &[]);
    let page = String::from_utf8_lossy(&page.2).to_string();
    assert!(
        page.contains("shell/slowBuilds.tenMinutes:latest"),
        "{page}"
    );
}
