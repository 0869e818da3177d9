//! Engines the docker CLI would reach, each a real transport in front of this machine's engine:
//! - `ssh://root@127.0.0.1:PORT` through Debian's sshd (its own config, host key and a key made
//!   for the test; root login for this sshd only), `docker system dial-stdio` on the far side;
//! - `tcp://127.0.0.1:PORT` with TLS through stunnel, which verifies the client certificate
//!   (certificates made with openssl);
//! - a context written by `docker context create` itself, chosen by `currentContext` or
//!   `DOCKER_CONTEXT`.
//!
//! Over each: `builder status` names the engine and how it was chosen, a build loads its image,
//! and `run -- hello` prints and exits with the command's code. Over SSH also: `workdir/` is a copy
//! (a change made here during the run is not seen, a file made in the container comes back), and
//! an attached TTY with a resize, and the TUI (tmux) building with `b` and running with `r`, its
//! status line saying `workdir/` came back. A run killed with SIGKILL leaves no container or
//! `workdir/` volume: the watcher removes them, or (watcher killed too) the next start's sweep,
//! which keeps a live run's volume and one a `biar.keeps` marker names. The servers start once per test process (a thread of their
//! own owns them; they die with the process).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use common::images::ImagesNamed;
use common::{docker_available, in_ci, offline_project, testimage};

/// The servers and the files the tests point biar-tui at.
struct Servers {
    /// sshd and stunnel: they die with this process (see [`servers`]).
    _children: Vec<std::process::Child>,
    dir: PathBuf,
    ssh_port: u16,
    tls_port: u16,
}

impl Servers {
    fn ssh_host(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.ssh_port)
    }

    fn tls_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tls_port)
    }

    /// `PATH` with the test's `ssh` first: the real ssh with the test's client config (the ssh
    /// client reads the passwd user's `~/.ssh/config`, which a test must not touch).
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The client's TLS material (`DOCKER_CERT_PATH`).
    fn certs(&self) -> PathBuf {
        self.dir.join("client")
    }

    /// A Docker config folder whose current context is the TLS endpoint, and which also has an
    /// `ssh` context, both made by `docker context create`.
    fn docker_config(&self) -> PathBuf {
        self.dir.join("docker-config")
    }
}

fn tools_available() -> bool {
    let missing: Vec<&str> = [
        "/usr/sbin/sshd",
        "/usr/bin/ssh",
        "/usr/bin/ssh-keygen",
        "/usr/bin/stunnel4",
        "/usr/bin/openssl",
    ]
    .into_iter()
    .filter(|p| !Path::new(p).exists())
    .collect();
    let docker_cli = Command::new("docker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if missing.is_empty() && docker_cli {
        return true;
    }
    let what = format!(
        "missing {missing:?}{} (Debian's openssh-server, stunnel4, openssl, docker.io)",
        if docker_cli {
            ""
        } else {
            " and the docker CLI"
        }
    );
    if in_ci() {
        panic!("CI=true and {what}");
    }
    eprintln!("skipped: {what}");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The servers of this process, started on first use; `None` (skip) without Docker or tools.
fn servers() -> Option<&'static Servers> {
    static SERVERS: OnceLock<Option<Servers>> = OnceLock::new();
    SERVERS
        .get_or_init(|| {
            if !docker_available() || !tools_available() {
                return None;
            }
            // A thread that lives as long as the process spawns the servers: they are asked to
            // die with that thread (PR_SET_PDEATHSIG), so with the process and never before.
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                tx.send(start_servers()).unwrap();
                loop {
                    std::thread::park();
                }
            });
            Some(rx.recv().unwrap())
        })
        .as_ref()
}

/// Removes the folders of earlier test processes that are gone (a static is never dropped).
fn sweep_old_dirs(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("biar-engines-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn spawn_server(cmd: &mut Command, log: &Path) -> std::process::Child {
    let log = std::fs::File::create(log).unwrap();
    // SAFETY: prctl only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_servers() -> Servers {
    let parent = std::env::temp_dir();
    sweep_old_dirs(&parent);
    let dir = parent.join(format!("biar-engines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let d = |p: &str| dir.join(p);

    // sshd: host key, a client key for root, its own config; root login for this sshd only.
    for key in ["host_key", "client_key"] {
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(d(key)),
        );
    }
    std::fs::copy(d("client_key.pub"), d("authorized_keys")).unwrap();
    let ssh_port = free_port();
    std::fs::write(
        d("sshd_config"),
        format!(
            "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
             AuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n",
            d("host_key").display(),
            d("sshd.pid").display(),
            d("authorized_keys").display()
        ),
    )
    .unwrap();
    // sshd needs its privilege separation folder (the system service makes it at start).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let sshd = spawn_server(
        Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(d("sshd_config")),
        &d("sshd.log"),
    );
    std::fs::write(
        d("ssh_config"),
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             StrictHostKeyChecking accept-new\n  BatchMode yes\n",
            d("client_key").display(),
            d("known_hosts").display()
        ),
    )
    .unwrap();
    let wrapper = d("bin/ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            d("ssh_config").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // Certificates: a CA, the server's for 127.0.0.1, a client's.
    let openssl = |args: &[&str]| {
        run_ok(Command::new("openssl").args(args).current_dir(&dir));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=biar-test-ca",
    ]);
    std::fs::write(
        d("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(d("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, cn) in [("server", "127.0.0.1"), ("client", "biar-test-client")] {
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{who}-key.pem"),
            "-out",
            &format!("{who}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            &format!("{who}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{who}.ext"),
        ]);
    }
    std::fs::create_dir_all(d("client")).unwrap();
    std::fs::copy(d("ca.pem"), d("client/ca.pem")).unwrap();
    std::fs::copy(d("client.pem"), d("client/cert.pem")).unwrap();
    std::fs::copy(d("client-key.pem"), d("client/key.pem")).unwrap();

    // stunnel: TLS on a loopback port in front of the engine's socket, client certificates
    // required and checked against the CA.
    let tls_port = free_port();
    std::fs::write(
        d("stunnel.conf"),
        format!(
            "foreground = yes\npid =\n[docker]\naccept = 127.0.0.1:{tls_port}\n\
             connect = /var/run/docker.sock\ncert = {}\nkey = {}\nCAfile = {}\n\
             verifyChain = yes\nrequireCert = yes\n",
            d("server.pem").display(),
            d("server-key.pem").display(),
            d("ca.pem").display()
        ),
    )
    .unwrap();
    let stunnel = spawn_server(
        Command::new("/usr/bin/stunnel4").arg(d("stunnel.conf")),
        &d("stunnel.log"),
    );
    wait_for_port(ssh_port, &d("sshd.log"));
    wait_for_port(tls_port, &d("stunnel.log"));

    // Contexts, written by the docker CLI itself.
    let config = d("docker-config");
    let context = |args: &[&str]| {
        run_ok(
            Command::new("docker")
                .env("DOCKER_CONFIG", &config)
                .env_remove("DOCKER_HOST")
                .env_remove("DOCKER_CONTEXT")
                .arg("context")
                .args(args),
        );
    };
    context(&[
        "create",
        "biar-test-tls",
        "--docker",
        &format!(
            "host=tcp://127.0.0.1:{tls_port},ca={},cert={},key={}",
            d("client/ca.pem").display(),
            d("client/cert.pem").display(),
            d("client/key.pem").display()
        ),
    ]);
    context(&[
        "create",
        "biar-test-ssh",
        "--docker",
        &format!("host=ssh://root@127.0.0.1:{ssh_port}"),
    ]);
    context(&["use", "biar-test-tls"]);

    Servers {
        _children: vec![sshd, stunnel],
        dir,
        ssh_port,
        tls_port,
    }
}

/// The engine a command reaches: environment variables on top of the test's.
#[derive(Clone)]
struct Via(Vec<(&'static str, String)>);

impl Via {
    fn ssh(s: &Servers) -> Via {
        Via(vec![("DOCKER_HOST", s.ssh_host()), ("PATH", s.path())])
    }

    fn tls(s: &Servers) -> Via {
        Via(vec![
            ("DOCKER_HOST", s.tls_host()),
            ("DOCKER_TLS_VERIFY", "1".into()),
            ("DOCKER_CERT_PATH", s.certs().display().to_string()),
        ])
    }

    /// The Docker config's `currentContext` (the TLS context).
    fn current_context(s: &Servers) -> Via {
        Via(vec![(
            "DOCKER_CONFIG",
            s.docker_config().display().to_string(),
        )])
    }

    fn ssh_context(s: &Servers) -> Via {
        Via(vec![
            ("DOCKER_CONFIG", s.docker_config().display().to_string()),
            ("DOCKER_CONTEXT", "biar-test-ssh".into()),
            ("PATH", s.path()),
        ])
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        for (k, v) in &self.0 {
            cmd.env(k, v);
        }
    }
}

fn biar_via(home: &Path, via: &Via) -> Command {
    let mut cmd = common::biar_std(home);
    via.apply(&mut cmd);
    cmd
}

/// `builder status` over `via` says the engine and the reason; build + `run -- hello` work.
fn build_and_run_hello(via: &Via, expect_engine: &str, expect_chosen: &str, tag: &str) {
    let home = tempfile::tempdir().unwrap();
    let out = biar_via(home.path(), via)
        .args(["builder", "status"])
        .current_dir(home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("engine:  {expect_engine}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("chosen by {expect_chosen}")),
        "{stdout}"
    );

    let prefix = format!("biar-test-engines-{tag}-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let out = biar_via(tmp.path(), via)
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains(&format!("loaded {prefix}")),
        "{stdout}{stderr}"
    );
    let out = biar_via(tmp.path(), via)
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "hello; exit 3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, world!\n",
        "{stderr}"
    );
}

#[test]
fn ssh_engine_builds_and_runs() {
    let Some(s) = servers() else { return };
    build_and_run_hello(&Via::ssh(s), &s.ssh_host(), "DOCKER_HOST", "ssh");
}

#[test]
fn tls_engine_with_a_client_certificate_builds_and_runs() {
    let Some(s) = servers() else { return };
    build_and_run_hello(&Via::tls(s), &s.tls_host(), "DOCKER_HOST", "tls");
}

#[test]
fn a_context_made_by_docker_context_create_builds_and_runs() {
    let Some(s) = servers() else { return };
    let config = s.docker_config().join("config.json");
    build_and_run_hello(
        &Via::current_context(s),
        &s.tls_host(),
        &format!("currentContext \"biar-test-tls\" in {}", config.display()),
        "ctx",
    );
    // DOCKER_CONTEXT wins over currentContext.
    let home = tempfile::tempdir().unwrap();
    let out = biar_via(home.path(), &Via::ssh_context(s))
        .args(["builder", "status"])
        .current_dir(home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("engine:  {}", s.ssh_host())),
        "{stdout}"
    );
    assert!(
        stdout.contains("chosen by DOCKER_CONTEXT=biar-test-ssh"),
        "{stdout}"
    );
}

#[test]
fn the_tls_endpoint_refuses_a_client_without_a_certificate() {
    let Some(s) = servers() else { return };
    // Only the CA: the engine's certificate is checked, but the proxy wants ours.
    let home = tempfile::tempdir().unwrap();
    let certs = home.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(s.certs().join("ca.pem"), certs.join("ca.pem")).unwrap();
    let mut via = Via::tls(s);
    via.0[2].1 = certs.display().to_string();
    let out = biar_via(home.path(), &via)
        .args(["builder", "status"])
        .current_dir(home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach the Docker Engine"),
        "{stderr}"
    );
    assert!(stderr.contains(&s.tls_host()), "{stderr}");
}

#[test]
fn bad_engine_input_exits_2_naming_the_value() {
    let home = tempfile::tempdir().unwrap();
    let garbage = home.path().join("certs");
    std::fs::create_dir_all(&garbage).unwrap();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(garbage.join(f), "not a certificate\n").unwrap();
    }
    let cases: Vec<(Vec<(&str, String)>, String)> = vec![
        (
            vec![("DOCKER_HOST", "tcp//nope".into())],
            "DOCKER_HOST=tcp//nope".into(),
        ),
        (
            vec![("DOCKER_HOST", "ssh://h:99999".into())],
            "ssh://h:99999".into(),
        ),
        (vec![("DOCKER_HOST", "ftp://h".into())], "ftp://h".into()),
        (
            vec![
                ("DOCKER_CONFIG", home.path().display().to_string()),
                ("DOCKER_CONTEXT", "no-such-context".into()),
            ],
            "DOCKER_CONTEXT=no-such-context".into(),
        ),
        (
            vec![
                ("DOCKER_HOST", "tcp://127.0.0.1:1".into()),
                ("DOCKER_TLS_VERIFY", "1".into()),
                ("DOCKER_CERT_PATH", garbage.display().to_string()),
            ],
            garbage.join("ca.pem").display().to_string(),
        ),
        (
            vec![
                ("DOCKER_HOST", "tcp://127.0.0.1:1".into()),
                ("DOCKER_TLS_VERIFY", "1".into()),
                (
                    "DOCKER_CERT_PATH",
                    home.path().join("missing").display().to_string(),
                ),
            ],
            home.path().join("missing/ca.pem").display().to_string(),
        ),
    ];
    for (env, named) in cases {
        let mut cmd = biar_via(home.path(), &Via(Vec::new()));
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["builder", "status"])
            .current_dir(home.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(&named), "{env:?}: {stderr}");
    }
    // A current context that does not exist (the config names it).
    std::fs::write(
        home.path().join("config.json"),
        r#"{"currentContext":"gone"}"#,
    )
    .unwrap();
    let out = biar_via(
        home.path(),
        &Via(vec![("DOCKER_CONFIG", home.path().display().to_string())]),
    )
    .args(["builder", "status"])
    .current_dir(home.path())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("context \"gone\""), "{stderr}");
}

#[test]
fn over_ssh_workdir_is_a_copy_that_comes_back() {
    let Some(s) = servers() else { return };
    let via = Via::ssh(s);
    let prefix = format!("biar-test-engines-wd-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    let workdir = dir.join("workdir");
    std::fs::create_dir_all(workdir.join("sub")).unwrap();
    std::fs::write(workdir.join("note.txt"), "before\n").unwrap();
    std::fs::write(workdir.join("sub/old.txt"), "old\n").unwrap();
    // The container shows the note, says it is ready, waits for a line, shows the note again,
    // then writes a file and deletes one.
    let script = "cat note.txt; echo ready; read line; cat note.txt; echo made-inside > made.txt; \
                  rm sub/old.txt; exit 4";
    let mut child = biar_via(tmp.path(), &via)
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!(
                "the run ended before it was ready: {seen}{}",
                err_thread.join().unwrap()
            );
        }
        seen.push_str(&line);
        if line == "ready\n" {
            break;
        }
    }
    // Changed here while the container runs: a copy does not see it.
    std::fs::write(workdir.join("note.txt"), "changed on the host\n").unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    seen.push_str(&rest);
    let status = child.wait().unwrap();
    let stderr = err_thread.join().unwrap();
    assert_eq!(status.code(), Some(4), "{seen}{stderr}");
    assert_eq!(seen, "before\nready\nbefore\n", "{stderr}");
    assert!(
        stderr.contains("workdir/ is copied to the engine at ssh://"),
        "{stderr}"
    );
    assert!(stderr.contains("copied back"), "{stderr}");
    // The host's change stays (the container did not touch the file), the container's file is
    // here, the file it deleted is gone.
    assert_eq!(
        std::fs::read_to_string(workdir.join("note.txt")).unwrap(),
        "changed on the host\n"
    );
    assert_eq!(
        std::fs::read_to_string(workdir.join("made.txt")).unwrap(),
        "made-inside\n"
    );
    assert!(!workdir.join("sub/old.txt").exists());
    // The volume of the copy is gone with the container.
    let volumes = run_ok(Command::new("docker").args([
        "volume",
        "ls",
        "-q",
        "--filter",
        "label=biar=workdir",
    ]));
    let pid = child.id();
    assert!(
        !volumes
            .lines()
            .any(|v| v.starts_with(&format!("biar-run-{pid}-"))),
        "{volumes}"
    );
}

#[test]
fn over_ssh_a_tty_resizes_and_gives_the_exit_code() {
    let Some(s) = servers() else { return };
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let img = testimage::make("tty over ssh");
    let image = testimage::import(&img.rootfs);
    let home = tempfile::tempdir().unwrap();
    let size = |rows, cols| PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    };
    let pair = native_pty_system().openpty(size(30, 100)).unwrap();
    let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("biar-tui"));
    cmd.args(["run", "--image", &image.reference]);
    cmd.cwd(home.path());
    cmd.env("XDG_CACHE_HOME", home.path().join("cache"));
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    cmd.env("TERM", "xterm");
    for (k, v) in &Via::ssh(s).0 {
        cmd.env(k, v);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let expect = |what: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !seen.contains(what) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("never saw {what:?}:\n{seen}"),
            }
        }
    };
    let mut writer = pair.master.take_writer().unwrap();
    expect("# ", &mut seen);
    writer
        .write_all(b"stty size; echo typed-$((6*7))\r")
        .unwrap();
    expect("typed-42", &mut seen);
    assert!(seen.contains("30 100"), "{seen}");
    pair.master.resize(size(20, 80)).unwrap();
    // SIGWINCH reaches biar-tui, which resizes the container's TTY over SSH; ask until it shows.
    for attempt in 0.. {
        writer
            .write_all(format!("echo size$(({attempt}))=$(stty size)\r").as_bytes())
            .unwrap();
        expect(&format!("size{attempt}="), &mut seen);
        if seen.contains("=20 80") {
            break;
        }
        assert!(attempt < 100, "no resize seen:\n{seen}");
    }
    writer.write_all(b"exit 5\r").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 5, "{seen}");
    assert_eq!(
        testimage::containers_of(&image.reference),
        Vec::<String>::new()
    );
}

/// Podman's Docker-compatible API (`podman system service`, rootful) on a socket of this test,
/// with a builder image and store volume of its own, removed at the end.
struct Podman {
    socket: PathBuf,
    _child: std::process::Child,
}

fn podman() -> Option<&'static Podman> {
    static PODMAN: OnceLock<Option<Podman>> = OnceLock::new();
    PODMAN
        .get_or_init(|| {
            if !Path::new("/usr/bin/podman").exists() {
                if in_ci() {
                    panic!("CI=true and podman is missing (Debian's podman)");
                }
                eprintln!("skipped: podman is not installed");
                return None;
            }
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let dir = std::env::temp_dir().join(format!("biar-engines-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                // Podman asks for more open files and processes than this machine's hard limits
                // allow; the containers get these instead.
                let conf = dir.join("containers.conf");
                std::fs::write(
                    &conf,
                    "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n",
                )
                .unwrap();
                let socket = dir.join("podman.sock");
                let child = spawn_server(
                    Command::new("/usr/bin/podman")
                        .env("CONTAINERS_CONF", &conf)
                        .args(["system", "service", "--time=0"])
                        .arg(format!("unix://{}", socket.display())),
                    &dir.join("podman.log"),
                );
                let deadline = Instant::now() + Duration::from_secs(30);
                while std::os::unix::net::UnixStream::connect(&socket).is_err() {
                    assert!(Instant::now() < deadline, "podman's socket never appeared");
                    std::thread::sleep(Duration::from_millis(50));
                }
                tx.send(Podman {
                    socket,
                    _child: child,
                })
                .unwrap();
                loop {
                    std::thread::park();
                }
            });
            Some(rx.recv().unwrap())
        })
        .as_ref()
}

/// Removes, on drop, what a Podman test made in Podman's storage.
struct PodmanCleanup {
    prefix: String,
    builder: String,
    volume: String,
}

impl Drop for PodmanCleanup {
    fn drop(&mut self) {
        let podman = || {
            let mut c = Command::new("podman");
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c
        };
        if let Ok(out) = Command::new("podman")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
        {
            for image in String::from_utf8_lossy(&out.stdout).lines() {
                // Podman names local images `localhost/…`, imported ones `docker.io/library/…`.
                let name = image
                    .trim_start_matches("localhost/")
                    .trim_start_matches("docker.io/library/");
                if name.starts_with(&self.prefix) || name == self.builder {
                    let _ = podman().args(["rmi", "-f", image]).status();
                }
            }
        }
        let _ = podman().args(["volume", "rm", "-f", &self.volume]).status();
        let _ = podman().args(["image", "prune", "-f"]).status();
    }
}

#[test]
fn podman_makes_the_builder_builds_loads_and_runs() {
    if !docker_available() {
        return;
    }
    let Some(p) = podman() else { return };
    let pid = std::process::id();
    let prefix = format!("biar-test-engines-podman-{pid}-");
    let builder = format!("biar-builder-podman-test-{pid}:latest");
    let volume = format!("biar-nix-store-podman-test-{pid}");
    let _cleanup = PodmanCleanup {
        prefix: prefix.clone(),
        builder: builder.clone(),
        volume: volume.clone(),
    };
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
        config["builder"]["image"] = builder.clone().into();
        config["builder"]["storeVolume"] = volume.clone().into();
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(dir.join("workdir/note.txt"), "mounted\n").unwrap();
    let via = Via(vec![(
        "DOCKER_HOST",
        format!("unix://{}", p.socket.display()),
    )]);
    let step = |args: &[&str]| {
        let out = biar_via(tmp.path(), &via)
            .args(args)
            .arg("--project")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = step(&["builder", "create", "--offline"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = step(&["builder", "status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Podman Engine"), "{out}");
    assert!(out.contains("(local unix socket)"), "{out}");
    let (code, out, err) = step(&["build"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!("loaded {prefix}")),
        "{out}{err}"
    );
    // A local socket: workdir/ is mounted, not copied.
    let out = biar_via(tmp.path(), &via)
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "cat note.txt; hello; exit 6"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, out, err) = (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(code, Some(6), "{out}{err}");
    assert_eq!(out, "mounted\nHello, world!\n", "{err}");
    assert!(!err.contains("copied"), "{err}");
}

/// Removes, on drop, a builder image and store volume of the local engine.
struct BuilderCleanup(String, String);

impl Drop for BuilderCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.1])
            .output();
    }
}

#[test]
fn over_ssh_builder_create_makes_a_builder_that_builds_from_scratch() {
    let Some(s) = servers() else { return };
    let via = Via::ssh(s);
    let pid = std::process::id();
    let builder = format!("biar-builder-engines-ssh-{pid}:latest");
    let volume = format!("biar-nix-store-engines-ssh-{pid}");
    let _builder = BuilderCleanup(builder.clone(), volume.clone());
    let prefix = format!("biar-test-engines-fresh-{pid}-");
    let _images = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
        config["builder"]["image"] = builder.clone().into();
        config["builder"]["storeVolume"] = volume.clone().into();
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let out = biar_via(tmp.path(), &via)
        .args(["builder", "create", "--offline", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("builder image {builder}: created")),
        "{text}"
    );
    assert!(
        text.contains(&format!("store volume {volume}: created")),
        "{text}"
    );
    // A fresh store: every derivation is built over SSH, the progress shown as it happens.
    let out = biar_via(tmp.path(), &via)
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("derivations built"), "{text}");
    assert!(!text.contains(" 0/"), "nothing was built: {text}");
    assert!(text.contains(&format!("loaded {prefix}")), "{text}");
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The TUI over SSH: `b` builds in the live build view, `r` runs a shell whose file written in
/// `workdir/` comes back to the host when it exits, and the status line says so.
#[test]
fn over_ssh_the_tui_builds_runs_and_copies_workdir_back() {
    let Some(s) = servers() else { return };
    use common::tmux::Tmux;
    let prefix = format!("biar-test-engines-tui-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(dir.join("user.nix"), "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    let workdir = dir.join("workdir");
    std::fs::create_dir_all(&workdir).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let exit_file = tmp.path().join("exit-code");
    let mut env = String::from("env -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH");
    for (k, v) in &Via::ssh(s).0 {
        env.push_str(&format!(" {k}={}", shell_quote(v)));
    }
    let command = format!(
        "{env} XDG_CACHE_HOME={cache} XDG_CONFIG_HOME={config} TERM=xterm-256color {bin} \
         --project {dir}; echo $? > {exit}; sleep 60",
        cache = shell_quote(&home.join("cache").display().to_string()),
        config = shell_quote(&home.join("config").display().to_string()),
        bin = shell_quote(
            &assert_cmd::cargo::cargo_bin("biar-tui")
                .display()
                .to_string()
        ),
        dir = shell_quote(&dir.display().to_string()),
        exit = shell_quote(&exit_file.display().to_string()),
    );
    let name = format!("biar-test-engines-tui-{}", std::process::id());
    let tmux = Tmux::start(&name, 160, 32, &command);
    tmux.wait("the TUI", Duration::from_secs(60), |s| {
        s.contains("Presets")
    });
    tmux.key("b");
    let screen = tmux.wait("the build done", Duration::from_secs(600), |s| {
        s.contains("✓") || s.contains("✗ failed")
    });
    assert!(!screen.contains("✗ failed"), "{screen}");
    tmux.wait("the build loaded", Duration::from_secs(60), |s| {
        s.contains("built: local")
    });
    // Out of the build view.
    tmux.key("Escape");
    tmux.wait(
        "the TUI with the image built",
        Duration::from_secs(60),
        |s| s.contains("Presets") && s.contains("built: local"),
    );
    tmux.key("r");
    tmux.wait(
        "the container's shell prompt",
        Duration::from_secs(120),
        |s| {
            !s.contains("Presets")
                && s.lines()
                    .any(|l| l.trim_end().ends_with('$') || l.trim_end().ends_with('#'))
        },
    );
    tmux.type_text("echo made-in-the-tui > from-tui.txt; exit");
    tmux.key("Enter");
    let back = tmux.wait("the TUI back after exit", Duration::from_secs(120), |s| {
        s.contains("Presets") && s.contains("copied back")
    });
    assert!(
        back.contains("workdir/: copied back from the engine: 1 changed or new, 0 deleted"),
        "{back}"
    );
    assert_eq!(
        std::fs::read_to_string(workdir.join("from-tui.txt")).unwrap(),
        "made-in-the-tui\n",
        "{back}"
    );
    tmux.key("q");
    let start = Instant::now();
    while !exit_file.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&exit_file).unwrap_or_default();
    assert_eq!(
        code.trim(),
        "0",
        "the TUI exited cleanly:\n{}",
        tmux.screen()
    );
}

/// The direct children of `pid` whose command line holds `needle`.
fn children_running(pid: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(needle) {
                found.push(child);
            }
        }
    }
    found
}

/// Names of the engine's `kind` (`volume` or `container`) objects starting with `prefix`.
fn engine_objects(kind: &str, prefix: &str) -> Vec<String> {
    let mut cmd = Command::new("docker");
    match kind {
        "volume" => cmd.args(["volume", "ls", "--format", "{{.Name}}"]),
        _ => cmd.args(["ps", "-a", "--format", "{{.Names}}"]),
    };
    run_ok(&mut cmd)
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Removes the volumes and containers named `PREFIX…` at the end, even when the test fails.
struct RemoveObjects(String);

impl Drop for RemoveObjects {
    fn drop(&mut self) {
        for c in engine_objects("container", &self.0) {
            let _ = Command::new("docker").args(["rm", "-f", &c]).output();
        }
        for v in engine_objects("volume", &self.0) {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", &v])
                .output();
        }
    }
}

/// Starts `biar-tui run` over SSH on `dir` with a command that says `ready` (after `workdir/` is
/// in the volume) and sleeps; returns it once ready, with its `biar-run-PID-` name prefix.
fn start_a_long_run(via: &Via, home: &Path, dir: &Path) -> (std::process::Child, String) {
    let mut child = biar_via(home, via)
        .args(["run", "--project"])
        .arg(dir)
        .args(["--", "sh", "-c", "echo ready; sleep 600"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let prefix = format!("biar-run-{}-", child.id());
    (child, prefix)
}

/// Waits (polling the engine) until `what` holds; panics after a generous while.
fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(120), "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A run over SSH killed with SIGKILL leaves its container and its copy of `workdir/` (a volume
/// labelled with its owner) behind: the watcher removes both at once; with the watcher killed too,
/// the next start over the same engine sweeps them and says which volume it removed. A live run's
/// volume is never swept.
#[test]
fn over_ssh_a_killed_runs_workdir_volume_is_removed() {
    let Some(s) = servers() else { return };
    let via = Via::ssh(s);
    let prefix = format!("biar-test-engines-kill-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(dir.join("workdir/note.txt"), "note\n").unwrap();
    let out = biar_via(tmp.path(), &via)
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGKILL, the watcher alive: it removes the container and the volume.
    let (mut child, run) = start_a_long_run(&via, tmp.path(), &dir);
    let _objects = RemoveObjects(run.clone());
    assert_eq!(engine_objects("volume", &run).len(), 1);
    let volume = engine_objects("volume", &run).remove(0);
    let labels = run_ok(Command::new("docker").args([
        "volume",
        "inspect",
        "--format",
        "{{json .Labels}}",
        &volume,
    ]));
    assert!(labels.contains("\"biar.owner\""), "{labels}");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the watcher removed the container and the volume", || {
        engine_objects("container", &run).is_empty() && engine_objects("volume", &run).is_empty()
    });

    // SIGKILL to the watcher, then to the run: both stay until the next start sweeps them.
    let (mut child, run) = start_a_long_run(&via, tmp.path(), &dir);
    let _objects = RemoveObjects(run.clone());
    let watchers = children_running(child.id(), "__watch-containers");
    assert_eq!(watchers.len(), 1, "one watcher");
    // SAFETY: kill(2) on a PID we found as our child's child.
    unsafe { libc::kill(watchers[0] as i32, libc::SIGKILL) };
    child.kill().unwrap();
    child.wait().unwrap();
    // Left behind, unless a build or run of another test on this machine swept them already.
    let volumes = engine_objects("volume", &run);
    assert!(volumes.len() <= 1);

    // The next start sweeps them and says so.
    let next_run = || {
        let out = biar_via(tmp.path(), &via)
            .args(["run", "--project"])
            .arg(&dir)
            .args(["--", "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = next_run();
    assert!(engine_objects("volume", &run).is_empty(), "{stderr}");
    assert!(engine_objects("container", &run).is_empty(), "{stderr}");
    // (What the sweep says is checked where no other test can sweep first, below.)
    let _ = volumes;

    // A live run's volume stays through another start's sweep.
    let (mut live, live_run) = start_a_long_run(&via, tmp.path(), &dir);
    let _live_objects = RemoveObjects(live_run.clone());
    let stderr = next_run();
    assert_eq!(engine_objects("volume", &live_run).len(), 1, "{stderr}");
    assert_eq!(engine_objects("container", &live_run).len(), 1, "{stderr}");
    assert!(
        !stderr.contains(&format!("removed volume {live_run}")),
        "{stderr}"
    );
    live.kill().unwrap();
    live.wait().unwrap();
    wait_until("the live run's watcher cleaned up", || {
        engine_objects("volume", &live_run).is_empty()
            && engine_objects("container", &live_run).is_empty()
    });
}

/// Makes, inside a PID namespace of its own (so no other test's sweep can take them: a sweep
/// only touches owners of its own namespace), volumes `$1` and `$2` whose owner (a `sleep` of
/// that namespace) has ended, then runs the rest of the arguments there.
const IN_OWN_PID_NAMESPACE: &str = r#"
sleep 60 & p=$!
start=$(cut -d' ' -f22 "/proc/$p/stat")
kill "$p"; wait "$p"
ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
owner="biar.owner=$(cat /proc/sys/kernel/random/boot_id)/$ns/$p/$start"
for v in "$1" "$2"; do
  docker volume create --label biar=workdir --label "$owner" "$v" >/dev/null || exit 90
done
shift 2
"$@"
"#;

/// The sweep leaves a volume whose owner is gone when a marker volume (`biar.keeps`, made when
/// copying back failed) names it, removes one that no marker names, and says so.
#[test]
fn over_ssh_the_sweep_keeps_a_volume_a_marker_names() {
    let Some(s) = servers() else { return };
    let prefix = format!("biar-test-engines-keep-{}-", std::process::id());
    let _objects = RemoveObjects(prefix.clone());
    let img = testimage::make("sweep");
    let image = testimage::import(&img.rootfs);
    let kept = format!("{prefix}kept-workdir");
    let orphan = format!("{prefix}orphan-workdir");
    // The marker first, as `keep_volume` makes it for a volume that exists already.
    run_ok(Command::new("docker").args([
        "volume",
        "create",
        "--label",
        &format!("biar.keeps={kept}"),
        &format!("{kept}-kept"),
    ]));
    let home = tempfile::tempdir().unwrap();
    let biar = biar_via(home.path(), &Via::ssh(s));
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
        IN_OWN_PID_NAMESPACE,
        "sh",
    ])
    .args([&kept, &orphan])
    .arg(biar.get_program())
    .args(["run", "--image", &image.reference, "--", "sh", "-c", ":"])
    .envs(biar.get_envs().filter_map(|(k, v)| Some((k, v?))))
    .current_dir(home.path())
    .stdin(Stdio::null());
    for (k, v) in biar.get_envs() {
        if v.is_none() {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let left = engine_objects("volume", &prefix);
    assert_eq!(left, vec![kept.clone(), format!("{kept}-kept")], "{stderr}");
    assert!(
        stderr.contains(&format!("removed volume {orphan} on ssh://")),
        "{stderr}"
    );
}
