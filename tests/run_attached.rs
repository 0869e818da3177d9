//! `biar-tui run` against the real Docker Engine, with an image imported in the test from a
//! busybox-static rootfs: piped stdin and exit codes in scripts, a real pseudo-terminal with
//! typing and a resize, and the faults (image missing, Docker gone).

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let img = testimage::make("tty test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();

    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("biar-tui");
    let mut cmd = CommandBuilder::new(bin);
    cmd.args(["run", "--image", &image.reference]);
    cmd.cwd(home.path());
    cmd.env("XDG_CACHE_HOME", home.path().join("cache"));
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    cmd.env("TERM", "xterm");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
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
    let mut screen = Screen {
        rx,
        seen: String::new(),
    };
    let mut writer = pair.master.take_writer().unwrap();

    // No CMD: the image's shell, interactive.
    screen.expect("# ");
    writer
        .write_all(b"stty size; echo typed-$((6*7))\r")
        .unwrap();
    screen.expect("typed-42");
    assert!(screen.seen.contains("30 100"), "{}", screen.seen);

    pair.master
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
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let img = testimage::make("detach test");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("biar-tui"));
    cmd.args(["run", "--image", &image.reference]);
    cmd.cwd(home.path());
    cmd.env("XDG_CACHE_HOME", home.path().join("cache"));
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    let mut child = pair.slave.spawn_command(cmd).unwrap();
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
    let mut screen = Screen {
        rx,
        seen: String::new(),
    };
    let mut writer = pair.master.take_writer().unwrap();
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
