//! The shared Nix binary cache end to end: Debian's nginx (WebDAV PUT) on a free loopback port,
//! filled by one store volume's build and signed with the user's key; a second, fresh store
//! volume (another machine, in effect) builds the same environment with no derivation built;
//! a cache signed by another key is refused with the reason; a stopped cache is built around;
//! a refused upload keeps the build. Builders use `builder.network = "host"` to reach loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::nginx::{self, Nginx};
use common::{biar, docker_available, offline_project};

/// Images and volumes this test made, removed however it ends.
#[derive(Default)]
struct Cleanup {
    images: Vec<String>,
    volumes: Vec<String>,
    dirs: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for i in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
        for v in &self.volumes {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", v])
                .output();
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A signing key pair made by the builder's Nix: (secret, public).
fn key_pair(name: &str) -> (String, String) {
    let image = std::env::var("BIAR_TEST_BUILDER_IMAGE").unwrap_or("biar-builder:latest".into());
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", &image, "sh", "-c"])
        .arg(format!(
            "nix-store --generate-binary-cache-key {name} /tmp/s /tmp/p >&2 && cat /tmp/s && \
             echo && cat /tmp/p"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    (
        lines.next().unwrap().to_string(),
        lines.next().unwrap().to_string(),
    )
}

/// A temp copy of example-offline listing hello and a no-op package salted with `salt`, on its
/// own store volume (made by `builder create --offline`) when `volume` is given, with the
/// builder on the host's network and `edit` applied to config.json.
fn project(
    cleanup: &mut Cleanup,
    salt: &str,
    volume: Option<&str>,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = offline_project(|c| {
        c["builder"]["network"] = "host".into();
        if let Some(v) = volume {
            c["builder"]["storeVolume"] = v.into();
        }
        edit(c);
    });
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n  pkgs.hello\n  (pkgs.sleeper {{ seconds = 0; salt = \"{salt}\"; }})\n]\n"
        ),
    )
    .unwrap();
    if let Some(v) = volume {
        cleanup.volumes.push(v.to_string());
        let out = biar(tmp.path())
            .args(["builder", "create", "--offline", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (tmp, dir)
}

/// The user's `config.toml` under `home`.
fn user_settings(home: &Path, text: &str) {
    let dir = home.join("config/biar");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// `build --json` of `dir`: its events (images it made go to `cleanup`); asserts success.
fn build(cleanup: &mut Cleanup, home: &Path, dir: &Path) -> Vec<serde_json::Value> {
    let out = biar(home)
        .args(["build", "--json", "--project"])
        .arg(dir)
        .output()
        .unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for e in &events {
        if let Some(r) = e["reference"].as_str() {
            cleanup.images.push(r.to_string());
        }
    }
    assert!(
        out.status.success(),
        "build failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    events
}

fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The image the build delivered is in the engine.
fn image_loaded(events: &[serde_json::Value]) -> String {
    let built = events
        .iter()
        .find_map(|e| e["reference"].as_str())
        .expect("a reference in the build's results");
    let status = Command::new("docker")
        .args(["image", "inspect", built])
        .output()
        .unwrap()
        .status;
    assert!(status.success(), "{built} is not in the engine");
    built.to_string()
}

fn remove_image(reference: &str) {
    let _ = Command::new("docker")
        .args(["rmi", "-f", reference])
        .output();
}

#[test]
fn a_fresh_store_substitutes_everything_and_a_wrong_key_is_refused() {
    if !docker_available() || !nginx::available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let cache = Nginx::start().unwrap();
    let (secret, public) = key_pair("biar-test-cache-1");
    let salt = common::unique_id();

    // Machine 1: its own store; the user's cache, pushing signed.
    let (home1, dir1) = project(
        &mut cleanup,
        &salt,
        Some(&format!("biar-test-cache-a-{salt}")),
        |_| {},
    );
    let key_file = home1.path().join("cache.sec");
    std::fs::write(&key_file, &secret).unwrap();
    user_settings(
        home1.path(),
        &format!(
            "[binary-cache]\nurl = {:?}\npublic-key = {public:?}\nsecret-key-file = {:?}\npush = true\n",
            cache.url(),
            key_file.display().to_string()
        ),
    );
    let events = build(&mut cleanup, home1.path(), &dir1);
    assert!(!of_kind(&events, "derivation_started").is_empty());
    let pushed = of_kind(&events, "cache_pushed");
    assert_eq!(pushed.len(), 1, "{events:?}");
    assert_eq!(pushed[0]["cache"], cache.url());
    let uploaded = pushed[0]["paths"].as_u64().unwrap();
    assert!(uploaded >= 4, "{uploaded} paths uploaded");
    assert_eq!(cache.narinfos().len() as u64, uploaded);
    let narinfo = std::fs::read_to_string(cache.root().join(&cache.narinfos()[0])).unwrap();
    assert!(narinfo.contains("Sig: biar-test-cache-1:"), "{narinfo}");
    // The same environment is the same image: remove it so machine 2 builds.
    remove_image(&image_loaded(&events));

    // Machine 2: a fresh store; the project names the cache and the user trusts its key.
    let with_cache = |c: &mut serde_json::Value| {
        c["binaryCache"] = serde_json::json!({ "url": cache.url(), "publicKey": public });
    };
    let (home2, dir2) = project(
        &mut cleanup,
        &salt,
        Some(&format!("biar-test-cache-b-{salt}")),
        with_cache,
    );
    user_settings(
        home2.path(),
        &format!("trusted-public-keys = [{public:?}]\n"),
    );
    let events = build(&mut cleanup, home2.path(), &dir2);
    assert!(
        of_kind(&events, "derivation_started").is_empty(),
        "machine 2 built something: {events:?}"
    );
    let fetched = of_kind(&events, "substitute_started");
    assert!(!fetched.is_empty(), "{events:?}");
    assert!(fetched.iter().all(|e| e["cache"] == cache.url()));
    let last = of_kind(&events, "substitution").pop().unwrap().clone();
    assert!(last["done"].as_u64().unwrap() > 0 && last["done"] == last["expected"]);
    let downloaded = of_kind(&events, "downloaded").pop().unwrap().clone();
    assert!(downloaded["bytes"].as_u64().unwrap() > 0, "{downloaded}");
    assert!(of_kind(&events, "cache_warning").is_empty(), "{events:?}");
    remove_image(&image_loaded(&events));

    // Machine 3: a fresh store trusting another key under the cache's: refused, then built.
    let (_, other) = key_pair("biar-test-cache-1");
    let (home3, dir3) = project(
        &mut cleanup,
        &salt,
        Some(&format!("biar-test-cache-c-{salt}")),
        |c| {
            c["binaryCache"] = serde_json::json!({ "url": cache.url(), "publicKey": other });
        },
    );
    user_settings(
        home3.path(),
        &format!("trusted-public-keys = [{other:?}]\n"),
    );
    let events = build(&mut cleanup, home3.path(), &dir3);
    let warnings = of_kind(&events, "cache_warning");
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert_eq!(warnings[0]["cache"], cache.url());
    assert!(
        warnings[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not signed by a key you trust"),
        "{warnings:?}"
    );
    assert!(!of_kind(&events, "derivation_started").is_empty());
    image_loaded(&events);
}

#[test]
fn a_stopped_cache_is_a_warning_and_the_build_builds() {
    if !docker_available() || !nginx::available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let mut cache = Nginx::start().unwrap();
    let url = cache.url();
    cache.stop();
    let (_, public) = key_pair("biar-test-stopped-1");
    let (home, dir) = project(&mut cleanup, &common::unique_id(), None, |c| {
        c["binaryCache"] = serde_json::json!({ "url": url, "publicKey": public });
    });
    user_settings(
        home.path(),
        &format!("trusted-public-keys = [{public:?}]\n"),
    );
    let events = build(&mut cleanup, home.path(), &dir);
    let warnings = of_kind(&events, "cache_warning");
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert_eq!(warnings[0]["cache"], url);
    let reason = warnings[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot be reached") && reason.contains("connect"),
        "{reason}"
    );
    assert!(!of_kind(&events, "derivation_started").is_empty());
    image_loaded(&events);
}

#[test]
fn a_refused_upload_is_a_clear_warning_and_the_image_is_made() {
    if !docker_available() || !nginx::available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let cache = Nginx::start_refusing_uploads().unwrap();
    let (secret, public) = key_pair("biar-test-refused-1");
    let (home, dir) = project(&mut cleanup, &common::unique_id(), None, |_| {});
    let key_file = home.path().join("cache.sec");
    std::fs::write(&key_file, secret).unwrap();
    user_settings(
        home.path(),
        &format!(
            "[binary-cache]\nurl = {:?}\npublic-key = {public:?}\nsecret-key-file = {:?}\npush = true\n",
            cache.url(),
            key_file.display().to_string()
        ),
    );
    let events = build(&mut cleanup, home.path(), &dir);
    let warnings = of_kind(&events, "cache_warning");
    assert_eq!(warnings.len(), 1, "{events:?}");
    let reason = warnings[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("upload refused") && reason.contains("403"),
        "{reason}"
    );
    assert!(of_kind(&events, "cache_pushed").is_empty());
    assert!(cache.narinfos().is_empty());
    image_loaded(&events);
}

#[test]
fn a_file_cache_is_a_folder_of_this_machine_mounted_into_the_builder() {
    if !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let folder = std::env::temp_dir().join(format!("biar-file-cache-{}", common::unique_id()));
    cleanup.dirs.push(folder.clone());
    let (secret, public) = key_pair("biar-test-file-1");
    let (home, dir) = project(&mut cleanup, &common::unique_id(), None, |_| {});
    let key_file = home.path().join("cache.sec");
    std::fs::write(&key_file, secret).unwrap();
    let url = format!("file://{}", folder.display());
    user_settings(
        home.path(),
        &format!(
            "[binary-cache]\nurl = {url:?}\npublic-key = {public:?}\nsecret-key-file = {:?}\npush = true\n",
            key_file.display().to_string()
        ),
    );
    let events = build(&mut cleanup, home.path(), &dir);
    let pushed = of_kind(&events, "cache_pushed");
    assert_eq!(pushed.len(), 1, "{events:?}");
    let narinfos = nginx::narinfos(&folder);
    assert!(!narinfos.is_empty());
    assert!(folder.join("nix-cache-info").is_file());
    remove_image(&image_loaded(&events));

    // Another store reads the same folder (mounted the same way) and builds nothing.
    let salt = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    let (home2, dir2) = project(
        &mut cleanup,
        "unused",
        Some(&format!("biar-test-cache-file-{}", common::unique_id())),
        |_| {},
    );
    std::fs::write(dir2.join("user.nix"), salt).unwrap();
    user_settings(
        home2.path(),
        &format!("[binary-cache]\nurl = {url:?}\npublic-key = {public:?}\n"),
    );
    let events = build(&mut cleanup, home2.path(), &dir2);
    assert!(
        of_kind(&events, "derivation_started").is_empty(),
        "built something: {events:?}"
    );
    assert!(!of_kind(&events, "substitute_started").is_empty());
    // Nothing is downloaded from a folder; what was unpacked counts.
    let last = of_kind(&events, "downloaded").pop().unwrap().clone();
    assert!(last["unpacked"].as_u64().unwrap() > 0, "{last}");
    image_loaded(&events);
}

#[test]
fn cache_urls_of_unknown_schemes_and_s3_are_bad_input_naming_the_value() {
    let key = "k-1:4bla6XJrsvT5YZLDmBAYWbblvBN9iESPLXZ/GDhlREk=";
    for (url, needle) in [
        ("gopher://cache.example", "gopher://"),
        ("s3://team-cache", "S3 support"),
    ] {
        let mut cleanup = Cleanup::default();
        let (home, dir) = project(&mut cleanup, "x", None, |c| {
            c["binaryCache"] = serde_json::json!({ "url": url, "publicKey": key });
        });
        let out = biar(home.path())
            .args(["build", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(url) && err.contains(needle) && err.contains("config.json:"),
            "{err}"
        );
    }
}
