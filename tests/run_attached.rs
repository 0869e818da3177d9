//! `biar-tui run` against the real Docker Engine, with an image imported in the test from a
//! busybox-static rootfs: piped stdin and exit codes in scripts, a real pseudo-terminal with
//! typing and a resize, and the faults (image missing, Docker gone).

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::children::{run_containers_of, RemoveContainersOf};
use common::testimage;
use predicates::prelude::*;

#[test]
fn piped_stdin_output_and_exit_code() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("run test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    common::biar(home.path())
        .current_dir(home.path())
        .args(["run", "--image", &image.reference, "--"])
        .args([
            "sh",
            "-c",
            "echo hi; cat; cat /hello.txt; echo oops >&2; exit 3",
        ])
        .write_stdin("from stdin\n")
        .assert()
        .code(3)
        .stdout("hi\nfrom stdin\nrun test\n")
        .stderr("oops\n");
    // The container is removed at exit.
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
}

#[test]
fn missing_image_says_build() {
    if !common::docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    common::biar(home.path())
        .current_dir(home.path())
        .args(["run", "--image", "biar-test-never-built:nope", "--", "true"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("biar-test-never-built:nope")
                .and(predicate::str::contains("biar-tui build")),
        );
}

#[test]
fn docker_gone_is_explained() {
    let home = tempfile::tempdir().unwrap();
    let sock = home.path().join("no-docker.sock");
    common::biar(home.path())
        .current_dir(home.path())
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .args(["run", "--image", "anything:t", "--", "true"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot reach the Docker Engine")
                .and(predicate::str::contains("no-docker.sock")),
        );
}

/// Reads the pty on a thread; `expect` waits until the screen so far contains a text.
struct Screen {
    rx: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Screen {
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("waited for {text:?}; the terminal shows:\n{}", self.seen),
            }
        }
    }
}

#[test]
fn tty_typing_and_resize() {
    if !common::docker_available() {
        return;
    }
    use portable_pty::PtySize;
    let img = testimage::make("tty test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let InPty {
        mut child,
        mut screen,
        mut writer,
        master,
    } = in_pty_sized(
        home.path(),
        &["run", "--image", &image.reference],
        (30, 100),
    );

    // No CMD: the image's shell, interactive.
    screen.expect("# ");
    writer
        .write_all(b"stty size; echo typed-$((6*7))\r")
        .unwrap();
    screen.expect("typed-42");
    assert!(screen.seen.contains("30 100"), "{}", screen.seen);

    master
        .resize(PtySize {
            rows: 20,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    // SIGWINCH reaches biar-tui, which resizes the container's TTY; poll until it shows.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        writer.write_all(b"echo size=$(stty size)\r").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(b) = screen.rx.try_recv() {
            screen.seen.push_str(&String::from_utf8_lossy(&b));
        }
        if screen.seen.contains("size=20 80") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no resize seen:\n{}",
            screen.seen
        );
    }
    writer.write_all(b"exit 5\r").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 5, "{}", screen.seen);
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
}

#[test]
fn ctrl_close_bracket_detaches_and_removes() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("detach test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let InPty {
        mut child,
        mut screen,
        mut writer,
        ..
    } = in_pty(home.path(), &["run", "--image", &image.reference]);
    screen.expect("# ");
    writer.write_all(&[0x1d]).unwrap(); // Ctrl-]
    screen.expect("detached");
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 1, "{}", screen.seen);
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
}

/// `biar-tui` in a real pseudo-terminal: the child, the screen, the keyboard (and the master,
/// kept open so the terminal stays).
struct InPty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    screen: Screen,
    writer: Box<dyn Write + Send>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

/// `biar-tui ARGS` in a real pseudo-terminal (24x80) from `home`.
fn in_pty(home: &std::path::Path, args: &[&str]) -> InPty {
    in_pty_sized(home, args, (24, 80))
}

/// `biar-tui ARGS` in a real pseudo-terminal of `rows` x `cols` from `home`.
fn in_pty_sized(home: &std::path::Path, args: &[&str], (rows, cols): (u16, u16)) -> InPty {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("biar-tui"));
    cmd.args(args);
    cmd.cwd(home);
    cmd.env("XDG_CACHE_HOME", home.join("cache"));
    cmd.env("XDG_CONFIG_HOME", home.join("config"));
    cmd.env("TERM", "xterm");
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let writer = pair.master.take_writer().unwrap();
    InPty {
        child,
        screen: Screen {
            rx,
            seen: String::new(),
        },
        writer,
        master: pair.master,
    }
}

fn kill(signal: &str, pid: u32) {
    assert!(std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// SIGTERM and SIGHUP (what closing the terminal sends) during an interactive run: the container
/// is stopped and removed before biar-tui exits, and biar-tui ends by that signal.
#[test]
fn sigterm_and_sighup_remove_the_container_at_once() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("signal test");
    let image = testimage::import(&img.rootfs);
    for signal in ["-TERM", "-HUP"] {
        let home = tempfile::tempdir().unwrap();
        let InPty {
            mut child,
            mut screen,
            mut writer,
            master: _master,
        } = in_pty(home.path(), &["run", "--image", &image.reference]);
        let pid = child.process_id().unwrap();
        let _cleanup = RemoveContainersOf(pid);
        screen.expect("# ");
        writer.write_all(b"echo up-$((40+2))\r").unwrap();
        screen.expect("up-42");
        assert_eq!(run_containers_of(pid).len(), 1, "{}", screen.seen);
        kill(signal, pid);
        let status = child.wait().unwrap();
        assert!(status.signal().is_some(), "{signal}: {status:?}");
        assert_eq!(
            run_containers_of(pid),
            Vec::<String>::new(),
            "{signal}: removed before exit"
        );
    }
}

/// SIGKILL: no code of biar-tui runs, and Docker keeps a TTY container whose client went away.
/// The watcher process removes it.
#[test]
fn sigkill_leaves_no_container() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("sigkill test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let InPty {
        mut child,
        mut screen,
        mut writer,
        master: _master,
    } = in_pty(home.path(), &["run", "--image", &image.reference]);
    let pid = child.process_id().unwrap();
    let _cleanup = RemoveContainersOf(pid);
    screen.expect("# ");
    writer.write_all(b"echo up-$((40+2))\r").unwrap();
    screen.expect("up-42");
    kill("-KILL", pid);
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run_containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still there after SIGKILL: {:?}",
            run_containers_of(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The fallback when the watcher died too: a container whose owner process is gone (here a
/// builder container never started, as a SIGKILL during its creation leaves it) is removed when
/// biar-tui next creates a container. A live owner's container is left alone.
#[test]
fn containers_of_dead_owners_are_swept_at_the_next_start() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("sweep test");
    let image = testimage::import(&img.rootfs);
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns
        .to_string_lossy()
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string();
    // A PID that is gone: a child that ran and was reaped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let my_start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let label = |pid: u32, start: &str| format!("biar.owner={}/{ns}/{pid}/{start}", boot.trim());
    let create = |name: &str, owner: String| {
        let out = std::process::Command::new("docker")
            .args(["create", "--name", name, "--label", "biar=builder"])
            .args(["--label", &owner, &image.reference, "true"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let stale = testimage::unique("biar-build-stale");
    let live = testimage::unique("biar-build-live");
    let remove = |names: &[&str]| {
        for n in names {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", n])
                .output();
        }
    };
    struct Cleanup<F: Fn()>(F);
    impl<F: Fn()> Drop for Cleanup<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _cleanup = Cleanup(|| remove(&[&stale, &live]));
    create(&stale, label(dead_pid, "1"));
    create(&live, label(std::process::id(), &my_start));

    let home = tempfile::tempdir().unwrap();
    common::biar(home.path())
        .current_dir(home.path())
        .args(["run", "--image", &image.reference, "--", "sh", "-c", ":"])
        .assert()
        .success();
    let exists = |name: &str| {
        std::process::Command::new("docker")
            .args(["inspect", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!exists(&stale), "the dead owner's container was swept");
    assert!(exists(&live), "a live owner's container is left alone");
}

/// `run -- CMD` where CMD does not exist (127) or is not executable (126), as a shell and the
/// docker CLI say.
#[test]
fn a_missing_or_unexecutable_command_exits_127_or_126() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("exec test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    common::biar(home.path())
        .current_dir(home.path())
        .args(["run", "--image", &image.reference, "--", "no-such-command"])
        .assert()
        .code(127)
        .stdout("")
        .stderr(predicate::str::contains("no-such-command"));
    common::biar(home.path())
        .current_dir(home.path())
        .args(["run", "--image", &image.reference, "--", "/hello.txt"])
        .assert()
        .code(126);
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
}

/// A minimal project (no Nix build needed with `--image`) in a folder named `name`.
fn minimal_project(parent: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("base.nix"), "{ pkgs }: [ ]\n").unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"baseConfig": "base.nix", "userConfig": []}"#,
    )
    .unwrap();
    dir
}

/// A `workdir` that is a symlink out of the project (a cloned repository's `workdir -> /`) is not
/// mounted: exit 2 naming it, no container made. A link inside the project is mounted.
#[test]
fn a_workdir_link_out_of_the_project_is_refused() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("workdir test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let secret_home = tempfile::tempdir().unwrap();
    std::fs::write(secret_home.path().join("secret"), "host secret\n").unwrap();
    for (n, target) in [
        std::path::PathBuf::from("/"),
        secret_home.path().to_path_buf(),
        std::path::PathBuf::from(".."),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = minimal_project(home.path(), &format!("p{n}"));
        std::os::unix::fs::symlink(&target, dir.join("workdir")).unwrap();
        common::biar(home.path())
            .args(["run", "--image", &image.reference, "--project"])
            .arg(&dir)
            .args(["--", "cat", "/home/user/workdir/secret"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                predicate::str::contains("workdir")
                    .and(predicate::str::contains("outside the project")),
            );
    }
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
    // Inside the project: followed and mounted.
    let dir = minimal_project(home.path(), "inside");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/note"), "inside note\n").unwrap();
    std::os::unix::fs::symlink("src", dir.join("workdir")).unwrap();
    common::biar(home.path())
        .args(["run", "--image", &image.reference, "--project"])
        .arg(&dir)
        .args(["--", "cat", "note"])
        .assert()
        .success()
        .stdout("inside note\n");
}

/// A project folder whose path holds `:` and `,` (meaningful in a bind string) mounts as any
/// other.
#[test]
fn a_project_path_with_a_colon_runs() {
    if !common::docker_available() {
        return;
    }
    let img = testimage::make("colon test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let dir = minimal_project(home.path(), "env:ro,z");
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(dir.join("workdir/note"), "colon note\n").unwrap();
    common::biar(home.path())
        .args(["run", "--image", &image.reference, "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "cat note && echo more > new"])
        .assert()
        .success()
        .stdout("colon note\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("workdir/new")).unwrap(),
        "more\n",
        "mounted read-write"
    );
}

/// config.json that is a folder is bad input (exit 2) for `run` and `build`, not a failure.
#[test]
fn a_config_json_folder_is_bad_input_for_run_and_build() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("p");
    std::fs::create_dir_all(dir.join("config.json")).unwrap();
    for args in [&["run", "--", "true"][..], &["build"][..]] {
        common::biar(home.path())
            .arg("--project")
            .arg(&dir)
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("config.json"));
    }
}
