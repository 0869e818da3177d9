//! Workspace profiles end to end (issue 15): images built with `image.profile`, checked through
//! the engine's own view (inspect, a container running the image).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{biar, docker_available, offline_project};

/// A unique no-op package, so each test's image is its own and can be removed; `extra` are more
/// package expressions (e.g. `pkgs.wget`, which a Coder image needs and `coreutils` lacks).
fn unique_user_nix(dir: &Path, extra: &str) {
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n  pkgs.hello\n  {extra}\n  (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }})\n]\n",
            common::testimage::unique("ws")
        ),
    )
    .unwrap();
}

/// Removes an image when dropped, so a failed assertion leaves nothing behind.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// Builds the offline example with `edit` applied to its config.json; the image's reference.
fn build(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, PathBuf, Image) {
    build_with(edit, "")
}

/// [`build`] with `extra` packages in user.nix.
fn build_with(
    edit: impl FnOnce(&mut serde_json::Value),
    extra: &str,
) -> (tempfile::TempDir, PathBuf, Image) {
    let (tmp, dir) = offline_project(edit);
    unique_user_nix(&dir, extra);
    let hash = biar(tmp.path())
        .args(["hash", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        hash.status.success(),
        "{}",
        String::from_utf8_lossy(&hash.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&hash.stdout).unwrap();
    let image = Image(format!(
        "{}:{}",
        v["name"].as_str().unwrap(),
        v["tag"].as_str().unwrap()
    ));
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, dir, image)
}

fn inspect(image: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config}}", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `argv` in a throwaway container of `image` (as the image's user); stdout.
fn run_in(image: &str, argv: &[&str]) -> String {
    run_in_with(image, &[], argv)
}

/// [`run_in`] with more `docker run` options.
fn run_in_with(image: &str, options: &[&str], argv: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none"])
        .args(options)
        .arg(image)
        .args(argv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_devcontainer_profile_image_has_its_user_ids_files_env_and_label() {
    if !docker_available() {
        return;
    }
    let (_tmp, _dir, image) = build(|c| {
        c["image"] = serde_json::json!({
            "profile": "devcontainer", "user": "dev", "workdir": "/home/dev/project",
            "uid": 4242, "gid": 4343
        });
    });
    let config = inspect(&image.0);
    assert_eq!(config["User"], "4242:4343", "{config}");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for want in [
        "HOME=/home/dev",
        "USER=dev",
        "LANG=C.UTF-8",
        "PATH=/bin:/usr/bin",
    ] {
        assert!(env.contains(&want), "{want}: {env:?}");
    }
    assert!(
        env.iter().any(|e| e.starts_with("SSL_CERT_FILE=")),
        "{env:?}"
    );
    let label = config["Labels"]["devcontainer.metadata"].as_str().unwrap();
    let meta: serde_json::Value = serde_json::from_str(label).unwrap();
    assert_eq!(meta[0]["remoteUser"], "dev", "{meta}");
    assert_eq!(meta[0]["updateRemoteUserUID"], true, "{meta}");
    assert_eq!(meta[0]["containerEnv"]["HOME"], "/home/dev", "{meta}");
    assert_eq!(config["Labels"]["biar.profile"], "devcontainer");

    // Inside: the user by name, its home its own, /tmp sticky, os-release, sh and env.
    let id = run_in(&image.0, &["id"]);
    assert!(
        id.contains("uid=4242(dev)") && id.contains("gid=4343(dev)"),
        "{id}"
    );
    let stat = run_in(
        &image.0,
        &[
            "stat",
            "-c",
            "%u:%g %a %n",
            "/home/dev",
            "/tmp",
            "/etc/os-release",
        ],
    );
    assert!(stat.contains("4242:4343 755 /home/dev"), "{stat}");
    assert!(stat.contains("0:0 1777 /tmp"), "{stat}");
    assert!(stat.contains("/etc/os-release"), "{stat}");
    let env_out = run_in(&image.0, &["/usr/bin/env"]);
    assert!(env_out.contains("LANG=C.UTF-8"), "{env_out}");
    run_in(
        &image.0,
        &[
            "/bin/sh",
            "-c",
            "touch $HOME/x && test -f /etc/ssl/certs/ca-certificates.crt",
        ],
    );

    dev_containers_style_run(&image.0, &meta);
}

/// Removes a container when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// Removes a volume when dropped (after the containers using it: declare it first).
struct Volume(String);

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `image` the way the Dev Containers tooling (`devcontainer up`) runs an image, everything
/// taken from the `devcontainer.metadata` label `meta`: the container as `containerUser` with
/// `containerEnv`, the workspace folder bind-mounted at `workspaceFolder`, the tooling's
/// keep-alive command as the entrypoint; then the tooling's `docker exec` as `remoteUser` in
/// the workspace folder. (With `updateRemoteUserUID` the tooling would give the user the host
/// user's uid; it skips that when the host user is root, so the folder here is made the image
/// user's, which is what that update achieves.)
fn dev_containers_style_run(image: &str, meta: &serde_json::Value) {
    // The tooling merges the array's entries in order; ours has one.
    let m = &meta[0];
    let container_user = m["containerUser"].as_str().unwrap();
    let remote_user = m["remoteUser"].as_str().unwrap();
    let folder = m["workspaceFolder"].as_str().unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("README"), "the workspace\n").unwrap();
    std::os::unix::fs::chown(host.path(), Some(4242), Some(4343)).unwrap();
    let name = common::testimage::unique("biar-test-devc");
    let _container = Container(name.clone());
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "-u",
        container_user,
        "--mount",
        &format!("type=bind,source={},target={folder}", host.path().display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, v) in m["containerEnv"].as_object().unwrap() {
        args.push("-e".into());
        args.push(format!("{k}={}", v.as_str().unwrap()));
    }
    args.extend(
        [
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "echo Container started; trap 'exit 0' 15; while sleep 1 & wait $!; do :; done",
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&args);
    let out = docker(&[
        "exec",
        "-u",
        remote_user,
        "-w",
        folder,
        &name,
        "sh",
        "-c",
        "id -un; id -u; pwd; echo \"$HOME $LANG\"; cat README; echo made > made.txt",
    ]);
    assert_eq!(
        out,
        format!("dev\n4242\n{folder}\n/home/dev C.UTF-8\nthe workspace\n"),
        "{out}"
    );
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(host.path().join("made.txt")).unwrap();
    assert_eq!((made.uid(), made.gid()), (4242, 4343));
}

/// A tiny HTTP server on loopback (one per test binary) standing in for the Coder server's
/// `/bin/coder-linux-<arch>`: it serves `AGENT` there and 404 elsewhere, and records the paths
/// asked for.
struct AgentServer {
    port: u16,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The "agent": proves it runs as the workspace user, in its home, and whether that home is a
/// mount (the volume). Coder's bootstrap runs it as `./coder agent`.
const AGENT: &str = "#!/bin/sh\n\
    m=no; grep -q \" $HOME \" /proc/self/mountinfo && m=yes\n\
    echo \"agent $1 as $(id -un) $(id -u):$(id -g) home=$HOME mounted=$m\" > \"$HOME/agent-marker\"\n";

fn agent_server() -> &'static AgentServer {
    use std::io::{BufRead, BufReader, Write};
    static SERVER: std::sync::OnceLock<AgentServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        let arch = coder_arch();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the request head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let mut stream = stream;
                let response = if path == format!("/bin/coder-linux-{arch}") {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{AGENT}",
                        AGENT.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        AgentServer { port, asked }
    })
}

/// Coder's name for this machine's architecture (`coder_provisioner.arch`).
fn coder_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "x86_64" => "amd64",
        other => other,
    }
}

/// The agent's init script as Coder renders it for a template (`coder_agent.init_script`),
/// following coder/coder `provisionersdk/scripts/bootstrap_linux.sh`: a temp folder, the agent
/// downloaded from `${ACCESS_URL}bin/coder-linux-${ARCH}` with curl, else wget, else busybox
/// wget, made executable and run as `coder agent` with the agent URL and auth in its
/// environment. Two departures keep a failing test from hanging: one download attempt instead
/// of retrying every 30 s, and no 24-hour sleep on exit.
fn coder_init_script(access_url: &str) -> String {
    r#"set -eux
BINARY_DIR=$(mktemp -d -t coder.XXXXXX)
BINARY_NAME=coder
BINARY_URL=${ACCESS_URL}bin/coder-linux-${ARCH}
cd "$BINARY_DIR"
if command -v curl >/dev/null 2>&1; then
	curl -fsSL --compressed "${BINARY_URL}" -o "${BINARY_NAME}"
elif command -v wget >/dev/null 2>&1; then
	wget -q "${BINARY_URL}" -O "${BINARY_NAME}"
elif command -v busybox >/dev/null 2>&1; then
	busybox wget -q "${BINARY_URL}" -O "${BINARY_NAME}"
else
	echo "error: no download tool found, please install curl, wget or busybox wget"
	exit 127
fi
if ! chmod +x $BINARY_NAME; then
	echo "Failed to make $BINARY_NAME executable"
	exit 1
fi
export CODER_AGENT_AUTH="${AUTH_TYPE}"
export CODER_AGENT_URL="${ACCESS_URL}"
exec ./$BINARY_NAME agent
"#
    // Coder substitutes these into the script text before the template gets it.
    .replace("${ACCESS_URL}", access_url)
    .replace("${AUTH_TYPE}", "token")
    .replace("${ARCH}", coder_arch())
}

#[test]
fn a_coder_profile_image_starts_as_coders_docker_template_runs_it() {
    if !docker_available() {
        return;
    }
    let (_tmp, _dir, image) = build_with(
        |c| c["image"] = serde_json::json!({"profile": "coder", "user": "coder"}),
        "pkgs.wget",
    );
    let server = agent_server();
    let script = coder_init_script(&format!("http://127.0.0.1:{}/", server.port));
    let volume = Volume(common::testimage::unique("biar-test-coder-home"));
    docker(&["volume", "create", &volume.0]);
    let home = format!("{}:/home/coder", volume.0);
    // As the exported main.tf runs it: the image's user by uid:gid, `sh -c <init script>` as
    // the entrypoint, the token in the environment, a volume at the home; on the host's network
    // (the template reaches its server through the host).
    let name = common::testimage::unique("biar-test-coder");
    let _container = Container(name.clone());
    let out = Command::new("docker")
        .args(["run", "--name", &name, "--network", "host", "--user"])
        .arg("1000:1000")
        .args(["-e", "CODER_AGENT_TOKEN=test-token", "-v", &home])
        .args(["--entrypoint", "sh", &image.0, "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the init script failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The bootstrap found wget (the image has no curl) and fetched the agent from our server.
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(trace.contains("+ wget -q "), "{trace}");
    assert!(server
        .asked
        .lock()
        .unwrap()
        .contains(&format!("/bin/coder-linux-{}", coder_arch())));
    // A second container of the image, with the same volume: the agent's marker is there.
    let marker = run_in_with(
        &image.0,
        &["-v", &home],
        &["cat", "/home/coder/agent-marker"],
    );
    assert_eq!(
        marker,
        "agent agent as coder 1000:1000 home=/home/coder mounted=yes\n"
    );
}

#[test]
fn the_plain_profile_keeps_the_image_name_of_a_project_without_one() {
    let (tmp, dir) = offline_project(|_| {});
    let (tmp2, dir2) =
        offline_project(|c| c["image"] = serde_json::json!({"profile": "plain", "uid": 1000}));
    let hash = |t: &Path, d: &Path| {
        let o = biar(t)
            .args(["hash", "--json", "--project"])
            .arg(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(hash(tmp.path(), &dir), hash(tmp2.path(), &dir2));
    let (tmp3, dir3) = offline_project(|c| c["image"] = serde_json::json!({"profile": "coder"}));
    assert_ne!(
        hash(tmp.path(), &dir)["name"],
        hash(tmp3.path(), &dir3)["name"]
    );
}

#[test]
fn an_unknown_profile_or_a_uid_that_is_not_a_number_exits_2_naming_the_key() {
    for (image, needle) in [
        (
            serde_json::json!({"profile": "codr"}),
            "image.profile \"codr\"",
        ),
        (
            serde_json::json!({"uid": "abc"}),
            "image.uid \"abc\" is not a number",
        ),
        (serde_json::json!({"gid": 0}), "image.gid 0"),
    ] {
        let (tmp, dir) = offline_project(|c| c["image"] = image.clone());
        let out = biar(tmp.path())
            .args(["hash", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{image}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("config.json:"),
            "{image}: {err}"
        );
    }
}

/// `doctor` on `args`; (exit code, stdout, stderr).
fn doctor(home: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = biar(home).arg("doctor").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check<'a>(report: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule} in {report}"))
}

#[test]
fn doctor_fails_the_plain_image_on_coder_rules_and_passes_a_coder_image() {
    if !docker_available() {
        return;
    }
    let (tmp, _dir, plain) = build(|_| {});
    let (code, out, err) = doctor(
        tmp.path(),
        &["--image", &plain.0, "--profile", "coder", "--json"],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["profile"], "coder");
    for rule in ["os-release", "environment"] {
        let c = check(&report, rule);
        assert_eq!(c["status"], "fail", "{c}");
        assert!(
            c["fix"]
                .as_str()
                .unwrap()
                .contains("\"profile\": \"coder\""),
            "{c}"
        );
    }
    assert!(check(&report, "environment")["why"]
        .as_str()
        .unwrap()
        .contains("LANG"));
    // coreutils has no wget (nixpkgs' shape): the doctor names the package to add.
    let c = check(&report, "downloader");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["fix"].as_str().unwrap().contains("curl"), "{c}");
    for rule in [
        "user",
        "passwd",
        "group",
        "home",
        "tmp",
        "sh",
        "env",
        "ca-certificates",
    ] {
        assert_eq!(check(&report, rule)["status"], "pass", "{rule}: {report}");
    }
    // The human form says what to add.
    let (code, out, _) = doctor(tmp.path(), &["--image", &plain.0, "--profile", "coder"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("FAIL  os-release") && out.contains("fix: set \"image\""),
        "{out}"
    );
    // As its own plain profile the image passes.
    let (code, out, err) = doctor(tmp.path(), &["--image", &plain.0]);
    assert_eq!(code, Some(0), "{out}{err}");

    let (tmp, dir, coder) = build_with(
        |c| c["image"] = serde_json::json!({"profile": "coder"}),
        "pkgs.wget",
    );
    let (code, out, err) = doctor(tmp.path(), &["--json", "--project", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["image"], coder.0.as_str());
    assert_eq!(report["profile"], "coder");
    assert!(check(&report, "downloader")["why"]
        .as_str()
        .unwrap()
        .contains("wget"));
    // Nothing of the doctor's is left behind.
    assert!(common::testimage::containers_of(&coder.0).is_empty());
}

#[test]
fn doctor_on_a_hand_made_image_without_etc_passwd_says_so() {
    if !docker_available() {
        return;
    }
    let made = common::testimage::make("no passwd here");
    let image = common::testimage::import(&made.rootfs);
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = doctor(home.path(), &["--image", &image.reference, "--json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = check(&report, "passwd");
    assert_eq!(c["status"], "fail");
    assert!(
        c["why"]
            .as_str()
            .unwrap()
            .contains("/etc/passwd is missing"),
        "{c}"
    );
    assert_eq!(check(&report, "user")["status"], "fail", "root: {report}");
    assert_eq!(check(&report, "sh")["status"], "pass", "{report}");
    assert!(common::testimage::containers_of(&image.reference).is_empty());
}

#[test]
fn doctor_exits_2_for_a_missing_image_or_an_unknown_profile() {
    if !docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = doctor(home.path(), &["--image", "biar-no-such-image-15:nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("biar-no-such-image-15:nope") && err.contains("no such image"),
        "{err}"
    );
    let (code, _, err) = doctor(home.path(), &["--image", "x:y", "--profile", "codr"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--profile \"codr\""), "{err}");
}

#[test]
fn export_writes_the_coder_template_and_devcontainer_json_and_never_overwrites() {
    let (tmp, dir) = offline_project(|c| {
        c["image"] = serde_json::json!({"profile": "coder", "user": "coder", "uid": 4242})
    });
    let hash = biar(tmp.path())
        .args(["hash", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&hash.stdout).unwrap();
    let reference = v["reference"].as_str().unwrap().to_string();
    let out = tmp.path().join("out");
    for platform in ["coder", "devcontainer"] {
        let o = biar(tmp.path())
            .args(["export", platform, "--out"])
            .arg(&out)
            .arg("--project")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let tf = std::fs::read_to_string(out.join("main.tf")).unwrap();
    assert!(tf.contains(&format!("image    = \"{reference}\"")), "{tf}");
    assert!(tf.contains("user = \"4242:1000\""), "{tf}");
    assert!(tf.contains("entrypoint = [\"sh\", \"-c\""), "{tf}");
    assert!(tf.contains("container_path = \"/home/coder\""), "{tf}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".devcontainer/devcontainer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["image"], reference.as_str());
    assert_eq!(json["remoteUser"], "coder");
    assert_eq!(json["updateRemoteUserUID"], true);
    assert_eq!(json["workspaceFolder"], "/home/user/workdir");

    // Again: both exist, exit 2, bytes unchanged.
    std::fs::write(out.join("main.tf"), "mine\n").unwrap();
    let before = common::snapshot_tree(&out);
    for platform in ["coder", "devcontainer"] {
        let o = biar(tmp.path())
            .args(["export", platform, "--out"])
            .arg(&out)
            .arg("--project")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    }
    assert_eq!(common::snapshot_tree(&out), before);
}
