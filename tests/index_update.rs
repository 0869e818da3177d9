//! `biar-tui index update` from a channel's `packages.json.br` served by a real HTTP server on
//! loopback: first download, 304 on the second run (ETag), an HTTP error and a truncated body
//! (the previous index is kept and the user told), then a changed file; `search` uses the result.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::biar;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Serve,
    Error,
    Truncate,
}

#[derive(Default)]
struct Log {
    requests: Vec<String>,
    body_bytes: usize,
}

struct Server {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    body: Arc<Mutex<(Vec<u8>, String)>>, // (brotli body, etag)
    log: Arc<Mutex<Log>>,
    _rt: tokio::runtime::Runtime,
}

/// A minimal HTTP/1.1 server: one response per connection, ETag/If-None-Match, error and
/// truncation modes.
fn serve() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = Arc::new(Mutex::new(Mode::Serve));
    let body = Arc::new(Mutex::new((Vec::new(), String::new())));
    let log = Arc::new(Mutex::new(Log::default()));
    let (m, b, l) = (mode.clone(), body.clone(), log.clone());
    rt.spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (m, b, l) = (m.clone(), b.clone(), l.clone());
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&req).to_string();
                let mode = *m.lock().unwrap();
                let (body, etag) = b.lock().unwrap().clone();
                let if_none_match = req
                    .lines()
                    .find_map(|line| {
                        let (k, v) = line.split_once(':')?;
                        k.eq_ignore_ascii_case("if-none-match")
                            .then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                l.lock().unwrap().requests.push(req.clone());
                let head = |status: &str, len: usize| {
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nETag: {etag}\r\n\
                         Last-Modified: Mon, 03 Feb 2025 10:00:00 GMT\r\n\
                         Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                    )
                };
                let _ = match mode {
                    Mode::Error => {
                        let msg = b"channel is being updated";
                        let mut out = head("503 Service Unavailable", msg.len()).into_bytes();
                        out.extend_from_slice(msg);
                        sock.write_all(&out).await
                    }
                    _ if if_none_match == etag => {
                        sock.write_all(head("304 Not Modified", 0).as_bytes()).await
                    }
                    Mode::Serve => {
                        let mut out = head("200 OK", body.len()).into_bytes();
                        out.extend_from_slice(&body);
                        l.lock().unwrap().body_bytes += body.len();
                        sock.write_all(&out).await
                    }
                    Mode::Truncate => {
                        // Promise the whole file, send half, hang up.
                        let mut out = head("200 OK", body.len()).into_bytes();
                        out.extend_from_slice(&body[..body.len() / 2]);
                        l.lock().unwrap().body_bytes += body.len() / 2;
                        sock.write_all(&out).await
                    }
                };
                let _ = sock.shutdown().await;
            });
        }
    });
    Server {
        port,
        mode,
        body,
        log,
        _rt: rt,
    }
}

/// A real-format packages.json: the first `n` bundled names with versions, plus packages with
/// descriptions, both licence forms and missing fields; brotli-compressed as channels ship it.
fn packages_br(n: usize, hello_version: &str) -> Vec<u8> {
    let bundled = biar::index::bundled().unwrap();
    let mut packages = serde_json::Map::new();
    for i in 0..n {
        let attr = bundled.attr(i * 97 % bundled.len());
        packages.insert(
            attr.to_string(),
            serde_json::json!({"name": format!("{attr}-1.0"), "version": "1.0",
                               "system": "x86_64-linux", "outputs": {"out": null},
                               "meta": {"license": {"spdxId": "MIT", "free": true}}}),
        );
    }
    packages.insert(
        "hello".into(),
        serde_json::json!({"name": format!("hello-{hello_version}"), "pname": "hello",
            "version": hello_version, "system": "x86_64-linux", "outputName": "out",
            "outputs": {"out": null},
            "meta": {"description": "Program that produces a familiar, friendly greeting",
                     "mainProgram": "hello", "license": {"spdxId": "GPL-3.0-or-later", "free": true},
                     "broken": false, "unfree": false, "platforms": ["x86_64-linux"],
                     "position": "pkgs/by-name/he/hello/package.nix:34"}}),
    );
    packages.insert(
        "ripgrep".into(),
        serde_json::json!({"pname": "ripgrep", "version": "14.1.1",
            "meta": {"description": "Utility that combines the usability of The Silver Searcher with the raw speed of grep",
                     "license": [{"spdxId": "MIT"}, {"spdxId": "Unlicense"}]}}),
    );
    packages.insert("nometa".into(), serde_json::json!({}));
    let doc = serde_json::json!({"version": 2, "packages": packages});
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        w.write_all(doc.to_string().as_bytes()).unwrap();
    }
    out
}

fn project(dir: &std::path::Path, url: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::json!({"baseConfig": "base.nix", "userConfig": ["user.nix"],
                           "index": {"packagesUrl": url}})
        .to_string(),
    )
    .unwrap();
}

fn run(home: &std::path::Path, proj: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = biar(home)
        .arg("--project")
        .arg(proj)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn channel_update_etag_errors_and_truncation() {
    let server = serve();
    *server.body.lock().unwrap() = (packages_br(500, "2.12.1"), "\"v1\"".into());
    let home = tempfile::tempdir().unwrap();
    let proj = home.path().join("project");
    let url = format!(
        "http://127.0.0.1:{}/nixos-unstable/packages.json.br",
        server.port
    );
    project(&proj, &url);
    let update = ["index", "update", "--source", "channel"];

    // 1. First download: 503 packages and 12 more names from the alias table shipped with the
    // index (python3Packages.* beside the fixture's python312Packages.*, python3, …).
    let (ok, out, err) = run(home.path(), &proj, &update);
    assert!(ok, "{out}{err}");
    assert!(out.contains("loaded 515 packages"), "{out}");
    assert!(out.contains(&url), "{out}");
    let (ok, out, _) = run(
        home.path(),
        &proj,
        &["search", "hello", "-n", "1", "--json"],
    );
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"attr": "hello", "version": "2.12.1",
            "description": "Program that produces a familiar, friendly greeting"}])
    );
    // The description tier finds ripgrep by what it does.
    let (_, out, _) = run(
        home.path(),
        &proj,
        &["search", "silver searcher", "-n", "3"],
    );
    assert!(out.starts_with("ripgrep  14.1.1  Utility"), "{out}");

    // 2. Unchanged: the validators go back and nothing is downloaded.
    let sent = server.log.lock().unwrap().body_bytes;
    let (ok, out, err) = run(home.path(), &proj, &update);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("unchanged") && out.contains("515 packages"),
        "{out}"
    );
    let log = server.log.lock().unwrap();
    assert_eq!(log.body_bytes, sent);
    let last = log.requests.last().unwrap().to_ascii_lowercase();
    assert!(last.contains("if-none-match: \"v1\""), "{last}");
    assert!(
        last.contains("if-modified-since: mon, 03 feb 2025"),
        "{last}"
    );
    drop(log);

    // 3. An HTTP error keeps the previous index, and says so.
    *server.mode.lock().unwrap() = Mode::Error;
    let (ok, out, _) = run(home.path(), &proj, &update);
    assert!(!ok);
    assert!(
        out.contains("HTTP 503") && out.contains("kept the previous index (515 packages)"),
        "{out}"
    );

    // 4. A truncated body (new ETag, so it is downloaded) too.
    *server.mode.lock().unwrap() = Mode::Truncate;
    *server.body.lock().unwrap() = (packages_br(500, "2.13.0"), "\"v2\"".into());
    let (ok, out, _) = run(home.path(), &proj, &update);
    assert!(!ok);
    assert!(
        out.contains("failed") && out.contains("kept the previous index (515 packages)"),
        "{out}"
    );
    let (_, out, _) = run(home.path(), &proj, &["search", "hello", "-n", "1"]);
    assert!(out.contains("2.12.1"), "{out}");

    // 5. The changed file, served whole, replaces the index.
    *server.mode.lock().unwrap() = Mode::Serve;
    let (ok, out, err) = run(home.path(), &proj, &update);
    assert!(ok, "{out}{err}");
    assert!(out.contains("loaded 515 packages"), "{out}");
    let (_, out, _) = run(home.path(), &proj, &["search", "hello", "-n", "1"]);
    assert!(out.contains("2.13.0"), "{out}");

    // Outside the project, the best available index is that channel's too.
    let elsewhere = tempfile::tempdir().unwrap();
    let (ok, out, _) = run(
        home.path(),
        elsewhere.path(),
        &["search", "hello", "-n", "1"],
    );
    assert!(ok && out.contains("2.13.0"), "{out}");
}

#[test]
fn update_without_a_project_refreshes_the_bundled_names() {
    let home = tempfile::tempdir().unwrap();
    let nowhere = home.path().join("no-project");
    let (ok, out, err) = run(home.path(), &nowhere, &["index", "update"]);
    assert!(ok, "{out}{err}");
    assert!(
        // 124,693 names and nixpkgs' second names of versioned sets (the alias table).
        out.contains("bundled") && out.contains("loaded 136,236 packages"),
        "{out}"
    );
    assert!(err.contains("no index.packagesUrl"), "{err}");
}

#[test]
fn a_bad_url_is_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let proj = home.path().join("project");
    project(&proj, "ftp://example.invalid/packages.json");
    let out = biar(home.path())
        .arg("--project")
        .arg(&proj)
        .args(["index", "update", "--source", "channel"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("not an http(s) URL"), "{stdout}");
    assert_eq!(out.status.code(), Some(2));
}
