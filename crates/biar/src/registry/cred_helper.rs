//! Docker credential helpers (`credHelpers`, `credsStore` in the Docker config), run the way the
//! docker CLI runs them: `docker-credential-NAME get` with the registry's server address on stdin,
//! `{"ServerURL","Username","Secret"}` on stdout. Only `get`: biar-tui never stores or erases.
//!
//! The helper is a program of the user's, but what it prints is not ours: its stderr reaches a
//! message only sanitized and bounded, and its stdout (which holds the secret) never reaches one.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::auth::Credentials;
use super::RegistryError;

/// How long a helper may take to answer before it is killed (a helper may ask for a passphrase
/// through a GUI agent, so this is generous).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// What a helper may print: a JSON answer is far smaller; more is a broken helper.
const STDOUT_LIMIT: usize = 64 * 1024;
/// How much of a failing helper's stderr (and error text) a message quotes.
const MESSAGE_LIMIT: usize = 2000;

/// The message helpers print (on stdout, exit 1) when they hold nothing for the server; the
/// docker CLI treats it as "no credentials", not as an error.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// The user name a helper answers with when the secret is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// A helper's answer to `get`.
#[derive(Clone, PartialEq, Eq)]
pub enum HelperAnswer {
    Found(Credentials),
    /// `Username` `<token>`: the secret is an identity token (an OAuth refresh token).
    IdentityToken,
    /// The helper holds nothing for this server.
    NotFound,
}

impl std::fmt::Debug for HelperAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelperAnswer::Found(c) => write!(f, "Found({c:?})"),
            HelperAnswer::IdentityToken => write!(f, "IdentityToken(***)"),
            HelperAnswer::NotFound => write!(f, "NotFound"),
        }
    }
}

/// The server address the docker CLI sends a helper (and looks `credHelpers` up by) for a
/// registry other than Docker Hub: the registry's host as the image reference names it,
/// `host[:port]`, no scheme.
pub fn server_address(host: &str) -> String {
    host.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Whether `name` may follow `docker-credential-` as a program name: a name with a `/` would
/// run a path, not a program from `PATH`.
pub fn valid_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Where a helper was named, for the messages.
#[derive(Debug, Clone)]
pub struct HelperContext {
    pub registry: String,
    pub config: PathBuf,
}

/// Runs `docker-credential-<helper> get` for `server` (argv only, no shell), killed after
/// `timeout`.
pub async fn get(
    helper: &str,
    server: &str,
    timeout: Duration,
    context: &HelperContext,
) -> Result<HelperAnswer, RegistryError> {
    if !valid_helper_name(helper) {
        return Err(RegistryError::DockerConfig {
            path: context.config.clone(),
            reason: format!(
                "the credential helper named for {} is not a program name (letters, digits, `-`, `_`, `.`)",
                context.registry
            ),
        });
    }
    run(
        &format!("docker-credential-{helper}"),
        helper,
        server,
        timeout,
        context,
    )
    .await
}

/// [`get`] with the program given (a path in the tests).
async fn run(
    program: &str,
    helper: &str,
    server: &str,
    timeout: Duration,
    context: &HelperContext,
) -> Result<HelperAnswer, RegistryError> {
    let fail = |reason: String| RegistryError::CredentialHelper {
        registry: context.registry.clone(),
        config: context.config.clone(),
        helper: helper.to_string(),
        reason,
    };
    let mut command = tokio::process::Command::new(program);
    command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: on a timeout the helper and anything it started are killed.
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "is not installed: no `{program}` in PATH\n  install it, or remove it from the Docker config (credHelpers/credsStore) and use `auths`"
            )))
        }
        Err(e) => return Err(fail(format!("cannot be started: {e}"))),
    };
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let input = server.to_string();
    let talk = async move {
        // As the docker CLI: the address, no newline, then EOF. A helper that exits without
        // reading it is not an error here; its exit status says what happened.
        let _ = stdin.write_all(input.as_bytes()).await;
        drop(stdin);
        let (out, err, status) = tokio::join!(
            read_bounded(stdout, STDOUT_LIMIT),
            read_bounded(stderr, MESSAGE_LIMIT),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(timeout, talk).await {
        Ok(done) => done,
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: kill(2) on the process group we created; no memory is touched.
                unsafe {
                    libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
                }
            }
            return Err(fail(format!(
                "did not answer within {} s and was stopped\n  is it waiting for a passphrase or a locked keyring? unlock it and re-run",
                timeout.as_secs()
            )));
        }
    };
    let status = status.map_err(|e| fail(format!("could not be waited for: {e}")))?;
    let (out, out_overflow) =
        out.map_err(|e| fail(format!("its output could not be read: {e}")))?;
    let (err, _) = err.unwrap_or_default();
    if !status.success() {
        return failed(status, &out, &err, server, program).map_err(fail);
    }
    if out_overflow {
        return Err(fail(format!(
            "printed more than {} KiB instead of its JSON answer",
            STDOUT_LIMIT / 1024
        )));
    }
    parse_answer(&out).map_err(fail)
}

/// What a helper that exited with a failure said: not found (the protocol's answer, on stdout),
/// else the failure's text. Helpers report errors as text on stdout, some on stderr too.
fn failed(
    status: std::process::ExitStatus,
    out: &[u8],
    err: &[u8],
    server: &str,
    program: &str,
) -> Result<HelperAnswer, String> {
    let said = String::from_utf8_lossy(out);
    let said = said.trim();
    if said == NOT_FOUND {
        return Ok(HelperAnswer::NotFound);
    }
    let mut text = String::new();
    // A JSON answer with a failing status may hold a secret: never quoted.
    if !said.is_empty() && !said.starts_with('{') {
        text.push_str(said);
    }
    let err = String::from_utf8_lossy(err);
    if !err.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(err.trim());
    }
    let status = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    let text = quote(&text);
    let hint = format!(
        "  try it by hand: `echo {server} | {program} get`; or log in again: `docker login {server}`"
    );
    Err(if text.is_empty() {
        format!("failed ({status}) and said nothing\n{hint}")
    } else {
        format!("failed ({status}):\n{text}\n{hint}")
    })
}

/// The helper's JSON answer (`{"Username", "Secret"}`).
fn parse_answer(out: &[u8]) -> Result<HelperAnswer, String> {
    // Never quote stdout or serde's message about it: it holds the secret.
    let answer: Answer = serde_json::from_slice(out).map_err(|_| {
        "answered with something that is not its JSON credentials ({\"Username\", \"Secret\"})"
            .to_string()
    })?;
    if answer.username == TOKEN_USERNAME {
        return Ok(HelperAnswer::IdentityToken);
    }
    if answer.secret.is_empty() {
        return Ok(HelperAnswer::NotFound);
    }
    Ok(HelperAnswer::Found(Credentials {
        username: answer.username,
        password: answer.secret,
    }))
}

/// One registry's credentials from its helper: asked once, when the registry first wants them
/// (an anonymous registry never runs the helper), then kept for the client's life.
#[derive(Debug)]
pub struct HelperSource {
    helper: String,
    /// `docker-credential-<helper>` (a path in the tests).
    program: String,
    server: String,
    timeout: Duration,
    context: HelperContext,
    /// The answer, or why the helper gave none (the reason of a `CredentialHelper` error).
    fetched: tokio::sync::OnceCell<Result<Option<Credentials>, String>>,
}

impl HelperSource {
    pub fn new(helper: &str, host: &str, config: PathBuf, timeout: Duration) -> HelperSource {
        HelperSource {
            helper: helper.to_string(),
            program: format!("docker-credential-{helper}"),
            server: server_address(host),
            timeout,
            context: HelperContext {
                registry: host.to_string(),
                config,
            },
            fetched: tokio::sync::OnceCell::new(),
        }
    }

    /// The helper's credentials (None: it has none for this registry), running it the first
    /// time. Its failure is kept too: a broken or hanging helper is asked once per client, not
    /// once per concurrent request.
    pub async fn credentials(&self) -> Result<Option<Credentials>, RegistryError> {
        let answer = self
            .fetched
            .get_or_init(|| async {
                let answer = if valid_helper_name(&self.helper) {
                    run(&self.program, &self.helper, &self.server, self.timeout, &self.context).await
                } else {
                    get(&self.helper, &self.server, self.timeout, &self.context).await
                };
                match answer {
                    Ok(HelperAnswer::Found(c)) => Ok(Some(c)),
                    Ok(HelperAnswer::NotFound) => Ok(None),
                    Ok(HelperAnswer::IdentityToken) => Err(format!(
                        "answered with an identity token (user `{TOKEN_USERNAME}`: an OAuth refresh token some logins save instead of a password); biar-tui does not use identity tokens\n  log in with a user name and password or access token (`docker login {}`)",
                        self.context.registry
                    )),
                    Err(RegistryError::CredentialHelper { reason, .. }) => Err(reason),
                    Err(other) => Err(other.to_string()),
                }
            })
            .await;
        answer.clone().map_err(|reason| self.error(reason))
    }

    /// The credentials once fetched.
    pub fn fetched(&self) -> Option<&Credentials> {
        self.fetched.get()?.as_ref().ok()?.as_ref()
    }

    /// The registry wants credentials and the helper has none for it.
    pub fn none_error(&self) -> RegistryError {
        self.error(format!(
            "has no credentials for it (\"{NOT_FOUND}\")\n  run `docker login {}`: docker stores them in that helper",
            self.context.registry
        ))
    }

    fn error(&self, reason: String) -> RegistryError {
        RegistryError::CredentialHelper {
            registry: self.context.registry.clone(),
            config: self.context.config.clone(),
            helper: self.helper.clone(),
            reason,
        }
    }
}

/// Reads `reader` to its end, keeping the first `limit` bytes (the rest is drained, so the
/// helper never blocks on a full pipe); true when something was left out.
async fn read_bounded(
    mut reader: impl AsyncRead + Unpin,
    limit: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let mut overflow = false;
    let mut buf = [0u8; 8192];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, overflow));
        }
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        overflow |= n > room;
    }
}

/// A helper's own words for a message: through the sanitizer, line by line, indented, bounded.
fn quote(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(20) {
        if out.len() > MESSAGE_LIMIT {
            out.push_str("  …\n");
            break;
        }
        out.push_str("  | ");
        out.push_str(&crate::progress::plain_text(line));
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Writes `docker-credential-<name>` into `dir`: a stand-in for a broken helper.
    fn script(dir: &std::path::Path, name: &str, body: &str) {
        let p = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn context() -> HelperContext {
        HelperContext {
            registry: "reg.test:5000".into(),
            config: "/home/u/.docker/config.json".into(),
        }
    }

    async fn run(
        dir: &std::path::Path,
        name: &str,
        timeout: Duration,
    ) -> Result<HelperAnswer, RegistryError> {
        let program = dir.join(format!("docker-credential-{name}"));
        super::run(
            program.to_str().unwrap(),
            name,
            "reg.test:5000",
            timeout,
            &context(),
        )
        .await
    }

    #[tokio::test]
    async fn reads_the_answer_and_sends_the_host_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        // Answers only for the exact address the docker CLI sends: host:port, no newline.
        script(
            dir.path(),
            "t1",
            r#"[ "$1" = get ] || exit 3
in=$(cat); [ "$in" = "reg.test:5000" ] || { echo "got [$in]" >&2; exit 4; }
printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$in""#,
        );
        let got = run(dir.path(), "t1", HELPER_TIMEOUT).await.unwrap();
        assert_eq!(
            got,
            HelperAnswer::Found(Credentials {
                username: "alice".into(),
                password: "s3cret".into()
            })
        );
        assert!(!format!("{got:?}").contains("s3cret"));
        script(
            dir.path(),
            "t2",
            r#"printf '{"ServerURL":"x","Username":"<token>","Secret":"refresh"}'"#,
        );
        assert_eq!(
            run(dir.path(), "t2", HELPER_TIMEOUT).await.unwrap(),
            HelperAnswer::IdentityToken
        );
        script(
            dir.path(),
            "t3",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        assert_eq!(
            run(dir.path(), "t3", HELPER_TIMEOUT).await.unwrap(),
            HelperAnswer::NotFound
        );
    }

    #[tokio::test]
    async fn failures_quote_stderr_sanitized_never_stdout_json() {
        let dir = tempfile::tempdir().unwrap();
        script(
            dir.path(),
            "bad",
            "printf 'gpg: decryption failed: No secret key\\033]0;title\\007\\n' >&2; exit 1",
        );
        let err = run(dir.path(), "bad", HELPER_TIMEOUT)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-bad") && err.contains("exit status 1"),
            "{err}"
        );
        assert!(
            err.contains("gpg: decryption failed: No secret key"),
            "{err}"
        );
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
        // Exit 0 with garbage, or a failing status with a JSON answer: the secret is not quoted.
        script(
            dir.path(),
            "junk",
            r#"printf '{"Username":"a","Secret":"hunter2"'"#,
        );
        let err = run(dir.path(), "junk", HELPER_TIMEOUT)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not its JSON") && !err.contains("hunter2"),
            "{err}"
        );
        script(
            dir.path(),
            "json1",
            r#"printf '{"Username":"a","Secret":"hunter2"}'; exit 1"#,
        );
        let err = run(dir.path(), "json1", HELPER_TIMEOUT)
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        // A flood of stderr is bounded.
        script(
            dir.path(),
            "loud",
            "yes 'noise noise noise' | head -c 1000000 >&2; exit 2",
        );
        let err = run(dir.path(), "loud", HELPER_TIMEOUT)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.len() < 4 * MESSAGE_LIMIT, "{}", err.len());
    }

    #[tokio::test]
    async fn a_hanging_helper_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        script(
            dir.path(),
            "hang",
            &format!("sleep 300 & echo $! > {}; wait", pidfile.display()),
        );
        let err = run(dir.path(), "hang", Duration::from_millis(1500))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not answer within 1 s"), "{err}");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let pid: i32 = pid.trim().parse().unwrap();
        // The grandchild went with the group (it may linger as a zombie for a moment).
        let mut gone = false;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "sleep {pid} still runs");
    }

    #[tokio::test]
    async fn a_missing_helper_is_named_and_a_path_is_refused() {
        let err = get("nosuch-biar", "h", HELPER_TIMEOUT, &context())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-nosuch-biar") && err.contains("not installed"),
            "{err}"
        );
        let err = get("../../bin/sh", "h", HELPER_TIMEOUT, &context())
            .await
            .unwrap_err();
        assert!(matches!(err, RegistryError::DockerConfig { .. }), "{err}");
        assert!(valid_helper_name("pass") && valid_helper_name("ecr-login"));
        assert!(!valid_helper_name("") && !valid_helper_name("a b") && !valid_helper_name(".."));
    }

    /// A client's requests share one run of the helper, whether it answered or failed.
    #[tokio::test]
    async fn a_source_asks_its_helper_once() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        for (name, answer) in [
            ("ok", r#"printf '{"Username":"alice","Secret":"s3cret"}'"#),
            ("broken", "echo 'no keyring' >&2; exit 1"),
        ] {
            std::fs::write(&count, "").unwrap();
            script(
                dir.path(),
                name,
                &format!("echo run >> {}\n{answer}", count.display()),
            );
            let mut source =
                HelperSource::new(name, "reg.test:5000", "/c.json".into(), HELPER_TIMEOUT);
            source.program = dir
                .path()
                .join(format!("docker-credential-{name}"))
                .to_str()
                .unwrap()
                .into();
            let source = std::sync::Arc::new(source);
            let asks: Vec<_> = (0..4)
                .map(|_| {
                    let s = source.clone();
                    tokio::spawn(async move { s.credentials().await.map_err(|e| e.to_string()) })
                })
                .collect();
            let mut answers = Vec::new();
            for a in asks {
                answers.push(a.await.unwrap());
            }
            assert_eq!(std::fs::read_to_string(&count).unwrap(), "run\n", "{name}");
            if name == "ok" {
                assert!(answers
                    .iter()
                    .all(|a| a.as_ref().unwrap().as_ref().unwrap().username == "alice"));
                assert_eq!(source.fetched().unwrap().password, "s3cret");
                assert!(!format!("{source:?}").contains("s3cret"), "{source:?}");
            } else {
                for a in &answers {
                    let e = a.as_ref().unwrap_err();
                    assert!(
                        e.contains("no keyring") && e.contains("docker-credential-broken"),
                        "{e}"
                    );
                }
                assert!(source.fetched().is_none());
            }
        }
    }

    #[test]
    fn server_address_is_the_bare_host() {
        assert_eq!(server_address("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(server_address("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    }
}
