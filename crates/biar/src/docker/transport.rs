//! The two ways to reach an engine that bollard's own clients do not cover here, as bollard
//! custom transports over a pooled HTTP/1 client (so hijacked streams — attach, exec — upgrade
//! as on a socket):
//! - **SSH**, the docker CLI's way: each connection is an `ssh [-l USER] [-p PORT] -- HOST docker
//!   system dial-stdio` child, HTTP spoken over its stdin/stdout. The user's own `ssh` (their
//!   `~/.ssh/config`, agent and known hosts) does the authentication; its stderr is kept for the
//!   message when the engine cannot be reached.
//! - **TCP + TLS** with the engine's CA (only that CA: the engine's certificate must chain to
//!   it, as with `DOCKER_TLS_VERIFY`) and a client certificate.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use super::endpoint::{SshTarget, TlsFiles};
use super::DockerError;

/// The request body type bollard sends (its own alias is private): named through the request.
trait BodyOf {
    type Body;
}
impl<B> BodyOf for http::Request<B> {
    type Body = B;
}
type Body = <BollardRequest as BodyOf>::Body;

/// How much of ssh's stderr is kept for messages.
const STDERR_KEEP: usize = 4096;

/// What ssh said last on stderr (e.g. `Permission denied (publickey)`), for the message when
/// the engine cannot be reached.
#[derive(Debug, Clone, Default)]
pub(crate) struct SshStderr(Arc<Mutex<Vec<u8>>>);

impl SshStderr {
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        crate::progress::neutralise_text(String::from_utf8_lossy(&bytes).trim())
    }

    fn push(&self, chunk: &[u8]) {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(chunk);
            if b.len() > STDERR_KEEP {
                let cut = b.len() - STDERR_KEEP;
                b.drain(..cut);
            }
        }
    }
}

/// How a new connection is made.
#[derive(Clone)]
enum Dial {
    Ssh {
        argv: Arc<Vec<String>>,
        stderr: SshStderr,
    },
    Tls {
        addr: String,
        server_name: rustls::pki_types::ServerName<'static>,
        connector: tokio_rustls::TlsConnector,
    },
}

/// One connection: an ssh child's pipes, or a TLS stream.
#[allow(clippy::large_enum_variant)] // One per connection: the size does not matter.
enum Pipe {
    Ssh {
        stdin: ChildStdin,
        stdout: ChildStdout,
        /// Killed when the connection is dropped (`kill_on_drop`).
        _child: Child,
    },
    Tls(TlsStream<TcpStream>),
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Pipe::Ssh { stdout, .. } => Pin::new(stdout).poll_read(cx, buf),
            Pipe::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Pipe::Ssh { stdin, .. } => Pin::new(stdin).poll_write(cx, buf),
            Pipe::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Pipe::Ssh { stdin, .. } => Pin::new(stdin).poll_flush(cx),
            Pipe::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Closes our sending side only (ssh passes the end of file on, dial-stdio half-closes the
    /// engine's socket): an attached container's stdin ends, its output still comes.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Pipe::Ssh { stdin, .. } => Pin::new(stdin).poll_shutdown(cx),
            Pipe::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl Connection for Pipe {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl tower_service::Service<http::Uri> for Dial {
    type Response = TokioIo<Pipe>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Pipe>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let dial = self.clone();
        Box::pin(async move {
            match dial {
                Dial::Ssh { argv, stderr } => {
                    let mut child = tokio::process::Command::new(&argv[0])
                        .args(&argv[1..])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .kill_on_drop(true)
                        .spawn()
                        .map_err(|e| io::Error::new(e.kind(), format!("running ssh: {e}")))?;
                    if let Some(mut err) = child.stderr.take() {
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 1024];
                            while let Ok(n) = err.read(&mut buf).await {
                                if n == 0 {
                                    break;
                                }
                                stderr.push(&buf[..n]);
                            }
                        });
                    }
                    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take())
                    else {
                        return Err(io::Error::other("ssh started without pipes"));
                    };
                    Ok(TokioIo::new(Pipe::Ssh {
                        stdin,
                        stdout,
                        _child: child,
                    }))
                }
                Dial::Tls {
                    addr,
                    server_name,
                    connector,
                } => {
                    let tcp = TcpStream::connect(&addr).await?;
                    let _ = tcp.set_nodelay(true);
                    let tls = connector.connect(server_name, tcp).await?;
                    Ok(TokioIo::new(Pipe::Tls(tls)))
                }
            }
        })
    }
}

/// A bollard client that sends every request through `dial`'s connections (kept alive and
/// reused, one per concurrent request).
fn client(
    dial: Dial,
    timeout_secs: u64,
    version: &ClientVersion,
) -> Result<Docker, bollard::errors::Error> {
    let client: Client<Dial, Body> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(dial);
    let client = Arc::new(client);
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let client = Arc::clone(&client);
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        // The authority is only the Host header: the connection is already to the engine.
        Some("http://docker"),
        timeout_secs,
        version,
    )
}

/// The docker CLI's ssh command line for `target`.
pub(crate) fn ssh_argv(target: &SshTarget) -> Vec<String> {
    let mut argv = vec![
        "ssh".to_string(),
        // As the docker CLI: give up on an unreachable host, never allocate a terminal.
        "-o".into(),
        "ConnectTimeout=30".into(),
        "-T".into(),
    ];
    if let Some(user) = &target.user {
        argv.extend(["-l".into(), user.clone()]);
    }
    if let Some(port) = target.port {
        argv.extend(["-p".into(), port.to_string()]);
    }
    argv.extend([
        "--".into(),
        target.host.clone(),
        "docker".into(),
        "system".into(),
        "dial-stdio".into(),
    ]);
    argv
}

/// A client of the engine behind `ssh://target`, and where ssh's stderr goes.
pub(crate) fn ssh(
    target: &SshTarget,
    timeout_secs: u64,
    version: &ClientVersion,
) -> Result<(Docker, SshStderr), bollard::errors::Error> {
    let stderr = SshStderr::default();
    let dial = Dial::Ssh {
        argv: Arc::new(ssh_argv(target)),
        stderr: stderr.clone(),
    };
    Ok((client(dial, timeout_secs, version)?, stderr))
}

/// A client of the engine at `host` (`name:port`) over TLS with `files`. A certificate or key
/// that does not parse is bad input naming the file.
pub(crate) fn tls(
    host: &str,
    files: &TlsFiles,
    timeout_secs: u64,
    version: &ClientVersion,
) -> Result<Docker, DockerError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let bad = |path: &Path, reason: String| DockerError::BadEndpoint {
        value: path.display().to_string(),
        reason,
    };
    let certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, DockerError> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(path, format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(bad(path, "holds no PEM certificate".into()));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(&files.ca)? {
        roots
            .add(cert)
            .map_err(|e| bad(&files.ca, format!("not a usable CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DockerError::Other(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let config = match &files.client {
        Some((cert, key)) => {
            let chain = certs(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| bad(key, format!("not a PEM private key: {e}")))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                bad(
                    cert,
                    format!("the client certificate and key do not fit: {e}"),
                )
            })?
        }
        None => builder.with_no_client_auth(),
    };
    let name = host
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let server_name =
        ServerName::try_from(name.to_string()).map_err(|e| DockerError::BadEndpoint {
            value: host.to_string(),
            reason: format!("not a host name for TLS: {e}"),
        })?;
    let dial = Dial::Tls {
        addr: host.to_string(),
        server_name,
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
    };
    client(dial, timeout_secs, version).map_err(|e| DockerError::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssh_command_is_the_docker_cli_s() {
        let argv = ssh_argv(&SshTarget {
            user: Some("root".into()),
            host: "127.0.0.1".into(),
            port: Some(2222),
        });
        assert_eq!(
            argv.join(" "),
            "ssh -o ConnectTimeout=30 -T -l root -p 2222 -- 127.0.0.1 docker system dial-stdio"
        );
    }
}
