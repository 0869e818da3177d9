//! Basic auth against a real `docker-registry` with an htpasswd file: credentials from a
//! `~/.docker/config.json` work; a wrong password or none at all is explained.

mod common;

use biar::registry::{push_image, Client, ClientOptions, Descriptor, PushOptions, RegistryError};
use common::registry::{write_docker_config, Options, Registry};
use common::testimage;

fn auth_registry() -> Option<Registry> {
    Registry::start_with(Options {
        users: vec![("alice".into(), "correct horse".into())],
        ..Default::default()
    })
}

fn client_with(home: &std::path::Path, host: &str) -> Client {
    Client::new(
        host,
        ClientOptions {
            docker_config: Some(home.join(".docker/config.json")),
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn basic_auth_from_docker_config_pushes() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    write_docker_config(home.path(), &reg.host(), "alice", "correct horse");
    let c = client_with(home.path(), &reg.host());
    let img = testimage::make("authenticated");
    let repo = testimage::unique("biar-test/auth");
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    let s = push_image(
        &c,
        &repo,
        "t",
        &img.image,
        &open,
        &PushOptions::default(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.blobs_sent, 3);
    assert!(c.manifest_exists(&repo, "t").await.unwrap().is_some());
}

#[tokio::test]
async fn wrong_password_is_refused_clearly() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    write_docker_config(home.path(), &reg.host(), "alice", "wrong");
    let c = client_with(home.path(), &reg.host());
    let err = c.ping().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistryError::AuthRefused { .. }), "{text}");
    assert!(
        text.contains("refused the credentials of user alice")
            && text.contains(&reg.host())
            && text.contains("config.json")
            && !text.contains("wrong"),
        "names user, registry and file, never the password: {text}"
    );
}

#[tokio::test]
async fn missing_credentials_say_docker_login() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    let c = client_with(home.path(), &reg.host());
    let err = c.ping().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistryError::AuthNeeded { .. }), "{text}");
    assert!(
        text.contains(&format!("docker login {}", reg.host())),
        "{text}"
    );
}

#[tokio::test]
async fn credential_helpers_are_not_run() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".docker")).unwrap();
    std::fs::write(
        home.path().join(".docker/config.json"),
        format!(
            r#"{{"credHelpers": {{"{}": "secretservice"}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let c = client_with(home.path(), &reg.host());
    let text = c.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("docker-credential-secretservice") && text.contains("does not run"),
        "{text}"
    );
}

/// `biar-tui pull` with credentials from `$HOME/.docker/config.json`: our client and the Docker
/// Engine (given the same credentials) both get in; a wrong password stops at our client with a
/// clear message.
#[tokio::test]
async fn cli_pull_uses_docker_config_credentials() {
    if !common::docker_available() {
        return;
    }
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    write_docker_config(home.path(), &reg.host(), "alice", "correct horse");
    let c = client_with(home.path(), &reg.host());
    let img = testimage::make("pulled with a password");
    let name = testimage::unique("biar-test-authpull");
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    push_image(
        &c,
        &name,
        "t",
        &img.image,
        &open,
        &PushOptions::default(),
        &|_| {},
    )
    .await
    .unwrap();
    let local = format!("{name}:t");
    struct Rm(Vec<String>);
    impl Drop for Rm {
        fn drop(&mut self) {
            for i in &self.0 {
                let _ = std::process::Command::new("docker")
                    .args(["rmi", "-f", i])
                    .output();
            }
        }
    }
    let _cleanup = Rm(vec![local.clone(), format!("{}/{local}", reg.host())]);

    let wrong = tempfile::tempdir().unwrap();
    write_docker_config(wrong.path(), &reg.host(), "alice", "wrong");
    let out = common::biar(wrong.path())
        .env("HOME", wrong.path())
        .env_remove("DOCKER_CONFIG")
        .args(["pull", "--registry", &reg.host(), "--image", &local])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("refused the credentials of user alice"),
        "{stderr}"
    );

    common::biar(home.path())
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .args(["pull", "--registry", &reg.host(), "--image", &local])
        .assert()
        .success();
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", &local, "cat", "/hello.txt"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pulled with a password\n"
    );
}

/// An `identitytoken` entry is named as what it is, not as a credential helper.
#[tokio::test]
async fn identity_tokens_are_named_not_called_helpers() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".docker")).unwrap();
    std::fs::write(
        home.path().join(".docker/config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"identitytoken": "refresh-token-value"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let c = client_with(home.path(), &reg.host());
    let text = c.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("identity token")
            && text.contains(&reg.host())
            && !text.contains("credential helper")
            && !text.contains("refresh-token-value"),
        "{text}"
    );
}

/// A Docker config entry of the wrong JSON type never puts its secret in a message: for another
/// host it is skipped (the pull goes on to the registry), for the host in use the error names the
/// host and the field (exit 2).
#[test]
fn malformed_docker_config_never_prints_a_secret() {
    if !common::docker_available() {
        return;
    }
    use base64::Engine as _;
    let Some(reg) = Registry::start() else { return };
    let host = reg.host();
    let b64 = base64::engine::general_purpose::STANDARD.encode("bob:Pa55-w0rd");
    let secrets = [b64.as_str(), "Pa55-w0rd"];
    let shapes = [
        format!(r#""{b64}""#),
        format!(r#"["{b64}"]"#),
        format!(r#"{{"auth": ["{b64}"]}}"#),
        format!(r#"{{"auth": {{"v": "{b64}"}}}}"#),
        r#"{"username": "bob", "password": ["Pa55-w0rd"]}"#.to_string(),
        r#"{"auth": "Pa55-w0rd!"}"#.to_string(),
    ];
    for (i, shape) in shapes.iter().enumerate() {
        for (key, ours) in [("other.example:5000", false), (host.as_str(), true)] {
            let home = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(home.path().join(".docker")).unwrap();
            std::fs::write(
                home.path().join(".docker/config.json"),
                format!(r#"{{"auths": {{"{key}": {shape}}}}}"#),
            )
            .unwrap();
            let out = common::biar(home.path())
                .current_dir(home.path())
                .env("HOME", home.path())
                .env_remove("DOCKER_CONFIG")
                .args(["pull", "--registry", &host, "--image", "biar-test-none:t"])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            for secret in secrets {
                assert!(
                    !stdout.contains(secret) && !stderr.contains(secret),
                    "shape {i} under {key}: {stdout}{stderr}"
                );
            }
            if ours {
                assert_eq!(out.status.code(), Some(2), "shape {i}: {stderr}");
                assert!(
                    stderr.contains(&host) && stderr.contains("config.json"),
                    "shape {i}: {stderr}"
                );
            } else {
                // Skipped: the registry was asked and said the image is not there.
                assert!(
                    stderr.contains("does not exist in the registry"),
                    "shape {i}: {stderr}"
                );
            }
        }
    }
}
