//! Real environments, correctly composed (issue 12), end to end through the binary and the
//! offline builder against the test package set (which has nixpkgs' Python and R shape):
//! `init`, one interpreter per language, conflicts as bad input, collisions said.

mod common;

use std::path::{Path, PathBuf};

use common::images::ImagesNamed;
use common::{biar, docker_available, offline_project, repo, snapshot_tree};

fn unique_prefix(test: &str) -> String {
    format!("biar-test-{test}-{}-", std::process::id())
}

/// [`project_with`] under images named for `test` and this process, with the guard that removes
/// them when the test ends (failed or not).
fn project_for(
    test: &str,
    presets: &[&str],
    user_nix: &str,
) -> (ImagesNamed, tempfile::TempDir, PathBuf) {
    let prefix = unique_prefix(test);
    let (tmp, dir) = project_with(&prefix, presets, user_nix);
    (ImagesNamed(prefix), tmp, dir)
}

/// A copy of example-offline with the shipped presets `presets` on (their real files), user.nix
/// as given, and images named with `prefix`.
fn project_with(prefix: &str, presets: &[&str], user_nix: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = offline_project(|config| {
        config["image"] = serde_json::json!({ "namePrefix": prefix });
        let mut user: Vec<String> = presets.iter().map(|p| format!("presets/{p}.nix")).collect();
        user.push("user.nix".into());
        config["userConfig"] = serde_json::json!(user);
    });
    for p in presets {
        std::fs::copy(
            repo().join(format!("presets/{p}.nix")),
            dir.join(format!("presets/{p}.nix")),
        )
        .unwrap();
    }
    std::fs::write(dir.join("user.nix"), user_nix).unwrap();
    (tmp, dir)
}

/// `run -- CMD…` in the project: (exit code, stdout, stderr).
fn run_in(home: &Path, dir: &Path, cmd: &[&str]) -> (i32, String, String) {
    let out = biar(home)
        .args(["run", "--project"])
        .arg(dir)
        .arg("--")
        .args(cmd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_with_two_python_presets_and_an_added_package_imports_them_all() {
    if !docker_available() {
        return;
    }
    let prefix = unique_prefix("init-python");
    let _cleanup = ImagesNamed(prefix.clone());
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("x");
    biar(home.path())
        .arg("init")
        .arg(&dir)
        .args([
            "--preset",
            "python",
            "--preset",
            "data-science",
            "--offline",
        ])
        .args(["--nixpkgs", "pkgs"])
        .assert()
        .success();
    // The test package set inside the project (a path pin outside it would need trust).
    common::copy_dir(&repo().join("tests/fixtures/pkgs"), &dir.join("pkgs"));
    for f in [
        "config.json",
        "base.nix",
        "user.nix",
        "presets/python.nix",
        "presets/data-science.nix",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(dir.join("workdir").is_dir());
    // Images under a name this test removes.
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["image"] = serde_json::json!({ "namePrefix": prefix });
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();

    biar(home.path())
        .args(["add", "python3Packages.requests", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let (code, _, stderr) = run_in(
        home.path(),
        &dir,
        &["python3", "-c", "import numpy, pandas, requests, IPython"],
    );
    assert_eq!(code, 0, "{stderr}");
    // The stand-in really checks: a module no file names is not there.
    let (code, _, stderr) = run_in(home.path(), &dir, &["python3", "-c", "import django"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ModuleNotFoundError: No module named 'django'"),
        "{stderr}"
    );
}

#[test]
fn init_refuses_an_existing_project_and_unknown_presets() {
    let home = tempfile::tempdir().unwrap();
    let (_tmp, dir) = offline_project(|_| {});
    let before = snapshot_tree(&dir);
    let out = biar(home.path()).arg("init").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a project is already there"));
    assert_eq!(before, snapshot_tree(&dir));

    let fresh = home.path().join("fresh");
    let out = biar(home.path())
        .arg("init")
        .arg(&fresh)
        .args(["--preset", "pyhton"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no shipped preset named `pyhton`"),
        "{stderr}"
    );
    assert!(!fresh.exists());
}

#[test]
fn two_python_versions_are_bad_input_naming_both_files() {
    if !docker_available() {
        return;
    }
    let (_cleanup, tmp, dir) = project_for(
        "py-conflict",
        &["python"],
        "{ pkgs }: with pkgs; [ python311Packages.requests ]\n",
    );
    let before = snapshot_tree(&dir);
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("one interpreter per language"), "{stderr}");
    assert!(
        stderr.contains("presets/python.nix asks for python3-3.12.7"),
        "{stderr}"
    );
    assert!(
        stderr.contains("user.nix asks for python3-3.11.10"),
        "{stderr}"
    );
    assert_eq!(before, snapshot_tree(&dir));
}

#[test]
fn aliases_are_one_python_and_r_packages_join_one_wrapper() {
    if !docker_available() {
        return;
    }
    // `python3` is `python312`; a module named through `let` in workdir/local.nix counts too;
    // R packages from a wrapper and a plain entry end in one R.
    let (_cleanup, tmp, dir) = project_for(
        "aliases",
        &[],
        "{ pkgs }: with pkgs; [\n  (python312.withPackages (ps: [ ps.numpy ]))\n  python3\n  \
         (rWrapper.override { packages = [ rPackages.ggplot2 ]; })\n  R\n]\n",
    );
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(
        dir.join("workdir/local.nix"),
        "{ pkgs }:\nlet py = pkgs.python3Packages; in [ py.requests pkgs.rPackages.dplyr ]\n",
    )
    .unwrap();
    let (code, _, stderr) = run_in(
        tmp.path(),
        &dir,
        &["python3", "-c", "import numpy, requests, urllib3"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run_in(
        tmp.path(),
        &dir,
        &[
            "Rscript",
            "-e",
            "library(ggplot2); library(dplyr); library(rlang)",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run_in(tmp.path(), &dir, &["Rscript", "-e", "library(data.table)"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("there is no package called"), "{stderr}");
}

#[test]
fn without_the_composition_the_traps_are_real() {
    if !docker_available() {
        return;
    }
    // A buildEnv the user makes themselves is one opaque package: what nixpkgs does with it is
    // what every environment did before the composition.
    let (_cleanup, tmp, dir) = project_for(
        "traps",
        &[],
        "{ pkgs }: [ (pkgs.buildEnv { name = \"raw\"; paths = [ pkgs.python3 pkgs.python3Packages.requests ]; }) ]\n",
    );
    let (code, _, stderr) = run_in(tmp.path(), &dir, &["python3", "-c", "import requests"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ModuleNotFoundError: No module named 'requests'"),
        "{stderr}"
    );

    // Two withPackages environments in one buildEnv collide on bin/python3.
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs }: [ (pkgs.buildEnv { name = \"raw\"; paths = [\n  \
         (pkgs.python3.withPackages (ps: [ ps.numpy ]))\n  \
         (pkgs.python3.withPackages (ps: [ ps.requests ]))\n]; }) ]\n",
    )
    .unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("collision between"), "{stderr}");
}

#[test]
fn a_collision_is_reported_and_hiprio_declares_the_winner() {
    if !docker_available() {
        return;
    }
    let (_cleanup, tmp, dir) = project_for("collide", &[], "{ pkgs }: with pkgs; [ vim nvi ]\n");
    let out = biar(tmp.path())
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let vi = events
        .iter()
        .find(|e| e["event"] == "collision" && e["file"] == "bin/vi")
        .unwrap_or_else(|| panic!("no bin/vi collision in {stdout}"));
    // The base's shell has a `vi` too and comes first in configuration order.
    assert_eq!(vi["winner"]["name"], "shell-1.0");
    assert_eq!(vi["winner"]["from"], "base.nix");
    let others: Vec<(&str, &str)> = vi["others"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["from"].as_str().unwrap()))
        .collect();
    assert_eq!(
        others,
        [("vim-9.1.0", "user.nix"), ("nvi-1.81.6", "user.nix")]
    );
    let built = events.iter().find(|e| e["event"] == "built").unwrap();
    assert!(built["collisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["file"] == "bin/vi"));

    // Declaring a winner the nixpkgs way silences it, and the winner is what runs.
    std::fs::write(
        dir.join("user.nix"),
        "{ pkgs, lib }: with pkgs; [ vim (lib.hiPrio nvi) ]\n",
    )
    .unwrap();
    let out = biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("collision: bin/vi"), "{stderr}");
    let (code, stdout, stderr) = run_in(tmp.path(), &dir, &["vi"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "nvi 1.81.6 (test package set)\n");
}

#[test]
fn closure_json_is_written_even_when_the_image_is_up_to_date() {
    if !docker_available() {
        return;
    }
    let (_cleanup, tmp, dir) = project_for("closure-json", &[], "{ pkgs }: [ pkgs.hello ]\n");
    biar(tmp.path())
        .args(["build", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let closure = tmp.path().join("closure.json");
    let out = biar(tmp.path())
        .args(["build", "--closure-json"])
        .arg(&closure)
        .arg("--project")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("is up to date"), "{stdout}");
    let graph: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&closure).unwrap()).unwrap();
    assert!(graph
        .iter()
        .any(|p| p["path"].as_str().unwrap().ends_with("-hello-2.12.1")));
}

#[test]
fn rstudio_gets_every_r_package_and_r_keeps_its_own() {
    if !docker_available() {
        return;
    }
    // As nixpkgs users write it: RStudio's wrapper with its packages, another R package in a
    // plain entry (workdir/local.nix), and R's wrapper with one more.
    let (_cleanup, tmp, dir) = project_for(
        "rstudio",
        &[],
        "{ pkgs }: with pkgs; [\n  (rstudioWrapper.override { packages = [ rPackages.ggplot2 ]; })\n  \
         (rWrapper.override { packages = [ rPackages.data_table ]; })\n]\n",
    );
    std::fs::create_dir_all(dir.join("workdir")).unwrap();
    std::fs::write(
        dir.join("workdir/local.nix"),
        "{ pkgs }: [ pkgs.rPackages.dplyr ]\n",
    )
    .unwrap();
    let (code, _, stderr) = run_in(
        tmp.path(),
        &dir,
        &[
            "rstudio",
            "-e",
            "library(ggplot2); library(dplyr); library(data.table); library(rlang); library(MASS)",
        ],
    );
    assert_eq!(code, 0, "RStudio sees every R package: {stderr}");
    let (code, _, stderr) = run_in(
        tmp.path(),
        &dir,
        &["Rscript", "-e", "library(dplyr); library(data.table)"],
    );
    assert_eq!(code, 0, "R sees its own and the plain ones: {stderr}");
    // The stand-in really checks: a package nobody named is not there.
    let (code, _, stderr) = run_in(tmp.path(), &dir, &["rstudio", "-e", "library(nothere)"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("there is no package called 'nothere'"),
        "{stderr}"
    );
}
