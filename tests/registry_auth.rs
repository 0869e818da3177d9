//! Basic auth against a real `docker-registry` with an htpasswd file: credentials from a
//! `~/.docker/config.json` work; a wrong password or none at all is explained.

mod common;

use biar::registry::{push_image, Client, ClientOptions, Descriptor, PushOptions, RegistryError};
use common::cred_pass::{path_with, write_helper_script, PassStore};
use common::registry::{write_docker_config, Options, Registry};
use common::testimage::{self, RemoveImages};

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

/// A credential helper the Docker config names but that is not installed is named, with what
/// to do.
#[tokio::test]
async fn missing_credential_helper_is_named() {
    let Some(reg) = auth_registry() else { return };
    let home = tempfile::tempdir().unwrap();
    write_raw_docker_config(
        home.path(),
        &format!(
            r#"{{"credHelpers": {{"{}": "biar-test-absent"}}}}"#,
            reg.host()
        ),
    );
    let c = client_with(home.path(), &reg.host());
    let err = c.ping().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, RegistryError::CredentialHelper { .. }),
        "{text}"
    );
    assert!(
        text.contains("docker-credential-biar-test-absent")
            && text.contains("not installed")
            && text.contains(&reg.host())
            && text.contains("config.json"),
        "{text}"
    );
}

fn write_raw_docker_config(home: &std::path::Path, json: &str) {
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::write(home.join(".docker/config.json"), json).unwrap();
}

/// The credentials live only in a real `docker-credential-pass` (as `docker login` with
/// `credsStore: pass` leaves them): the push gets in with them.
#[tokio::test]
async fn creds_store_pass_pushes() {
    let Some(reg) = auth_registry() else { return };
    let Some(pass) = PassStore::new() else { return };
    pass.store(&reg.host(), "alice", "correct horse");
    // The helper inherits this process's environment, as it would the user's shell's.
    for (k, v) in pass.env() {
        std::env::set_var(k, v);
    }
    let home = tempfile::tempdir().unwrap();
    write_raw_docker_config(home.path(), r#"{"auths": {}, "credsStore": "pass"}"#);
    let c = client_with(home.path(), &reg.host());
    assert!(c.credentials().is_none(), "the helper runs only when asked");
    let img = testimage::make("from the helper");
    let repo = testimage::unique("biar-test/helper");
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
    assert_eq!(c.credentials().unwrap().username, "alice");
    assert!(!format!("{:?}", c.credentials()).contains("correct horse"));

    // The helper has nothing for another registry: that is "no credentials", named as such.
    let other = auth_registry().unwrap();
    let c = client_with(home.path(), &other.host());
    let text = c.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("docker-credential-pass")
            && text.contains("has no credentials")
            && text.contains(&format!("docker login {}", other.host())),
        "{text}"
    );
}

/// `biar-tui pull` through `docker-credential-pass` named in `credHelpers` for the registry,
/// which wins over a `credsStore` that would fail: our client and the Docker Engine (given the
/// helper's credentials) get in, and the secret is in no output.
#[tokio::test]
async fn cli_pull_uses_cred_helpers_over_creds_store() {
    if !common::docker_available() {
        return;
    }
    let secret = "Sec-ret 7 horse";
    let Some(reg) = Registry::start_with(Options {
        users: vec![("carol".into(), secret.into())],
        ..Default::default()
    }) else {
        return;
    };
    let Some(pass) = PassStore::new() else { return };
    pass.store(&reg.host(), "carol", secret);
    let home = tempfile::tempdir().unwrap();
    write_raw_docker_config(
        home.path(),
        &format!(
            r#"{{"credsStore": "biar-test-absent", "credHelpers": {{"{}": "pass"}}}}"#,
            reg.host()
        ),
    );
    let c = Client::new(
        &reg.host(),
        ClientOptions {
            credentials: Some(biar::registry::Credentials {
                username: "carol".into(),
                password: secret.into(),
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let name = testimage::unique("biar-test-helperpull");
    testimage::push(&c, &name, "pulled through a helper").await;
    let local = format!("{name}:t");
    let _cleanup = RemoveImages(vec![local.clone(), format!("{}/{local}", reg.host())]);
    let mut cmd = common::biar(home.path());
    cmd.env("HOME", home.path()).env_remove("DOCKER_CONFIG");
    for (k, v) in pass.env() {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["pull", "--registry", &reg.host(), "--image", &local])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(secret) && !all.contains("Sec-ret"), "{all}");
    assert_eq!(testimage::hello(&local).0, "pulled through a helper\n");
}

/// A broken helper (prints a complaint on stderr and exits 1; it even prints a JSON answer with
/// a secret on stdout) stops `biar-tui pull` with exit 1, the helper's name and its stderr,
/// sanitized, and never the secret.
#[test]
fn failing_helper_shows_its_stderr_never_the_secret() {
    if !common::docker_available() {
        return;
    }
    let Some(reg) = auth_registry() else { return };
    let bin = tempfile::tempdir().unwrap();
    write_helper_script(
        bin.path(),
        "biar-broken",
        r#"cat >/dev/null
printf '{"ServerURL":"x","Username":"alice","Secret":"Hunter2-secret"}'
printf 'biar-broken: the keyring is locked [31m(gpg: decryption failed)
' >&2
exit 1"#,
    );
    let home = tempfile::tempdir().unwrap();
    write_raw_docker_config(
        home.path(),
        &format!(r#"{{"credHelpers": {{"{}": "biar-broken"}}}}"#, reg.host()),
    );
    let out = common::biar(home.path())
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .env("PATH", path_with(bin.path()))
        .args([
            "pull",
            "--registry",
            &reg.host(),
            "--image",
            "biar-test-none:t",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("docker-credential-biar-broken")
            && stderr.contains("exit status 1")
            && stderr.contains("the keyring is locked")
            && stderr.contains(&reg.host()),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "sanitized: {stderr:?}");
    assert!(
        !stdout.contains("Hunter2") && !stderr.contains("Hunter2"),
        "{stdout}{stderr}"
    );
}

/// A helper that never answers is killed after the time limit, and the message says so.
#[tokio::test]
async fn hanging_helper_hits_the_time_limit() {
    let Some(reg) = auth_registry() else { return };
    let bin = tempfile::tempdir().unwrap();
    write_helper_script(bin.path(), "biar-hang", "exec sleep 600");
    std::env::set_var("PATH", path_with(bin.path()));
    let home = tempfile::tempdir().unwrap();
    write_raw_docker_config(home.path(), r#"{"credsStore": "biar-hang"}"#);
    let c = Client::new(
        &reg.host(),
        ClientOptions {
            docker_config: Some(home.path().join(".docker/config.json")),
            helper_timeout: Some(std::time::Duration::from_secs(2)),
            ..Default::default()
        },
    )
    .unwrap();
    let text = c.ping().await.unwrap_err().to_string();
    assert!(
        text.contains("docker-credential-biar-hang") && text.contains("did not answer within 2 s"),
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
    let name = testimage::unique("biar-test-authpull");
    testimage::push(&c, &name, "pulled with a password").await;
    let local = format!("{name}:t");
    let _cleanup = RemoveImages(vec![local.clone(), format!("{}/{local}", reg.host())]);

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
    assert_eq!(testimage::hello(&local).0, "pulled with a password\n");
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
