//! A pushed image pulled through the Docker Engine's API from the loopback registry (Docker
//! allows plain HTTP to 127.0.0.0/8), tagged with its local name, and run.

mod common;

use std::process::Command;

use biar::config::ImageRef;
use biar::registry::{pull_into_docker, Client, ClientOptions, RegistryError, RegistryRef};
use common::registry::Registry;
use common::testimage::{self, RemoveImages};

#[tokio::test]
async fn pushed_image_pulls_into_docker_and_runs() {
    if !common::docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let c = Client::new(&reg.host(), ClientOptions::default()).unwrap();
    let repo = testimage::unique("biar-test/pull");
    testimage::push(&c, &repo, "pulled through docker").await;

    let engine = biar::docker::connect().await.unwrap();
    let remote = RegistryRef::parse(&format!("{}/{repo}:t", reg.host())).unwrap();
    let local = ImageRef {
        name: testimage::unique("biar-test-local"),
        tag: "t".into(),
    };
    let _cleanup = RemoveImages(vec![remote.to_string(), local.reference()]);
    let seen = std::sync::Mutex::new(Vec::new());
    pull_into_docker(&engine, &c, &remote, &local, &|p| {
        seen.lock().unwrap().push(p.status)
    })
    .await
    .unwrap();
    assert!(!seen.lock().unwrap().is_empty(), "progress was reported");

    let (stdout, stderr) = testimage::hello(&local.reference());
    assert_eq!(stdout, "pulled through docker\n", "{}", stderr);
    let layers = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            &local.reference(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&layers.stdout).trim(), "2");
}

#[tokio::test]
async fn pulling_a_missing_image_is_explained() {
    if !common::docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let c = Client::new(&reg.host(), ClientOptions::default()).unwrap();
    let engine = biar::docker::connect().await.unwrap();
    let remote = RegistryRef::parse(&format!("{}/biar-test/none:t", reg.host())).unwrap();
    let local = ImageRef {
        name: "biar-test-none".into(),
        tag: "t".into(),
    };
    let err = pull_into_docker(&engine, &c, &remote, &local, &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::ManifestUnknown { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("biar-tui build --push"), "{err}");
}

#[tokio::test]
async fn cli_pull_tags_the_local_name_and_then_says_nothing_to_do() {
    if !common::docker_available() {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let c = Client::new(&reg.host(), ClientOptions::default()).unwrap();
    let name = testimage::unique("biar-test-clipull");
    testimage::push(&c, &name, "pulled by the cli").await;
    let local = format!("{name}:t");
    let _cleanup = RemoveImages(vec![format!("{}/{name}:t", reg.host()), local.clone()]);
    let home = tempfile::tempdir().unwrap();
    let run = |home: &std::path::Path| {
        common::biar(home)
            .current_dir(home)
            .args(["pull", "--registry", &reg.host(), "--image", &local])
            .assert()
    };
    let out = run(home.path()).success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains(&format!("as {local}")), "{stdout}");
    assert_eq!(testimage::hello(&local).0, "pulled by the cli\n");

    let out = run(home.path()).success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("nothing to pull"), "{stdout}");
}

#[test]
fn cli_pull_faults_are_clear() {
    if !common::docker_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let out = common::biar(home.path())
        .current_dir(home.path())
        .args(["pull", "--registry", &host, "--image", "biar-test-none:t"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("cannot reach the registry") && stderr.contains(&host),
        "{stderr}"
    );

    let Some(reg) = Registry::start() else { return };
    let out = common::biar(home.path())
        .current_dir(home.path())
        .args([
            "pull",
            "--registry",
            &reg.host(),
            "--image",
            "biar-test-none:t",
        ])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("biar-test-none:t does not exist in the registry"),
        "{stderr}"
    );
}
