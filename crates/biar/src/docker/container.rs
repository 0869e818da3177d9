//! A builder container: the builder image with the store volume at `/nix`, alive exactly as long
//! as the [`BuilderContainer`] value that started it.
//!
//! Each build gets a fresh container (label `biar=builder`, auto-removed). Why not exec in one
//! long-lived container: Docker has no call to kill an exec'd process, so the only reliable way to
//! stop a cancelled `nix-build` is to kill its container; a container per build also keeps
//! concurrent builds' uploaded files apart. The shared state (the store) lives on the volume.
//!
//! The container's main process is `cat` reading the stdin we hold through an attach: when this
//! process goes away for any reason (even SIGKILL), the connection closes, `cat` sees end of file,
//! the container exits and Docker removes it. A container not started yet (the owner died while
//! creating it) is removed by the watcher or the sweep of [`super::owner`].

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::{builder, owner, DockerError, Engine};
use crate::config::BuilderSettings;

/// The label every builder container carries (`biar=builder`), for status and cleanup.
pub const BUILDER_LABEL: (&str, &str) = ("biar", "builder");

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A running builder container. Dropping it stops and removes the container (see module docs);
/// [`BuilderContainer::remove`] does so and waits.
pub struct BuilderContainer {
    engine: Engine,
    id: String,
    name: String,
    /// The attached stdin of the container's `cat`: closing it ends the container. Only ever
    /// held and dropped; the mutex makes the container `Sync` (bollard's writer is only `Send`),
    /// so a `&BuilderContainer` can cross awaits in a `Send` future.
    stdin: Option<Mutex<Pin<Box<dyn AsyncWrite + Send>>>>,
    /// Keeps the attach connection read side alive.
    _attach_output: Option<tokio::task::JoinHandle<()>>,
    /// False once [`BuilderContainer::remove`] ran; until then Drop removes the container.
    alive: bool,
}

impl std::fmt::Debug for BuilderContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuilderContainer")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// One chunk of a command's output (exec'd, or of an attached container).
#[derive(Debug, Clone)]
pub enum ExecOutput {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// The collected result of [`BuilderContainer::exec_output`].
#[derive(Debug, Clone)]
pub struct ExecResult {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A running exec: its output stream, then its exit code.
pub struct Exec {
    engine: Engine,
    exec_id: String,
    command: String,
    container: String,
    output: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
}

impl BuilderContainer {
    /// Starts a builder container from `settings.image` with `settings.store_volume` at `/nix`.
    /// `purpose` goes into the name (`biar-build-…`). Fails with "run `biar-tui builder create`"
    /// when the image or the volume is missing.
    pub async fn start(
        engine: &Engine,
        settings: &BuilderSettings,
        purpose: &str,
    ) -> Result<BuilderContainer, DockerError> {
        BuilderContainer::start_with(engine, settings, purpose, &[]).await
    }

    /// [`BuilderContainer::start`] with folders of the engine's machine mounted at the same
    /// path (read-write), e.g. a `file://` binary cache, so its URL means the same inside.
    pub async fn start_with(
        engine: &Engine,
        settings: &BuilderSettings,
        purpose: &str,
        host_dirs: &[String],
    ) -> Result<BuilderContainer, DockerError> {
        builder::ensure_exists(engine, settings).await?;
        owner::sweep(engine).await;
        let name = format!(
            "biar-{purpose}-{}-{}-{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut labels = owner::labels();
        labels.insert(BUILDER_LABEL.0.to_string(), BUILDER_LABEL.1.to_string());
        let body = ContainerCreateBody {
            image: Some(settings.image.clone()),
            cmd: Some(vec!["cat".to_string()]),
            open_stdin: Some(true),
            stdin_once: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            working_dir: Some("/".to_string()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                auto_remove: Some(true),
                // A build shares the machine: its memory (swap included) and process count are
                // bounded (`builder.memory`, `builder.pids`).
                memory: settings.memory_bytes(),
                memory_swap: settings.memory_bytes(),
                pids_limit: Some(settings.pids),
                mounts: Some(
                    std::iter::once(Mount {
                        target: Some("/nix".to_string()),
                        source: Some(settings.store_volume.clone()),
                        typ: Some(MountType::VOLUME),
                        ..Default::default()
                    })
                    .chain(host_dirs.iter().map(|dir| Mount {
                        target: Some(dir.clone()),
                        source: Some(dir.clone()),
                        typ: Some(MountType::BIND),
                        ..Default::default()
                    }))
                    .collect(),
                ),
                // `builder.network`: empty is the engine's default; `host` reaches services on
                // the engine's loopback (a binary cache on 127.0.0.1).
                network_mode: (!settings.network.is_empty()).then(|| settings.network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created =
            owner::create_container(engine, &name, body)
                .await
                .map_err(DockerError::api(format!(
                    "creating builder container {name} from {}",
                    settings.image
                )))?;
        let mut container = BuilderContainer {
            engine: engine.clone(),
            id: created.id,
            name,
            stdin: None,
            _attach_output: None,
            alive: true,
        };
        match container.attach_and_start().await {
            Ok(()) => {}
            Err(e) => {
                container.remove().await;
                return Err(e);
            }
        }
        Ok(container)
    }

    async fn attach_and_start(&mut self) -> Result<(), DockerError> {
        let docker = &self.engine.docker;
        let attached = docker
            .attach_container(
                &self.id,
                Some(
                    AttachContainerOptionsBuilder::default()
                        .stream(true)
                        .stdin(true)
                        .stdout(true)
                        .stderr(true)
                        .build(),
                ),
            )
            .await
            .map_err(DockerError::api(format!("attaching to {}", self.name)))?;
        self.stdin = Some(Mutex::new(attached.input));
        let mut output = attached.output;
        self._attach_output = Some(tokio::spawn(async move {
            while let Some(Ok(_)) = output.next().await {}
        }));
        docker
            .start_container(
                &self.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(DockerError::api(format!("starting {}", self.name)))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Extracts a tar stream into the container at `dest` (an existing folder, e.g. `/`). Works
    /// with a remote engine: the bytes travel over the API.
    pub async fn upload_tar<S>(&self, dest: &str, tar: S) -> Result<(), DockerError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        self.engine
            .docker
            .upload_to_container(
                &self.id,
                Some(
                    UploadToContainerOptionsBuilder::default()
                        .path(dest)
                        .build(),
                ),
                bollard::body_try_stream(tar),
            )
            .await
            .map_err(DockerError::api(format!(
                "uploading files to {}:{dest}",
                self.name
            )))
    }

    /// Starts `cmd` in the container; read its output from the returned [`Exec`].
    pub async fn exec(&self, cmd: &[&str], env: &[&str]) -> Result<Exec, DockerError> {
        exec(&self.engine, &self.id, cmd, env).await
    }

    /// Runs `cmd` to completion and collects its output (for small outputs only).
    pub async fn exec_output(&self, cmd: &[&str]) -> Result<ExecResult, DockerError> {
        let mut exec = self.exec(cmd, &[]).await?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        while let Some(chunk) = exec.next().await {
            match chunk? {
                ExecOutput::Stdout(b) => stdout.extend_from_slice(&b),
                ExecOutput::Stderr(b) => stderr.extend_from_slice(&b),
            }
        }
        let exit_code = exec.exit_code().await?;
        Ok(ExecResult {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// Like [`BuilderContainer::exec_output`], but a non-zero exit is an error carrying the end
    /// of stderr; returns stdout.
    pub async fn exec_checked(&self, cmd: &[&str]) -> Result<Vec<u8>, DockerError> {
        let result = self.exec_output(cmd).await?;
        if result.exit_code != 0 {
            return Err(DockerError::ExecFailed {
                command: cmd.join(" "),
                container: self.name.clone(),
                code: result.exit_code,
                stderr_tail: tail(&result.stderr, 40),
            });
        }
        Ok(result.stdout)
    }

    /// The binary-safe stdout of `cmd` (e.g. `nix-store --dump PATH`) as a stream of chunks;
    /// stderr is kept aside and, if the command exits non-zero, the stream ends with an
    /// [`DockerError::ExecFailed`] carrying its last lines.
    pub fn exec_stream_stdout(
        &self,
        cmd: &[&str],
    ) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + 'static {
        exec_stream_stdout(&self.engine, &self.id, cmd)
    }

    /// Kills and removes the container now, and waits until it is gone (at most a few seconds).
    pub async fn remove(mut self) {
        self.alive = false;
        self.stdin.take();
        remove_container(&self.engine, &self.id).await;
        owner::unwatch(&self.name);
    }
}

impl Drop for BuilderContainer {
    fn drop(&mut self) {
        // Closing stdin already ends a started container (see module docs); removing it
        // explicitly makes that immediate, and also covers a container dropped (e.g. a cancelled
        // build) between its creation and its start.
        self.stdin.take();
        if self.alive {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let engine = self.engine.clone();
                let id = self.id.clone();
                let name = self.name.clone();
                handle.spawn(async move {
                    remove_container(&engine, &id).await;
                    owner::unwatch(&name);
                });
            }
        }
        if let Some(task) = self._attach_output.take() {
            task.abort();
        }
    }
}

/// Force-removes a container, ignoring "already gone" and "removal in progress".
pub async fn remove_container(engine: &Engine, id: &str) {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(false)
        .build();
    if let Err(err) = engine.docker.remove_container(id, Some(opts)).await {
        if !DockerError::is_not_found(&err) {
            tracing::debug!("removing container {id}: {err}");
        }
    }
    // Auto-removal may still be running: wait until the engine no longer knows it.
    for _ in 0..50 {
        match engine
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Err(e) if DockerError::is_not_found(&e) => return,
            Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Starts `cmd` in a running container (by id or name) with stdout and stderr attached.
pub async fn exec(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
    env: &[&str],
) -> Result<Exec, DockerError> {
    let command = cmd.join(" ");
    let created = engine
        .docker
        .create_exec(
            container,
            ExecConfig {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                env: (!env.is_empty()).then(|| env.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                ..Default::default()
            },
        )
        .await
        .map_err(DockerError::api(format!("exec `{command}` in {container}")))?;
    let started = engine
        .docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(64 * 1024),
            }),
        )
        .await
        .map_err(DockerError::api(format!(
            "starting `{command}` in {container}"
        )))?;
    match started {
        StartExecResults::Attached { output, .. } => Ok(Exec {
            engine: engine.clone(),
            exec_id: created.id,
            command,
            container: container.to_string(),
            output,
        }),
        StartExecResults::Detached => Err(DockerError::Other(format!(
            "exec `{command}` in {container} started detached"
        ))),
    }
}

impl Exec {
    /// The next chunk of output, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<ExecOutput, DockerError>> {
        loop {
            let item = self.output.next().await?;
            return Some(match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    Ok(ExecOutput::Stdout(message))
                }
                Ok(LogOutput::StdErr { message }) => Ok(ExecOutput::Stderr(message)),
                Ok(LogOutput::StdIn { .. }) => continue,
                Err(e) => Err(DockerError::api(format!(
                    "reading the output of `{}`",
                    self.command
                ))(e)),
            });
        }
    }

    /// The command's exit code, once its output has ended.
    pub fn exit_code(
        &self,
    ) -> impl std::future::Future<Output = Result<i64, DockerError>> + Send + 'static {
        let engine = self.engine.clone();
        let exec_id = self.exec_id.clone();
        let command = self.command.clone();
        let container = self.container.clone();
        exit_code(engine, exec_id, command, container)
    }

    pub fn command(&self) -> &str {
        &self.command
    }

    pub fn container(&self) -> &str {
        &self.container
    }
}

async fn exit_code(
    engine: Engine,
    exec_id: String,
    command: String,
    container: String,
) -> Result<i64, DockerError> {
    // The output ends a moment before the engine records the exit.
    for _ in 0..100 {
        let info = engine
            .docker
            .inspect_exec(&exec_id)
            .await
            .map_err(DockerError::api(format!("inspecting `{command}`")))?;
        if info.running != Some(true) {
            if let Some(code) = info.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(DockerError::Other(format!(
        "`{command}` in {container}: the engine never reported an exit code"
    )))
}

/// The binary-safe stdout of `cmd` run in `container` (any running container with the store, e.g.
/// a [`BuilderContainer`]), as a stream. A non-zero exit ends the stream with
/// [`DockerError::ExecFailed`] holding the last lines of stderr.
pub fn exec_stream_stdout(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + 'static {
    let engine = engine.clone();
    let container = container.to_string();
    let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    async_stream::try_stream! {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let mut exec = exec(&engine, &container, &args, &[]).await?;
        let mut stderr = Vec::new();
        while let Some(chunk) = exec.next().await {
            match chunk? {
                ExecOutput::Stdout(b) => yield b,
                ExecOutput::Stderr(b) => {
                    stderr.extend_from_slice(&b);
                    if stderr.len() > 64 * 1024 {
                        stderr.drain(..stderr.len() - 32 * 1024);
                    }
                }
            }
        }
        let code = exec.exit_code().await?;
        if code != 0 {
            Err(DockerError::ExecFailed {
                command: cmd.join(" "),
                container: container.clone(),
                code,
                stderr_tail: tail(&stderr, 40),
            })?;
        }
    }
}

/// The most of one line [`tail`] keeps (a runaway line must not fill an error message).
const MAX_TAIL_LINE: usize = 4096;

/// The last `n` lines of `bytes`, as text, each cut at [`MAX_TAIL_LINE`] bytes.
pub fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            let mut cut = l.len().min(MAX_TAIL_LINE);
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            &l[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail(b"", 2), "");
        let long = vec![b'x'; 10 * MAX_TAIL_LINE];
        assert_eq!(tail(&long, 2).len(), MAX_TAIL_LINE);
    }
}
