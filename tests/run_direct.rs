//! `biar-tui run` of the project's own environment runs it from the store volume, with no image
//! of it (`run::direct`): the same environment the image gives (the same checks run in both and
//! compared), a Nix build and nothing else after an edit, no evaluation at all when nothing
//! changed, and the image path when running from the store cannot work.

mod common;

use common::children::salt;
use common::images::ImagesNamed;
use common::{biar, docker_available, offline_project};

/// What a user could notice of an environment, as text: who runs, the environment variables,
/// the working directory and workdir/, the root files, exactly which store paths are visible,
/// where `/bin` leads, and that `/nix` refuses writes.
const CHECKS: &str = r#"
id; id -un; echo "$PATH|$HOME|$USER|$SSL_CERT_FILE|$NIX_SSL_CERT_FILE"
env | grep -v '^HOSTNAME=' | sort
pwd; cat note.txt
ls -a / | sort | tr '\n' ' '; echo
ls /nix/store | sort
for f in /bin /usr/bin /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-bundle.crt; do echo "$f -> $(readlink $f)"; done
readlink /bin/hello; readlink /bin/sh
ls -lnd /tmp /home /home/user /home/user/workdir /root /var/empty /nix /nix/store /etc /etc/passwd /etc/group | awk '{print $1, $3, $4, $NF}'
cat /etc/passwd /etc/group
p=$(ls /nix/store | head -n 1)
touch /nix/x 2>/dev/null && echo wrote-nix || echo nix-refused
touch /nix/store/x 2>/dev/null && echo wrote-store || echo store-refused
touch "/nix/store/$p/x" 2>/dev/null && echo wrote-path || echo path-refused
echo written > made.txt && cat made.txt && rm made.txt
cd ~ && touch .history && echo home-writable
"#;

fn project(prefix: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
    });
    std::fs::write(
        dir.join("user.nix"),
        format!(
            "{{ pkgs }}:\n[\n  pkgs.hello\n  (pkgs.sleeper {{ seconds = 0; salt = \"{}\"; }})\n]\n",
            salt()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(dir.join("workdir/note.txt"), "a note from the host\n").unwrap();
    // The image's user owns it (tests often run as root): the run is as that user.
    std::os::unix::fs::chown(dir.join("workdir"), Some(1000), Some(1000)).unwrap();
    (tmp, dir)
}

fn run(
    home: &std::path::Path,
    dir: &std::path::Path,
    extra: &[&str],
    cmd: &[&str],
) -> (String, String) {
    let out = biar(home)
        .args(["run", "--timings", "--project"])
        .arg(dir)
        .args(extra)
        .arg("--")
        .args(cmd)
        .assert()
        .success();
    (
        String::from_utf8_lossy(&out.get_output().stdout).to_string(),
        String::from_utf8_lossy(&out.get_output().stderr).to_string(),
    )
}

fn image_exists(reference: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .unwrap()
        .status
        .success()
}

fn reference(home: &std::path::Path, dir: &std::path::Path) -> String {
    let out = biar(home)
        .args(["hash", "--json", "--project"])
        .arg(dir)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["reference"].as_str().unwrap().to_string()
}

#[test]
fn the_environment_from_the_store_is_the_image_environment() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-rundirect-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = project(&prefix);
    let reference = reference(tmp.path(), &dir);

    // From the store volume: built by Nix, no image made.
    let (direct, stderr) = run(tmp.path(), &dir, &[], &["sh", "-c", CHECKS]);
    assert!(stderr.contains(r#""path":"direct""#), "{stderr}");
    assert!(!stderr.contains("loaded"), "{stderr}");
    assert!(!image_exists(&reference), "an image was made");
    // The same configuration again: nothing evaluated.
    let (again, stderr) = run(tmp.path(), &dir, &[], &["sh", "-c", CHECKS]);
    assert_eq!(again, direct);
    assert!(!stderr.contains("evaluate"), "{stderr}");
    assert!(!stderr.contains("build_start"), "{stderr}");
    // Without the view of the closure (made by the build, gone here): one bind per store path,
    // the same environment.
    let env = direct
        .lines()
        .find(|l| l.starts_with("/bin -> "))
        .unwrap()
        .trim_start_matches("/bin -> /nix/store/");
    let (builder, volume) = common::builder_of(&dir);
    let removed = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "-v",
            &format!("{volume}:/nix"),
            &builder,
            "sh",
            "-c",
        ])
        .arg(format!(
            "chmod -R u+w /nix/var/biar/views/{0} && rm -rf /nix/var/biar/views/{0}",
            &env[..32]
        ))
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    let (paths, stderr) = run(tmp.path(), &dir, &[], &["sh", "-c", CHECKS]);
    assert_eq!(paths, direct);
    assert!(stderr.contains(r#""path":"direct""#), "{stderr}");

    // The image of the same configuration, built and loaded as before.
    let (image, stderr) = run(tmp.path(), &dir, &["--via-image"], &["sh", "-c", CHECKS]);
    assert!(stderr.contains(r#""path":"image""#), "{stderr}");
    assert!(image_exists(&reference));
    assert_eq!(
        direct, image,
        "the environment from the store differs from the image's"
    );
    // Spot checks, so that equal is also right.
    for want in [
        "uid=1000(user) gid=1000(user)",
        "PATH=/bin:/usr/bin",
        "/home/user/workdir\na note from the host\n",
        "nix-refused\nstore-refused\npath-refused\n",
        "written\n",
        "home-writable\n",
    ] {
        assert!(direct.contains(want), "{want:?} in:\n{direct}");
    }
    // Exactly the closure: the store paths listed are the closure's, no other project's.
    let listed: Vec<&str> = direct
        .lines()
        .filter(|l| l.len() > 33 && l.as_bytes()[32] == b'-' && !l.contains(' '))
        .collect();
    assert!(listed.iter().any(|l| l.ends_with("-biar-env")), "{direct}");
    assert!(listed.iter().any(|l| l.contains("-hello-")), "{direct}");

    // Docker has the image now: `run` runs it (no build, no store binds).
    let (_, stderr) = run(tmp.path(), &dir, &[], &["true"]);
    assert!(stderr.contains(r#""path":"image""#), "{stderr}");
}

#[test]
fn an_edit_rebuilds_in_nix_only_and_history_records_the_run() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-runedit-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = project(&prefix);
    let (out, _) = run(tmp.path(), &dir, &[], &["hello"]);
    assert_eq!(out, "Hello, world!\n");

    // A package added: Nix builds it, the environment runs with it, still no image.
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    std::fs::write(
        dir.join("user.nix"),
        user.replace("pkgs.hello\n", "pkgs.hello\n  pkgs.wget\n"),
    )
    .unwrap();
    let (out, stderr) = run(
        tmp.path(),
        &dir,
        &[],
        &["sh", "-c", "test -e /bin/wget && echo has-wget; hello"],
    );
    assert_eq!(out, "has-wget\nHello, world!\n", "{stderr}");
    assert!(stderr.contains("build_start"), "{stderr}");
    assert!(stderr.contains(r#""path":"direct""#), "{stderr}");
    assert!(!image_exists(&reference(tmp.path(), &dir)));

    let out = biar(tmp.path())
        .args(["history", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let history = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let runs = history
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("run"))
        .count();
    assert_eq!(runs, 2, "{history}");
}

/// A recorded environment gone from the store (collected, or another volume):
/// the engine refuses the bind, nothing started, and the image path runs instead.
#[test]
fn a_store_path_gone_falls_back_to_the_image() {
    if !docker_available() {
        return;
    }
    let prefix = format!("biar-test-rungone-{}-", std::process::id());
    let _cleanup = ImagesNamed(prefix.clone());
    let (tmp, dir) = project(&prefix);
    run(tmp.path(), &dir, &[], &["true"]);
    // The history names a path no store has.
    let state = tmp.path().join("state/biar/generations");
    let file = std::fs::read_dir(&state)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The environment it recorded is one no store has (nor a view of its closure).
    let text = std::fs::read_to_string(&file).unwrap();
    let history: serde_json::Value = serde_json::from_str(&text).unwrap();
    let env = history["generations"][0]["env_path"].as_str().unwrap();
    let hash = &env["/nix/store/".len()..][..32];
    std::fs::write(&file, text.replace(hash, &"0".repeat(32))).unwrap();

    let (out, stderr) = run(tmp.path(), &dir, &[], &["hello"]);
    assert_eq!(out, "Hello, world!\n");
    assert!(stderr.contains("running the image instead"), "{stderr}");
    assert!(stderr.contains(r#""path":"image""#), "{stderr}");
    assert!(image_exists(&reference(tmp.path(), &dir)));
}
