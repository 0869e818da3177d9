//! Issue 10, the builder's part: what a build and a project can do to the shared store, the
//! builder and the host. Real engine, real Nix in the builder, hostile derivations from the test
//! package set (`pkgs.hostile`, tests/fixtures/pkgs/hostile.nix).

mod common;

use std::process::Command;

use common::{biar, builder_of, docker_available, offline_project};

/// Removes what a test made on the engine, even when it fails.
#[derive(Default)]
struct Cleanup {
    images: Vec<String>,
    volumes: Vec<String>,
    containers: Vec<String>,
}

impl Cleanup {
    /// Remembers the images a `build --json` run made (its events name them).
    fn built_images(&mut self, stdout: &[u8]) {
        for line in String::from_utf8_lossy(stdout).lines() {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(reference) = event["reference"].as_str() {
                    self.images.push(reference.to_string());
                }
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        for i in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
        for v in &self.volumes {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", v])
                .output();
        }
    }
}

/// `sh -c script` in a fresh container of `image` with `volume` at `/nix`; its stdout.
fn in_builder(image: &str, volume: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["run", "--rm", "-v", &format!("{volume}:/nix"), image])
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// user.nix building a unique victim path, a derivation trying to tamper with it, and one
/// reporting its container's limits.
fn hostile_user_nix(salt: &str) -> String {
    format!(
        "{{ pkgs }}:\nlet victim = pkgs.hostile.victim \"{salt}\"; in\n\
         [ victim (pkgs.hostile.tamper victim) (pkgs.hostile.limits \"{salt}\") ]\n"
    )
}

/// Asserts that the tamper report of the last build in `volume` shows every attempt denied and
/// that the victim is as built.
fn assert_store_untouched(image: &str, volume: &str, salt: &str) {
    let report = in_builder(
        image,
        volume,
        &format!("cat /nix/store/*-tamper-victim-{salt}/report"),
    );
    assert!(report.contains("denied: rewrite a file"), "{report}");
    assert!(
        !report.contains("TAMPERED"),
        "a build changed another store path:\n{report}"
    );
    let victim = in_builder(
        image,
        volume,
        &format!("cat /nix/store/*-victim-{salt}/bin/victim"),
    );
    assert_eq!(victim.trim(), format!("original {salt}"));
}

/// A derivation of one project tries to rewrite a path another build made (as a hostile
/// derivation could rewrite `hello`): builds run as build users, so it cannot. The same build
/// shows the builder container's limits from config.json.
#[test]
fn a_build_cannot_rewrite_another_store_path_and_runs_within_its_limits() {
    if !docker_available() {
        return;
    }
    let salt = common::unique_id();
    let (tmp, dir) = offline_project(|config| {
        config["builder"]["memory"] = "1g".into();
        config["builder"]["pids"] = 300.into();
    });
    std::fs::write(dir.join("user.nix"), hostile_user_nix(&salt)).unwrap();
    let (image, volume) = builder_of(&dir);
    let mut cleanup = Cleanup::default();
    let out = biar(tmp.path())
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    cleanup.built_images(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_store_untouched(&image, &volume, &salt);
    let limits = in_builder(
        &image,
        &volume,
        &format!("cat /nix/store/*-limits-{salt}/report"),
    );
    assert!(limits.contains("pids 300"), "{limits}");
    assert!(limits.contains("memory 1073741824"), "{limits}");
}

/// Runs `script` in a container `prep` of `source` and commits it as each of `tags`, with the
/// Dockerfile-style `change`s: a local stand-in for an image that would be pulled.
fn commit_image(source: &str, prep: &str, script: &str, change: &str, tags: &[&String]) {
    let out = Command::new("docker")
        .args(["run", "--name", prep, source, "sh", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for tag in tags {
        let out = Command::new("docker")
            .args(["commit", "--change", change, prep, tag])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The online `builder create` through an image of the official name made here (nothing can be
/// pulled): a base without build users (as the official image was configured before) becomes a
/// builder whose builds run as build users; settings reach nix.conf as data (a `%` survives);
/// a builder made by an older biar-tui is reported, refused, and re-created.
#[test]
fn the_online_builder_runs_builds_as_build_users_and_replaces_an_older_one() {
    if !docker_available() {
        return;
    }
    let id = common::unique_id();
    let (tmp, dir) = offline_project(|_| {});
    let (source, _) = builder_of(&dir);
    let base = format!("nixos/nix:biar-test-{id}");
    let builder = format!("biar-test-online-builder-{id}:latest");
    let volume = format!("biar-test-online-store-{id}");
    let setup = format!("biar-test-strip-{id}");
    let mut cleanup = Cleanup {
        images: vec![base.clone(), builder.clone()],
        volumes: vec![volume.clone()],
        containers: vec![setup.clone()],
    };
    // A builder as biar-tui made them before build users: no members in nixbld, root builds.
    commit_image(
        &source,
        &setup,
        "set -e; grep -v '^nixbld' /etc/passwd > /tmp/p; cat /tmp/p > /etc/passwd; \
         grep -v '^nixbld:' /etc/group > /tmp/g; echo 'nixbld:x:30000:' >> /tmp/g; \
         cat /tmp/g > /etc/group; \
         printf 'sandbox = false\\nbuild-users-group =\\nsubstituters =\\n' > /etc/nix/nix.conf",
        "LABEL biar.builder.format=1",
        &[&base, &builder],
    );
    let salt = common::unique_id();
    std::fs::write(dir.join("user.nix"), hostile_user_nix(&salt)).unwrap();
    let write_config = |substituters: serde_json::Value| {
        let path = dir.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["builder"] = serde_json::json!({
            "image": builder,
            "storeVolume": volume,
            "baseImage": base,
            "substituters": substituters,
            "trustedPublicKeys": [],
        });
        std::fs::write(&path, config.to_string()).unwrap();
    };
    write_config(serde_json::json!(["http://127.0.0.1:9/a%41b?x=1&y=2"]));

    let out = biar(tmp.path())
        .args(["builder", "status", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("outdated") && stdout.contains("builder create"),
        "{stdout}"
    );
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("older biar-tui") && stderr.contains("builder create"),
        "{stderr}"
    );

    let out = biar(tmp.path())
        .args(["builder", "create", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{builder}: re-created")),
        "{stdout}"
    );
    let conf = in_builder(&builder, &volume, "cat /etc/nix/nix.conf; id nixbld1");
    assert!(
        conf.contains("\nsubstituters = http://127.0.0.1:9/a%41b?x=1&y=2\n"),
        "{conf}"
    );
    assert!(conf.contains("\nbuild-users-group = nixbld\n"), "{conf}");
    assert!(conf.contains("\nsandbox-fallback = false\n"), "{conf}");
    assert!(conf.contains("uid=30001(nixbld1)"), "{conf}");

    // No substituter for the build itself: nothing here can answer one.
    write_config(serde_json::json!([]));
    let out = biar(tmp.path())
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    cleanup.built_images(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_store_untouched(&builder, &volume, &salt);
}

/// Substituters and keys are validated at load: a quote (which ran commands in the online
/// setup script) or a newline (which added nix.conf settings) is bad input naming the value and
/// its place in config.json, before anything runs.
#[test]
fn substituters_and_keys_that_are_not_urls_and_keys_are_refused_at_load() {
    let home = tempfile::tempdir().unwrap();
    let marker = home.path().join("pwned");
    let cases = [
        (
            "substituters",
            format!("https://x' ; touch {} ; '", marker.display()),
            "is not a substituter URL",
        ),
        (
            "substituters",
            "https://x\nsandbox = false".to_string(),
            "is not a substituter URL",
        ),
        (
            "trustedPublicKeys",
            "k:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\nbuild-users-group =".to_string(),
            "is not a Nix public key",
        ),
    ];
    for (key, value, needle) in cases {
        let (tmp, dir) = offline_project(|config| {
            config["builder"][key] = serde_json::json!([value]);
        });
        let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
        let line = text
            .lines()
            .position(|l| l.contains("https://x") || l.contains("k:6NCH"))
            .unwrap()
            + 1;
        for args in [
            &["builder", "create"][..],
            &["build"],
            &["builder", "status"],
        ] {
            let out = biar(tmp.path())
                .args(args)
                .arg("--project")
                .arg(&dir)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} {value:?}: {stderr}");
            assert!(stderr.contains(needle), "{stderr}");
            assert!(
                stderr.contains(&format!("config.json:{line}:")),
                "{line} {stderr}"
            );
        }
    }
    assert!(!marker.exists());
    // Limits are validated the same way.
    let (tmp, dir) = offline_project(|config| config["builder"]["memory"] = "lots".into());
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("builder.memory \"lots\""));
}

/// A path pin outside the project (a cloned project pinning `~`) is refused with the reason
/// unless the user's own config.toml trusts it; trusted, it builds.
#[test]
fn a_path_pin_outside_the_project_needs_the_users_trust() {
    let outside = tempfile::tempdir().unwrap();
    let pkgs = outside.path().join("somebody-elses-folder");
    common::copy_dir(&common::repo().join("tests/fixtures/pkgs"), &pkgs);
    let (tmp, dir) = offline_project(|config| {
        config["nixpkgs"] = serde_json::json!({ "path": pkgs.display().to_string() });
    });
    std::fs::remove_dir_all(dir.join("pkgs")).unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("outside the project"), "{stderr}");
    assert!(stderr.contains("trusted-paths"), "{stderr}");
    // Hashing reads every file of the pinned folder: `hash` (and the TUI, which shows the
    // reference) refuse it too rather than read a folder the user never chose.
    let hash = || {
        biar(tmp.path())
            .args(["hash", "--project"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = hash();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("outside the project") && stderr.contains("config.json:"),
        "{stderr}"
    );
    // The project's own folder cannot vouch for it: only the user's config.toml counts.
    write_user_settings(
        tmp.path(),
        &format!("trusted-paths = [{:?}]\n", pkgs.display().to_string()),
    );
    assert!(hash().status.success());
    if !docker_available() {
        return;
    }
    builds(tmp.path(), &dir);
}

/// A signing key is trust the user gives, never a project: a cloned project naming its own key
/// (and cache) could get a forged path into the shared store under a real name. Untrusted, the
/// build and `builder create` refuse before anything starts; listed in the user's config.toml,
/// the same project builds.
#[test]
fn a_projects_signing_key_needs_the_users_trust() {
    let key = "their-cache-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (tmp, dir) = offline_project(|config| {
        config["builder"]["substituters"] = serde_json::json!([]);
        config["builder"]["trustedPublicKeys"] = serde_json::json!([key]);
    });
    for args in [
        &["build", "--json"][..],
        &["builder", "create", "--offline"][..],
    ] {
        let out = biar(tmp.path())
            .args(args)
            .arg("--project")
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing built or made");
        assert!(
            stderr.contains(key)
                && stderr.contains("config.json:")
                && stderr.contains("trusted-public-keys"),
            "{args:?}: {stderr}"
        );
    }
    write_user_settings(tmp.path(), &format!("trusted-public-keys = [{key:?}]\n"));
    if !docker_available() {
        return;
    }
    builds(tmp.path(), &dir);
}

/// Only the configuration and what it imports travel to the builder: a data file beside
/// config.json and the work in `workdir/` do not (the configuration checks from inside the
/// builder and would add the failing package if they did); an import leaving the project is
/// refused with its position.
#[test]
fn a_build_uploads_only_the_configuration_and_what_it_imports() {
    let (tmp, dir) = offline_project(|_| {});
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/extra.nix"),
        format!(
            "pkgs: [ (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }}) ]\n",
            common::unique_id()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("data.bin"), vec![0u8; 1 << 20]).unwrap();
    std::fs::write(dir.join("workdir/notes.txt"), "mine").unwrap();
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }:\n[ pkgs.hello ] ++ import ./lib/extra.nix pkgs\n\
         ++ (if builtins.pathExists (/. + \"/build/project/data.bin\") then [ pkgs.failing ] else [ ])\n\
         ++ (if builtins.pathExists (/. + \"/build/project/workdir/notes.txt\") then [ pkgs.failing ] else [ ])\n",
    )
    .unwrap();
    if docker_available() {
        let mut cleanup = Cleanup::default();
        let out = biar(tmp.path())
            .args(["build", "--json", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        cleanup.built_images(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(tmp.path().join("secret.nix"), "[ ]").unwrap();
    std::fs::write(dir.join("user.nix"), "{ pkgs }:\n  import ../secret.nix\n").unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:10", dir.join("user.nix").display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("../secret.nix leads outside the project"),
        "{stderr}"
    );
}

/// Containers made from `image`, running or not.
fn containers_from(image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("ancestor={image}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The online `builder create` runs a setup container of the base image: a `biar-tui` killed
/// (SIGKILL, so none of its code runs) while it works must not leave that container behind.
/// The base here is the offline builder with a `grep` that hangs, so the kill lands mid-setup.
#[test]
fn a_killed_online_builder_create_leaves_no_setup_container() {
    if !docker_available() {
        return;
    }
    let id = common::unique_id();
    let (tmp, dir) = offline_project(|_| {});
    let (source, _) = builder_of(&dir);
    let base = format!("nixos/nix:biar-test-slow-{id}");
    let builder = format!("biar-test-never-made-{id}:latest");
    let volume = format!("biar-test-never-made-store-{id}");
    let prep = format!("biar-test-slow-grep-{id}");
    let mut cleanup = Cleanup {
        images: vec![base.clone(), builder.clone()],
        volumes: vec![volume.clone()],
        containers: vec![prep.clone()],
    };
    let path = Command::new("docker")
        .args([
            "image",
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            &source,
        ])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&path.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| "/usr/bin:/bin".into());
    commit_image(
        &source,
        &prep,
        "mkdir -p /slow && printf '#!/bin/sh\\nexec sleep 300\\n' > /slow/grep && chmod +x /slow/grep",
        &format!("ENV PATH=/slow:{path}"),
        &[&base],
    );
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["builder"] = serde_json::json!({
        "image": builder, "storeVolume": volume, "baseImage": base,
        "substituters": [], "trustedPublicKeys": [],
    });
    std::fs::write(&config_path, config.to_string()).unwrap();

    let mut child = common::biar_std(tmp.path())
        .args(["builder", "create", "--project"])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while containers_from(&base).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no setup container started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Let it start its script (the hanging grep).
    std::thread::sleep(std::time::Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let left = loop {
        let left = containers_from(&base);
        if left.is_empty() || std::time::Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Whatever the outcome, nothing of this test stays.
    cleanup.containers.extend(left.iter().cloned());
    assert!(
        left.is_empty(),
        "setup containers left after SIGKILL: {left:?}"
    );
}

/// The user's own `$XDG_CONFIG_HOME/biar/config.toml` (tests' `biar(home)` sets
/// `XDG_CONFIG_HOME` to `home/config`): where trust lives, never in a project.
fn write_user_settings(home: &std::path::Path, text: &str) {
    let settings = home.join("config/biar");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(settings.join("config.toml"), text).unwrap();
}

/// `build --json` of `dir` succeeds; the images it loaded are removed when this returns.
fn builds(home: &std::path::Path, dir: &std::path::Path) {
    let mut cleanup = Cleanup::default();
    let out = biar(home)
        .args(["build", "--json", "--project"])
        .arg(dir)
        .output()
        .unwrap();
    cleanup.built_images(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
