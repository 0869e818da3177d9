//! `biar-tui run` on a project whose environment is not built yet: it builds it first (offline
//! builder, test package set), mounts `workdir/` at the image's working directory, and returns
//! the command's exit code.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::children::{containers_of, salt, RemoveContainersOf};
use common::images::ImagesNamed;
use common::{biar, biar_std, docker_available, offline_project};

#[test]
fn run_builds_first_and_mounts_workdir() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runproj-{}-", std::process::id());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(dir.join("workdir/note.txt"), "a note from the host\n").unwrap();
    let _cleanup = ImagesNamed(prefix.clone());

    // The image path (`--via-image`; without it the environment runs from the store volume,
    // tests/run_direct.rs).
    let out = biar(tmp.path())
        .args(["run", "--via-image", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "pwd; cat note.txt; hello; exit 7"])
        .assert()
        .code(7);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("building it first"), "{stderr}");
    // The build's result lines go to stderr with its progress: stdout is the command's alone.
    assert!(stderr.contains("environment: /nix/store/"), "{stderr}");
    assert!(stderr.contains("layers: "), "{stderr}");
    assert!(stderr.contains(&format!("loaded {prefix}")), "{stderr}");
    assert!(
        stdout == "/home/user/workdir\na note from the host\nHello, world!\n",
        "{stdout}"
    );

    // Built once: the second run starts at once.
    let out = biar(tmp.path())
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "hello"])
        .assert()
        .success()
        .stdout("Hello, world!\n");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(!stderr.contains("building"), "{stderr}");
}

/// A project whose image is its own (a unique no-op package), with `packages` in user.nix.
fn project_with(prefix: &str, packages: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
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

/// A project whose build takes 120 s (a sleeper of its own), to be cancelled while it builds.
fn sleeper_project(prefix: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let sleeper = format!(
        "  (pkgs.sleeper {{ seconds = 120; salt = \"{}\"; }})",
        salt()
    );
    project_with(prefix, &sleeper)
}

/// Spawns `command` (stderr piped) and reads its stderr until Nix builds the 120 s sleeper; the
/// child, the rest of its stderr and what was read so far.
fn spawn_until_the_sleeper_builds(
    command: &mut Command,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
    String,
) {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    let building = loop {
        let Some(Ok(line)) = lines.next() else {
            break false;
        };
        stderr.push_str(&line);
        stderr.push('\n');
        if line.contains("building sleeper-120s") {
            break true;
        }
    };
    if !building {
        let _ = child.kill();
        let _ = child.wait();
        panic!("build ended before the sleeper started:\n{stderr}");
    }
    (child, lines, stderr)
}

#[test]
fn a_failed_build_runs_nothing_and_keeps_its_exit_category() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runfail-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());

    // `run -- echo ran` on a project whose build fails: nothing on stdout, "nothing was run".
    let run_failing = |body: &str| -> (Option<i32>, String) {
        let (tmp, dir) = project_with(&prefix, body);
        let out = biar(tmp.path())
            .args(["run", "--project"])
            .arg(&dir)
            .args(["--", "echo", "ran"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains("nothing was run"), "{stderr}");
        (out.status.code(), stderr)
    };

    // The user's own file is at fault: bad input, exit 2.
    let (code, stderr) = run_failing("  pkgs.hello\n  pkgs.nosuchthing");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("attribute 'nosuchthing' missing"),
        "{stderr}"
    );

    // A package that fails to build: a failure, exit 1.
    let (code, stderr) = run_failing("  pkgs.failing");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("building failing-1.0 failed"), "{stderr}");
}

#[test]
fn sigterm_while_building_first_cancels_the_build_and_runs_nothing() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runcancel-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = sleeper_project(&prefix);
    let (mut child, lines, mut stderr) = spawn_until_the_sleeper_builds(
        biar_std(tmp.path())
            .args(["run", "--project"])
            .arg(&dir)
            .args(["--", "echo", "ran"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let pid = child.id();
    let _containers = RemoveContainersOf(pid);
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    for line in lines {
        stderr.push_str(&line.unwrap());
        stderr.push('\n');
    }
    eprintln!("the build stopped {took:?} after SIGTERM");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Cancelled by SIGTERM: 128 + 15, as a shell reports it (issue 10).
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        containers_of(pid).is_empty(),
        "stray containers: {:?}",
        containers_of(pid)
    );
}

/// The build's signal handling ends with the build: SIGTERM then ends `run` as it would have
/// without a build first (terminated by the signal).
#[test]
fn sigterm_after_building_first_terminates_run() {
    use std::os::unix::process::ExitStatusExt;
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runterm-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = project_with(&prefix, "  pkgs.hello");
    let mut child = biar_std(tmp.path())
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "echo started; sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _containers = RemoveContainersOf(pid);
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "started");
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

/// `biar-tui build` cancelled while the Nix build runs: Ctrl-C exits 130, SIGHUP (the terminal
/// closed) 129, as a shell reports them; the builder container is gone at exit.
#[test]
fn a_cancelled_build_exits_128_plus_the_signal() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-buildcancel-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    for (signal, code) in [("-INT", 130), ("-HUP", 129)] {
        let (tmp, dir) = sleeper_project(&prefix);
        let (mut child, lines, mut stderr) = spawn_until_the_sleeper_builds(
            biar_std(tmp.path())
                .args(["build", "--project"])
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        let pid = child.id();
        let _containers = RemoveContainersOf(pid);
        assert!(Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success());
        let status = child.wait().unwrap();
        for line in lines {
            stderr.push_str(&line.unwrap());
            stderr.push('\n');
        }
        assert_eq!(status.code(), Some(code), "{signal}: {stderr}");
        assert!(stderr.contains("cancelled"), "{stderr}");
        assert!(
            containers_of(pid).is_empty(),
            "stray containers: {:?}",
            containers_of(pid)
        );
    }
}

/// `biar-tui build` SIGKILLed while the Nix build runs: no code of ours runs, yet its builder
/// container does not live on (its `cat` sees end of file, and the watcher removes it).
#[test]
fn a_sigkilled_build_leaves_no_builder_container() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-buildkill-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = sleeper_project(&prefix);
    let (mut child, _lines, _) = spawn_until_the_sleeper_builds(
        biar_std(tmp.path())
            .args(["build", "--project"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let pid = child.id();
    let _containers = RemoveContainersOf(pid);
    assert_eq!(containers_of(pid).len(), 1, "the builder container runs");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still there after SIGKILL: {:?}",
            containers_of(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `run` with a `workdir/` owned by a uid the image does not know (4242): the container runs as
/// it, with a passwd entry and a writable home supplied for the run (no image per uid), so the
/// environment works as its user, and what it writes in workdir/ belongs to 4242 on the host.
#[test]
fn run_works_as_the_owner_of_workdir_whatever_its_uid() {
    use std::os::unix::fs::MetadataExt;
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runowner-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = project_with(&prefix, "  pkgs.hello");
    let work = dir.join("workdir");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(4242), Some(4343)).unwrap();
    let out = biar(tmp.path())
        .args(["run", "--project"])
        .arg(&dir)
        .args([
            "--",
            "sh",
            "-c",
            // The prompt: an interactive shell expands \u through the passwd entry.
            "id -u; id -g; id -un; echo $HOME; pwd; touch ~/.history && echo home-ok; \
             echo written > made.txt; PS1='[\\u]$ ' sh -i </dev/null 2>&1",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.starts_with("4242\n4343\nuser\n/home/user\n/home/user/workdir\nhome-ok\n"),
        "{stdout}"
    );
    assert!(stdout.contains("[user]$ "), "{stdout}");
    let made = std::fs::metadata(work.join("made.txt")).unwrap();
    assert_eq!((made.uid(), made.gid()), (4242, 4343));
    assert_eq!(
        std::fs::read_to_string(work.join("made.txt")).unwrap(),
        "written\n"
    );

    // Another image (`--image`) keeps its own users: this one's is root, and its /etc/passwd is
    // not replaced.
    let other = common::testimage::import(&common::testimage::make("own users").rootfs);
    biar(tmp.path())
        .args(["run", "--image", &other.reference, "--project"])
        .arg(&dir)
        .args([
            "--",
            "sh",
            "-c",
            "busybox id -u; test -e /etc/passwd || echo no-passwd",
        ])
        .assert()
        .success()
        .stdout("0\nno-passwd\n");
}
