//! `biar-tui build` end to end: the real engine, the offline builder, projects pinned by path to
//! the test package set (tests/fixtures/pkgs).

mod common;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::children::{builder_containers_of, salt};
use common::{biar, biar_std, docker_available, offline_project, snapshot_tree};

/// A copy of example-offline whose pin points at the repository's package set (the copy lives
/// elsewhere) and whose user.nix lists `packages` plus a unique no-op package, so every test's
/// environment (and image) is its own and can be removed at the end.
fn project(packages: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = offline_project(|_| {});
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n{packages}\n  (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }})\n]\n",
            salt()
        ),
    )
    .unwrap();
    (tmp, dir)
}

/// Removes the images a `build --json` run made (its events name them).
fn remove_images(stdout: &[u8]) {
    for line in String::from_utf8_lossy(stdout).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(reference) = event["reference"].as_str() {
            let _ = Command::new("docker")
                .args(["rmi", "-f", reference])
                .output();
        }
    }
}

#[test]
fn example_offline_builds_with_progress_events_and_a_closure() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.hello pkgs.chatty");
    let closure = tmp.path().join("closure.json");
    let out = biar(tmp.path())
        .args(["build", "--json", "-v", "--closure-json"])
        .arg(&closure)
        .arg("--project")
        .arg(&dir)
        .output()
        .unwrap();
    remove_images(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for kind in ["stage", "progress", "built"] {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
    let built = events.iter().find(|e| e["event"] == "built").unwrap();
    let env = built["env_path"].as_str().unwrap();
    assert!(env.starts_with("/nix/store/") && env.ends_with("-biar-env"));
    assert!(built["packages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().ends_with("-hello-2.12.1")));

    let graph: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&closure).unwrap()).unwrap();
    assert!(graph.iter().any(|p| p["path"] == env));
    assert!(graph
        .iter()
        .all(|p| p["narSize"].as_u64().unwrap() > 0 && p["references"].is_array()));
}

#[test]
fn two_projects_build_at_the_same_time() {
    if !docker_available() {
        return;
    }
    let salt = salt();
    let projects: Vec<_> = ["a", "b"]
        .iter()
        .map(|p| {
            project(&format!(
                "  (pkgs.sleeper {{ seconds = 3; salt = \"{salt}-{p}\"; }})\n  \
                 (pkgs.sleeper {{ seconds = 2; salt = \"{salt}-shared\"; }})\n  pkgs.hello"
            ))
        })
        .collect();
    let children: Vec<_> = projects
        .iter()
        .map(|(tmp, dir)| {
            let mut cmd = biar_std(tmp.path());
            cmd.args(["build", "--json", "--project"])
                .arg(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        remove_images(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("-biar-env"));
    }
}

fn cancel_with(signal: &str) {
    let (tmp, dir) = project(&format!(
        "  (pkgs.sleeper {{ seconds = 120; salt = \"{}\"; }})",
        salt()
    ));
    let mut cmd = biar_std(tmp.path());
    let mut child = cmd
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // Wait until the sleeper really builds.
    loop {
        let line = lines
            .next()
            .expect("build ended before the sleeper started")
            .unwrap();
        if line.contains("derivation_started") && line.contains("sleeper") {
            break;
        }
    }
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    eprintln!("{signal}: the build stopped {took:?} after the signal");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Cancelled by a signal: 128 + its number, as a shell reports it (issue 10; it was 1).
    let expected = match signal {
        "-INT" => 130,
        "-TERM" => 143,
        other => panic!("no expected code for {other}"),
    };
    assert_eq!(status.code(), Some(expected));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(
        builder_containers_of(pid).is_empty(),
        "stray containers: {:?}",
        builder_containers_of(pid)
    );

    // The store is consistent: the next build succeeds.
    let (tmp, dir) = project("  pkgs.hello");
    let out = biar(tmp.path())
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    remove_images(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_stops_the_build_and_leaves_nothing_behind() {
    if !docker_available() {
        return;
    }
    cancel_with("-TERM");
}

#[test]
fn ctrl_c_stops_the_build_and_leaves_nothing_behind() {
    if !docker_available() {
        return;
    }
    cancel_with("-INT");
}

#[test]
fn a_failing_derivation_shows_nix_error_and_its_log() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.hello pkgs.failing");
    let before = snapshot_tree(&dir);
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("building failing-1.0 failed"), "{stderr}");
    assert!(
        stderr.contains("error: builder for '/nix/store/"),
        "{stderr}"
    );
    assert!(stderr.contains("last lines of its log"), "{stderr}");
    assert!(
        stderr.contains("main.c:3:1: error: expected ';' before '}' token"),
        "{stderr}"
    );
    assert_eq!(before, snapshot_tree(&dir));
}

#[test]
fn an_evaluation_error_points_at_the_users_file() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.hello\n  pkgs.nosuchthing");
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    // The user's own file is at fault: bad input.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: attribute 'nosuchthing' missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:4:3", dir.join("user.nix").display())),
        "{stderr}"
    );
}

#[test]
fn a_missing_builder_image_says_to_run_builder_create() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.hello");
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["builder"]["image"] = format!("biar-test-no-such-builder-{}:latest", salt()).into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("biar-test-no-such-builder-"), "{stderr}");
    assert!(stderr.contains("run `biar-tui builder create`"), "{stderr}");
}

#[test]
fn a_missing_store_volume_says_to_run_builder_create() {
    if !docker_available() {
        return;
    }
    let (tmp, dir) = project("  pkgs.hello");
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["builder"]["storeVolume"] = format!("biar-test-no-such-volume-{}", salt()).into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("biar-test-no-such-volume-"), "{stderr}");
    assert!(stderr.contains("run `biar-tui builder create`"), "{stderr}");
}

#[test]
fn docker_unreachable_is_a_clear_message() {
    let (tmp, dir) = project("  pkgs.hello");
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .env("DOCKER_HOST", "unix:///nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unix:///nonexistent"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
