//! `biar-tui run` on a project whose image is not built yet: it builds it first (offline builder,
//! test package set), mounts `workdir/` at the image's working directory, and returns the
//! command's exit code.

mod common;

use std::process::Command;

use common::{biar, docker_available, offline_project};

/// Removes every image whose name starts with the prefix, on drop.
struct ImagesNamed(String);
impl Drop for ImagesNamed {
    fn drop(&mut self) {
        let out = Command::new("docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
            .unwrap();
        for image in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&self.0))
        {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

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

    let out = biar(tmp.path())
        .args(["run", "--project"])
        .arg(&dir)
        .args(["--", "sh", "-c", "pwd; cat note.txt; hello; exit 7"])
        .assert()
        .code(7);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("building it first"), "{stderr}");
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
