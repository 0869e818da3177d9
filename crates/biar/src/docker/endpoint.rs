//! Which engine the user means, resolved in the docker CLI's order: `DOCKER_HOST` (with
//! `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` for `tcp://`), else `DOCKER_CONTEXT`, else
//! `currentContext` in the Docker config (`$DOCKER_CONFIG` or `~/.docker`), else the local socket
//! (and Podman's, when there is no Docker socket). A context is read where `docker context
//! create` writes it: `contexts/meta/<sha256 of the name>/meta.json` for the endpoint and
//! `contexts/tls/<sha256>/docker/{ca,cert,key}.pem` for its TLS material.
//!
//! Pure file and string work, no connection: every mistake in the user's input (a malformed
//! `DOCKER_HOST`, an unknown context, a certificate that cannot be read) is a
//! [`DockerError::BadEndpoint`] naming the value, before anything is dialled.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DockerError;

pub(crate) const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Where the engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket of this machine: the only kind whose engine sees this machine's paths.
    Unix(PathBuf),
    /// `host:port` over TCP, plain or with TLS.
    Tcp { host: String, tls: Option<TlsFiles> },
    /// The docker CLI's SSH transport: `ssh … docker system dial-stdio` on the far side.
    Ssh(SshTarget),
}

/// The TLS material of a `tcp://` endpoint: the CA the engine's certificate must chain to, and
/// the client certificate and key, when there are some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub client: Option<(PathBuf, PathBuf)>,
}

/// `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// How the endpoint was chosen, for `builder status` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    DockerHost,
    DockerContext(String),
    CurrentContext { name: String, config: PathBuf },
    LocalSocket,
    PodmanSocket,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::DockerHost => write!(f, "DOCKER_HOST"),
            Choice::DockerContext(name) => write!(f, "DOCKER_CONTEXT={name}"),
            Choice::CurrentContext { name, config } => {
                write!(f, "currentContext \"{name}\" in {}", config.display())
            }
            Choice::LocalSocket => write!(f, "the local socket (no DOCKER_HOST, no context)"),
            Choice::PodmanSocket => write!(
                f,
                "Podman's socket (no DOCKER_HOST, no context, no Docker socket)"
            ),
        }
    }
}

/// The resolved engine: where, as the user would write it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: Endpoint,
    pub address: String,
    pub choice: Choice,
}

/// The environment the resolution reads (a struct, so tests need not touch the process's).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub docker_tls_verify: Option<String>,
    pub docker_tls: Option<String>,
    pub docker_cert_path: Option<String>,
    pub docker_context: Option<String>,
    pub docker_config: Option<String>,
    pub home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<String>,
}

impl Env {
    pub fn from_process() -> Env {
        // Empty counts as unset, as for the docker CLI.
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Env {
            docker_host: var("DOCKER_HOST"),
            docker_tls_verify: var("DOCKER_TLS_VERIFY"),
            docker_tls: var("DOCKER_TLS"),
            docker_cert_path: var("DOCKER_CERT_PATH"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG"),
            home: dirs::home_dir(),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
        }
    }

    /// The Docker configuration folder: `$DOCKER_CONFIG`, else `~/.docker`.
    fn config_dir(&self) -> PathBuf {
        match &self.docker_config {
            Some(dir) => PathBuf::from(dir),
            None => self.home.clone().unwrap_or_default().join(".docker"),
        }
    }
}

fn bad(value: impl Into<String>, reason: impl Into<String>) -> DockerError {
    DockerError::BadEndpoint {
        value: value.into(),
        reason: reason.into(),
    }
}

/// Resolves the engine `env` names (see the module docs for the order).
pub fn resolve(env: &Env) -> Result<Resolved, DockerError> {
    if let Some(host) = &env.docker_host {
        let tls = if env.docker_tls_verify.is_some() {
            let dir = env
                .docker_cert_path
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| env.config_dir());
            Some(tls_files(&dir, "DOCKER_CERT_PATH")?)
        } else if env.docker_tls.is_some() {
            return Err(bad(
                format!("DOCKER_TLS={}", env.docker_tls.as_deref().unwrap_or("")),
                "TLS without verifying the engine's certificate is not supported; set \
                 DOCKER_TLS_VERIFY=1 with ca.pem (and cert.pem, key.pem) in DOCKER_CERT_PATH",
            ));
        } else {
            None
        };
        let endpoint = parse_host(host, tls, &format!("DOCKER_HOST={host}"))?;
        return Ok(Resolved {
            endpoint,
            address: host.clone(),
            choice: Choice::DockerHost,
        });
    }
    let config_dir = env.config_dir();
    let (name, choice) = match &env.docker_context {
        Some(name) => (Some(name.clone()), Choice::DockerContext(name.clone())),
        None => {
            let config = config_dir.join("config.json");
            let name = current_context(&config);
            let choice = Choice::CurrentContext {
                name: name.clone().unwrap_or_default(),
                config,
            };
            (name, choice)
        }
    };
    // `default` is the docker CLI's name for "DOCKER_HOST or the local socket".
    if let Some(name) = name.filter(|n| n != "default") {
        return context(&config_dir, &name, choice);
    }
    Ok(local(env))
}

/// The local socket, or Podman's when there is no Docker socket.
fn local(env: &Env) -> Resolved {
    let docker = PathBuf::from(DEFAULT_SOCKET);
    let podman = [
        env.xdg_runtime_dir
            .as_ref()
            .map(|d| PathBuf::from(d).join("podman/podman.sock")),
        Some(PathBuf::from("/run/podman/podman.sock")),
    ];
    let (path, choice) = if docker.exists() {
        (docker, Choice::LocalSocket)
    } else {
        match podman.into_iter().flatten().find(|p| p.exists()) {
            Some(p) => (p, Choice::PodmanSocket),
            None => (docker, Choice::LocalSocket),
        }
    };
    Resolved {
        address: format!("unix://{}", path.display()),
        endpoint: Endpoint::Unix(path),
        choice,
    }
}

/// `currentContext` of the Docker config, if it names one. A config that is missing or not JSON
/// names none (the docker CLI warns about a broken one and goes on with the default too).
fn current_context(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The context `name`, as `docker context create` stored it under `config_dir`.
fn context(config_dir: &Path, name: &str, choice: Choice) -> Result<Resolved, DockerError> {
    let what = match &choice {
        Choice::CurrentContext { config, .. } => {
            format!(
                "context \"{name}\" (currentContext in {})",
                config.display()
            )
        }
        _ => format!("DOCKER_CONTEXT={name}"),
    };
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta_path = config_dir.join("contexts/meta").join(&id).join("meta.json");
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(
                what,
                format!(
                    "no such Docker context ({} does not exist; `docker context ls` lists them)",
                    meta_path.display()
                ),
            ))
        }
        Err(e) => return Err(bad(what, format!("{}: {e}", meta_path.display()))),
    };
    let meta: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(&what, format!("{}: {e}", meta_path.display())))?;
    let docker = &meta["Endpoints"]["docker"];
    let Some(host) = docker["Host"].as_str().filter(|h| !h.is_empty()) else {
        return Err(bad(
            what,
            format!("{} names no docker endpoint Host", meta_path.display()),
        ));
    };
    if docker["SkipTLSVerify"].as_bool() == Some(true) {
        return Err(bad(
            what,
            "the context skips verifying the engine's TLS certificate (SkipTLSVerify), which \
             biar-tui does not do; give the context the engine's CA (`docker context update \
             --docker ca=…`)",
        ));
    }
    let tls_dir = config_dir.join("contexts/tls").join(&id).join("docker");
    let tls = if tls_dir.exists() {
        Some(tls_files(&tls_dir, &what)?)
    } else {
        None
    };
    let endpoint = parse_host(host, tls, &format!("{what}: Host {host}"))?;
    Ok(Resolved {
        endpoint,
        address: host.to_string(),
        choice,
    })
}

/// `ca.pem`, and `cert.pem` with `key.pem` when both are there, in `dir`; each must be readable.
fn tls_files(dir: &Path, what: &str) -> Result<TlsFiles, DockerError> {
    let readable = |name: &str| -> Result<Option<PathBuf>, DockerError> {
        let path = dir.join(name);
        // Read, not just opened: a folder opens but does not read.
        match std::fs::read(&path) {
            Ok(_) => Ok(Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(bad(
                path.display().to_string(),
                format!("cannot read this certificate file ({what}): {e}"),
            )),
        }
    };
    let Some(ca) = readable("ca.pem")? else {
        return Err(bad(
            dir.join("ca.pem").display().to_string(),
            format!(
                "TLS is asked for ({what}) but the engine's CA certificate is missing: the \
                 folder needs ca.pem (and cert.pem, key.pem for a client certificate)"
            ),
        ));
    };
    let client = match (readable("cert.pem")?, readable("key.pem")?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(bad(
                dir.display().to_string(),
                format!("{what}: a client certificate needs both cert.pem and key.pem"),
            ))
        }
    };
    Ok(TlsFiles { ca, client })
}

/// Parses an engine address (`unix://`, `tcp://`, `http://`, `ssh://`); `what` names it in errors.
pub fn parse_host(host: &str, tls: Option<TlsFiles>, what: &str) -> Result<Endpoint, DockerError> {
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err(bad(
            what,
            "not an engine address: use unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]",
        ));
    };
    match scheme {
        "unix" => {
            if rest.is_empty() || !rest.starts_with('/') {
                return Err(bad(what, "a unix:// address needs an absolute socket path"));
            }
            Ok(Endpoint::Unix(PathBuf::from(rest)))
        }
        "tcp" | "http" => {
            if scheme == "http" && tls.is_some() {
                return Err(bad(what, "http:// is plain HTTP; with TLS use tcp://"));
            }
            let (h, port) = host_port(rest, what)?;
            // The docker CLI's default ports: 2376 with TLS, 2375 without.
            let port = port.unwrap_or(if tls.is_some() { 2376 } else { 2375 });
            Ok(Endpoint::Tcp {
                host: format!("{}:{port}", bracket(&h)),
                tls,
            })
        }
        "ssh" => {
            let (user, hostport) = match rest.rsplit_once('@') {
                Some((user, hostport)) => {
                    if user.contains(':') {
                        return Err(bad(
                            what,
                            "a password in an ssh:// address is not supported: use a key (ssh-agent)",
                        ));
                    }
                    if user.is_empty() {
                        return Err(bad(what, "the user before @ is empty"));
                    }
                    (Some(user.to_string()), hostport)
                }
                None => (None, rest),
            };
            let (h, port) = host_port(hostport, what)?;
            if h.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
                return Err(bad(what, "a host or user may not start with '-'"));
            }
            Ok(Endpoint::Ssh(SshTarget {
                user,
                host: h,
                port,
            }))
        }
        other => Err(bad(
            what,
            format!(
                "the scheme {other}:// is not supported: use unix://, tcp:// (with \
                 DOCKER_TLS_VERIFY for TLS) or ssh://"
            ),
        )),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host[:port]` (IPv6 in brackets), with nothing after it.
fn host_port(text: &str, what: &str) -> Result<(String, Option<u16>), DockerError> {
    let text = text.strip_suffix('/').unwrap_or(text);
    if text.contains(['/', '?', '#']) {
        return Err(bad(
            what,
            "nothing may follow the host and port (no path, query or fragment)",
        ));
    }
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Err(bad(what, "an unclosed [ in the host"));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad(what, "expected :PORT after ]"))?,
            ),
        };
        (h.to_string(), port)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (text.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad(what, "the host is empty"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            bad(
                what,
                format!("the port {p:?} is not a number from 1 to 65535"),
            )
        })?),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> Env {
        Env {
            docker_config: Some(dir.display().to_string()),
            ..Default::default()
        }
    }

    fn write_context(dir: &Path, name: &str, host: &str) -> PathBuf {
        let id = hex::encode(Sha256::digest(name.as_bytes()));
        let meta = dir.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
            ),
        )
        .unwrap();
        dir.join("contexts/tls").join(id).join("docker")
    }

    #[test]
    fn addresses_parse_as_the_docker_cli_reads_them() {
        let p = |h: &str| parse_host(h, None, h);
        assert_eq!(
            p("unix:///run/docker.sock").unwrap(),
            Endpoint::Unix("/run/docker.sock".into())
        );
        assert_eq!(
            p("tcp://10.1.2.3").unwrap(),
            Endpoint::Tcp {
                host: "10.1.2.3:2375".into(),
                tls: None
            }
        );
        assert_eq!(
            p("ssh://me@box:2222").unwrap(),
            Endpoint::Ssh(SshTarget {
                user: Some("me".into()),
                host: "box".into(),
                port: Some(2222)
            })
        );
        assert_eq!(
            p("ssh://[::1]").unwrap(),
            Endpoint::Ssh(SshTarget {
                user: None,
                host: "::1".into(),
                port: None
            })
        );
        for wrong in [
            "docker.sock",
            "ftp://x",
            "tcp://",
            "tcp://h:99999",
            "tcp://h:x",
            "ssh://me:pw@h",
            "ssh://h/path",
            "ssh://-oProxyCommand=x",
            "unix://relative",
        ] {
            let e = p(wrong).unwrap_err();
            assert_eq!(e.category(), crate::Category::BadInput, "{wrong}");
            assert!(e.to_string().contains(wrong), "{e}");
        }
    }

    #[test]
    fn docker_host_comes_before_any_context() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.5:2375");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"remote"}"#,
        )
        .unwrap();
        let mut e = env(dir.path());
        let r = resolve(&e).unwrap();
        assert_eq!(r.address, "tcp://10.0.0.5:2375");
        assert!(matches!(r.choice, Choice::CurrentContext { ref name, .. } if name == "remote"));
        e.docker_host = Some("unix:///x.sock".into());
        e.docker_context = Some("nope".into());
        let r = resolve(&e).unwrap();
        assert_eq!(r.choice, Choice::DockerHost);
        assert_eq!(r.endpoint, Endpoint::Unix("/x.sock".into()));
    }

    #[test]
    fn docker_context_wins_over_the_config_and_default_means_local() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "a", "ssh://a");
        write_context(dir.path(), "b", "ssh://b");
        std::fs::write(dir.path().join("config.json"), r#"{"currentContext":"a"}"#).unwrap();
        let mut e = env(dir.path());
        e.docker_context = Some("b".into());
        assert_eq!(resolve(&e).unwrap().address, "ssh://b");
        e.docker_context = Some("default".into());
        assert!(matches!(resolve(&e).unwrap().endpoint, Endpoint::Unix(_)));
    }

    #[test]
    fn an_unknown_context_is_bad_input_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env(dir.path());
        e.docker_context = Some("ghost".into());
        let err = resolve(&e).unwrap_err();
        assert_eq!(err.category(), crate::Category::BadInput);
        assert!(err.to_string().contains("DOCKER_CONTEXT=ghost"), "{err}");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"gone"}"#,
        )
        .unwrap();
        e.docker_context = None;
        let err = resolve(&e).unwrap_err();
        assert!(err.to_string().contains("\"gone\""), "{err}");
    }

    #[test]
    fn a_context_s_tls_material_is_used_and_must_be_complete() {
        let dir = tempfile::tempdir().unwrap();
        let tls = write_context(dir.path(), "secure", "tcp://h:2376");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("ca.pem"), "x").unwrap();
        let mut e = env(dir.path());
        e.docker_context = Some("secure".into());
        let r = resolve(&e).unwrap();
        assert_eq!(
            r.endpoint,
            Endpoint::Tcp {
                host: "h:2376".into(),
                tls: Some(TlsFiles {
                    ca: tls.join("ca.pem"),
                    client: None
                })
            }
        );
        std::fs::write(tls.join("cert.pem"), "x").unwrap();
        let err = resolve(&e).unwrap_err();
        assert!(err.to_string().contains("key.pem"), "{err}");
    }

    #[test]
    fn docker_tls_verify_needs_the_ca_in_the_cert_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = Env {
            docker_host: Some("tcp://h".into()),
            docker_tls_verify: Some("1".into()),
            docker_cert_path: Some(dir.path().display().to_string()),
            ..Default::default()
        };
        let err = resolve(&e).unwrap_err();
        assert_eq!(err.category(), crate::Category::BadInput);
        assert!(err.to_string().contains("ca.pem"), "{err}");
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let r = resolve(&e).unwrap();
        assert!(matches!(r.endpoint, Endpoint::Tcp { ref host, tls: Some(_) } if host == "h:2376"));
    }
}
