//! A container attached to this process's stdin/stdout, in the docker CLI's order: create (with
//! the console size) → wait stream → attach → start → resize (retried) → resize on SIGWINCH →
//! finish on exit or end of output. The container is removed at the end, also on error, on
//! SIGTERM or SIGHUP (the terminal closed), or when the future is dropped; if this process dies
//! without removing it, the watcher of [`crate::docker::owner`] does.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::copy::{self, Manifest};
use super::terminal::{self, RawMode, StdinPump};
use super::{DirectRoot, RunAs, RunError, WorkdirMount};
use crate::docker::{owner, AttachedSpec, ContainerState, DockerError, Engine, ExecOutput};

/// Keys that detach from the container (which is then removed). Docker's default, Ctrl-P Ctrl-Q,
/// would swallow Ctrl-P (shell history) while it waits for the second key.
pub const DETACH_KEYS: &str = "ctrl-]";

/// Once the container has exited, the run ends when no output came for this long, if the Engine
/// keeps the attach connection open.
const EXIT_DRAIN: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// `name:tag` of a local image (unused with `direct`).
    pub image: String,
    /// Run the environment from the store volume instead of an image (see [`super::direct`]).
    pub direct: Option<DirectRoot>,
    /// The command; `None` runs the image's default (the shell).
    pub cmd: Option<Vec<String>>,
    /// A host folder and where it is mounted (also the working directory): the project's
    /// `workdir/`, checked by [`super::project_workdir`].
    pub workdir_mount: Option<WorkdirMount>,
    /// Give the container a TTY and put this terminal in raw mode (see [`terminal::is_interactive`]).
    pub tty: bool,
    /// `KEY=value` pairs added to the image's environment.
    pub env: Vec<String>,
    /// The container's name; a unique `biar-run-…` one if `None`.
    pub name: Option<String>,
    /// Run as this user instead of the image's (the owner of `workdir/`, see [`RunAs`]).
    pub run_as: Option<RunAs>,
    /// Told what happens around the run the user should know of (workdir/ copied to a remote
    /// engine and back).
    pub notices: Notices,
    /// Told `started` once the engine has started the command (benchmarks time it).
    pub on_started: Notices,
}

/// Where [`run_attached`] says what it does besides running (the front end prints it).
#[derive(Clone, Default)]
pub struct Notices(Option<std::sync::Arc<Say>>);

type Say = dyn Fn(&str) + Send + Sync;

impl Notices {
    pub fn new(say: impl Fn(&str) + Send + Sync + 'static) -> Notices {
        Notices(Some(std::sync::Arc::new(say)))
    }

    fn say(&self, text: &str) {
        if let Some(say) = &self.0 {
            say(text)
        }
    }
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Notices(..)"
        } else {
            "Notices(none)"
        })
    }
}

/// `workdir/` copied into a volume of an engine that does not see this machine's files.
struct WorkdirCopy {
    volume: String,
    host: std::path::PathBuf,
    target: String,
}

/// Runs `spec` attached to the process's real stdin/stdout/stderr and returns the command's exit
/// code. Call it after the TUI has stopped reading the keyboard (and left the alternate screen);
/// when it returns, nothing reads stdin any more and the terminal mode is as it was.
///
/// SIGTERM or SIGHUP meanwhile stop and remove the container and return
/// [`RunError::Interrupted`]; the caller then ends the process as that signal would.
pub async fn run_attached(engine: &Engine, spec: &RunSpec) -> Result<i64, RunError> {
    // Listen before anything is created, so no signal finds a container we would not remove.
    let mut stop = StopSignals::new()?;
    // Without an image: its root image and where the store volume lies, before anything else
    // (a failure here leaves nothing behind, and the caller may fall back to an image).
    let direct = match &spec.direct {
        Some(d) => Some(prepare_direct(engine, d).await?),
        None => {
            let exists = engine
                .image_exists(&spec.image)
                .await
                .map_err(RunError::docker("inspect the image"))?;
            if !exists {
                return Err(RunError::ImageMissing {
                    image: spec.image.clone(),
                });
            }
            None
        }
    };
    let swept = owner::sweep(engine).await;
    for volume in &swept.volumes {
        spec.notices.say(&format!(
            "removed volume {volume} on {}: a copy of workdir/ left by a run whose biar-tui is \
             gone (killed); changes in it that were not copied back are gone with it",
            engine.address
        ));
    }
    let name = spec.name.clone().unwrap_or_else(unique_name);
    let mut guard = Removal::new(engine, &name);
    // An engine reached over the network would read a bind mount's path on its own host: it
    // gets a copy instead.
    let copy = match &spec.workdir_mount {
        Some(m) if !engine.sees_host_paths() => Some(WorkdirCopy {
            volume: format!("{name}-workdir"),
            host: m.host().to_path_buf(),
            target: m.target().to_string(),
        }),
        _ => None,
    };
    if let Some(c) = &copy {
        engine
            .create_volume(&c.volume, "workdir")
            .await
            .map_err(RunError::docker("create the volume for workdir/"))?;
        guard.volume = Some(c.volume.clone());
    }
    let mut sent: Option<Manifest> = None;
    let run = async {
        let id = match create(engine, spec, &name, copy.as_ref(), direct.as_ref()).await {
            // No view of the closure in the volume (made by an older biar-tui, or gone): one
            // bind per store path instead.
            Err(RunError::DirectUnavailable { .. })
                if spec.direct.as_ref().is_some_and(|d| d.view.is_some()) =>
            {
                let d = spec.direct.as_ref().expect("checked");
                let paths = DirectRoot {
                    view: None,
                    ..d.clone()
                };
                let retry = direct.as_ref().map(|p| PreparedDirect {
                    root_image: p.root_image.clone(),
                    binds: paths.binds(&p.mountpoint).unwrap_or_default(),
                    mountpoint: p.mountpoint.clone(),
                });
                create(engine, spec, &name, copy.as_ref(), retry.as_ref()).await?
            }
            other => other?,
        };
        if let Some(c) = &copy {
            spec.notices.say(&format!(
                "workdir/ is copied to the engine at {} (it cannot see this machine's files), \
                 not mounted: changes made here during the run are not seen there",
                engine.address
            ));
            let owner = match &spec.direct {
                Some(d) => (d.root.uid, d.root.gid),
                None => engine
                    .image_user(&spec.image)
                    .await
                    .map_err(RunError::docker("inspect the image"))?
                    .unwrap_or((0, 0)),
            };
            let (manifest, stats) = copy::copy_in(engine, &id, &c.host, &c.target, owner).await?;
            sent = Some(manifest);
            spec.notices.say(&format!(
                "workdir/: {} files ({}) copied into volume {}; the container's changes come \
                 back when the run ends",
                stats.files,
                human_bytes(stats.bytes),
                c.volume
            ));
        }
        attach_and_wait(engine, spec, &id).await
    };
    let result = tokio::select! {
        r = run => r,
        signal = stop.recv() => Err(RunError::Interrupted { signal }),
    };
    let mut keep_volume = false;
    if let (Some(c), Some(manifest)) = (&copy, sent.take()) {
        match copy::copy_back(engine, &name, &c.host, &c.target, manifest).await {
            Ok(report) => say_copied_back(&spec.notices, &report),
            Err(e) => {
                keep_volume = true;
                // The only copy of the container's changes: not for the watcher or a sweep.
                let kept = match engine.keep_volume(&c.volume).await {
                    Ok(marker) => format!(
                        "; remove it and the marker volume {marker} with `docker volume rm` when \
                         done"
                    ),
                    Err(e) => format!(
                        "; it may be removed once this biar-tui has ended, as it could not be \
                         marked to keep ({e})"
                    ),
                };
                spec.notices.say(&format!(
                    "workdir/ could not be copied back from the engine: {e}\n  the container's \
                     copy stays in volume {} on {}{kept}",
                    c.volume, engine.address
                ));
            }
        }
    }
    // After a signal the create request may still be on its way to the engine, and the container
    // appear after our removal: the watcher keeps its name and removes it once we are gone.
    let interrupted = matches!(result, Err(RunError::Interrupted { .. }));
    guard.volume = None;
    guard.remove_now(!interrupted).await;
    if let Some(c) = copy.filter(|_| !keep_volume) {
        if let Err(e) = engine.remove_volume(&c.volume).await {
            spec.notices.say(&format!("{e}"));
        }
    }
    result
}

fn say_copied_back(notices: &Notices, report: &copy::CopyBack) {
    let mut text = format!(
        "workdir/: copied back from the engine: {} changed or new, {} deleted",
        report.updated, report.deleted
    );
    if report.refused > 0 {
        text.push_str(&format!(
            ", {} entries refused (outside workdir/ or not files)",
            report.refused
        ));
    }
    for path in &report.conflicts {
        text.push_str(&format!(
            "\n  {} changed here and in the container: the container's version is {}.from-container",
            path.display(),
            path.display()
        ));
    }
    notices.say(&text);
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} bytes"),
    }
}

/// SIGTERM and SIGHUP, for the time of a run.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> Result<StopSignals, RunError> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen =
            |kind| signal(kind).map_err(|e| RunError::Other(format!("cannot handle signals: {e}")));
        Ok(StopSignals {
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    /// The number of the first signal that arrives.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        }
    }
}

fn unique_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "biar-run-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a run without an image needs from the engine: its root image and the closure's binds.
struct PreparedDirect {
    root_image: String,
    binds: Vec<(String, String)>,
    mountpoint: String,
}

async fn prepare_direct(engine: &Engine, d: &DirectRoot) -> Result<PreparedDirect, RunError> {
    let unavailable = |reason: String| RunError::DirectUnavailable { reason };
    let mountpoint = engine
        .volume_mountpoint(&d.store_volume)
        .await
        .map_err(|e| unavailable(e.reason()))?
        .ok_or_else(|| {
            unavailable(format!(
                "the engine does not say where the volume {} lies",
                d.store_volume
            ))
        })?;
    let binds = d.binds(&mountpoint)?;
    let root_image = super::direct::ensure_root_image(engine, d)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(PreparedDirect {
        root_image,
        binds,
        mountpoint,
    })
}

async fn create(
    engine: &Engine,
    spec: &RunSpec,
    name: &str,
    copy: Option<&WorkdirCopy>,
    direct: Option<&PreparedDirect>,
) -> Result<String, RunError> {
    let attached = AttachedSpec {
        image: match direct {
            Some(p) => p.root_image.clone(),
            None => spec.image.clone(),
        },
        cmd: spec.cmd.clone(),
        env: spec.env.clone(),
        read_only_binds: direct.map(|p| p.binds.clone()).unwrap_or_default(),
        tty: spec.tty,
        bind: match copy {
            Some(_) => None,
            None => spec
                .workdir_mount
                .as_ref()
                .map(|m| (m.host().display().to_string(), m.target().to_string())),
        },
        volume: copy.map(|c| (c.volume.clone(), c.target.clone())),
        user: spec.run_as.as_ref().map(RunAs::user_spec),
        console_size: if spec.tty {
            terminal::size().map(|(c, r)| (r, c))
        } else {
            None
        },
    };
    let id = engine
        .create_attachable(name, &attached)
        .await
        .map_err(|e| {
            match direct {
                // A bind the engine refused (a store path gone, a volume it cannot see as a
                // folder): the image may still do.
                Some(_) => RunError::DirectUnavailable { reason: e.reason() },
                None => RunError::docker("create the container")(e),
            }
        })?;
    if let Some(run_as) = &spec.run_as {
        // Before it starts, so the user exists from the first instruction on.
        engine
            .put_files(&id, "/", run_as.files_tar())
            .await
            .map_err(RunError::docker("give the container its user"))?;
    }
    Ok(id)
}

async fn attach_and_wait(engine: &Engine, spec: &RunSpec, id: &str) -> Result<i64, RunError> {
    // Wait stream first, so the exit is seen however fast the command is.
    let exit_rx = engine.wait_exit(id);
    // Let the wait request reach the Engine before the container can exit.
    tokio::task::yield_now().await;

    let attached = engine
        .attach(id, DETACH_KEYS)
        .await
        .map_err(RunError::docker("attach to the container"))?;
    let mut output = attached.output;
    let mut input = attached.input;

    let raw = if spec.tty {
        Some(RawMode::enable()?)
    } else {
        None
    };

    engine.start_container(id).await.map_err(start_error)?;
    spec.on_started.say("started");

    if spec.tty {
        resize_with_retry(engine, id).await;
    }

    let (in_tx, mut in_rx) = mpsc::channel::<Option<Bytes>>(16);
    let pump = StdinPump::start(in_tx);
    let mut winch = if spec.tty {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
    } else {
        None
    };
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut stdin_open = true;
    let mut exit_rx = exit_rx;
    // The wait stream's answer, once it came: `Some(code)`, where `code` is `None` if the wait
    // failed. The end of output normally ends the loop, but the attach connection is the Engine's
    // to close: once the container has exited, output may go on flowing (a slow link), and when
    // none came for `EXIT_DRAIN` the run is over whether or not the connection closed (a run must
    // never outlive its shell).
    let mut exited: Option<Option<i64>> = None;
    let drain = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(drain);
    let interrupted = loop {
        tokio::select! {
            code = &mut exit_rx, if exited.is_none() => {
                exited = Some(code.ok().flatten());
                drain.as_mut().reset(tokio::time::Instant::now() + EXIT_DRAIN);
            }
            _ = &mut drain, if exited.is_some() => break false,
            item = output.next() => {
                if exited.is_some() {
                    drain.as_mut().reset(tokio::time::Instant::now() + EXIT_DRAIN);
                }
                match item {
                    Some(Ok(ExecOutput::Stderr(message))) => {
                        let _ = stderr.write_all(&message).await;
                        let _ = stderr.flush().await;
                    }
                    Some(Ok(ExecOutput::Stdout(message))) => {
                        let _ = stdout.write_all(&message).await;
                        let _ = stdout.flush().await;
                    }
                    // End of output: the command exited (or we were detached).
                    Some(Err(_)) | None => break false,
                }
            }
            chunk = in_rx.recv(), if stdin_open => match chunk {
                Some(Some(bytes)) => {
                    if input.write_all(&bytes).await.is_err() {
                        stdin_open = false;
                    }
                    let _ = input.flush().await;
                }
                // EOF on our stdin: close the container's (half-close the attach connection).
                Some(None) | None => {
                    stdin_open = false;
                    let _ = input.shutdown().await;
                }
            },
            Some(()) = async { match winch.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                resize(engine, id).await;
            }
            _ = tokio::signal::ctrl_c(), if !spec.tty => break true,
        }
    };
    pump.stop().await;
    drop(raw);
    if interrupted {
        // SIGINT outside a TTY: stop the container; the shell convention is 128 + 2.
        engine.kill_container(id).await;
        return Ok(130);
    }
    // The wait stream normally has the code by now. If its request reached the Engine only after
    // a very fast command had exited, it waits for an exit that already happened: the container's
    // own state then has the code.
    let code = match exited {
        Some(code) => code,
        None => match tokio::time::timeout(Duration::from_millis(200), exit_rx).await {
            Ok(Ok(code)) => code,
            _ => None,
        },
    };
    match code {
        Some(code) => Ok(code),
        None => exit_code_from_inspect(engine, id).await,
    }
}

/// A failed start. When the engine could not execute the command, the code a shell (and the docker
/// CLI) gives: 127 not found, 126 found but not executable.
fn start_error(e: DockerError) -> RunError {
    let reason = e.reason();
    match command_failure_code(&reason) {
        Some(code) => RunError::CommandNotRun { code, reason },
        None => RunError::Docker {
            what: "start the container".into(),
            reason,
        },
    }
}

/// The docker CLI's rule (`runStartContainerErr`), applied to the runtime's exec failures.
fn command_failure_code(message: &str) -> Option<u8> {
    if !(message.contains("exec") || message.contains("starting container process")) {
        return None;
    }
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        Some(127)
    } else if message.contains("permission denied") || message.contains("is a directory") {
        Some(126)
    } else {
        None
    }
}

/// The exit code from the container's state; [`RunError::Detached`] if it still runs after a
/// moment (the output ended because we detached, not because it exited).
async fn exit_code_from_inspect(engine: &Engine, id: &str) -> Result<i64, RunError> {
    for _ in 0..40 {
        let state = engine
            .container_state(id)
            .await
            .map_err(RunError::docker("inspect the container"))?;
        match state {
            Some(ContainerState::Running) => {}
            Some(ContainerState::Exited(code)) => return Ok(code),
            None => return Ok(0),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(RunError::Detached)
}

async fn resize(engine: &Engine, id: &str) -> bool {
    let Some((cols, rows)) = terminal::size() else {
        return true;
    };
    engine.resize_tty(id, cols, rows).await
}

/// Right after start the TTY may not exist yet: the docker CLI retries too.
async fn resize_with_retry(engine: &Engine, id: &str) {
    for attempt in 0..10u64 {
        if resize(engine, id).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
    }
}

/// Removes the container when the run ends, also when the future is dropped midway (then
/// `volume` too, the copy of `workdir/`, which the run removes itself otherwise).
struct Removal {
    engine: Engine,
    name: String,
    volume: Option<String>,
    done: bool,
}

impl Removal {
    fn new(engine: &Engine, name: &str) -> Removal {
        Removal {
            engine: engine.clone(),
            name: name.to_string(),
            volume: None,
            done: false,
        }
    }

    /// Removes the container; `unwatch`: tell the watcher it is gone.
    async fn remove_now(&mut self, unwatch: bool) {
        self.done = true;
        owner::remove(&self.engine, &self.name).await;
        if unwatch {
            owner::unwatch(&self.name);
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Cancelled (or a create error left a container behind): remove it in the background.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let engine = self.engine.clone();
            let name = self.name.clone();
            let volume = self.volume.take();
            handle.spawn(async move {
                owner::remove(&engine, &name).await;
                owner::unwatch(&name);
                if let Some(volume) = volume {
                    // Failing, the watcher (at exit) or the next sweep removes it.
                    let _ = engine.remove_volume(&volume).await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::command_failure_code;

    #[test]
    fn exec_failures_map_to_the_shell_codes() {
        let not_found = "Docker responded with status code 400: OCI runtime create failed: \
            container_linux.go:380: starting container process caused: exec: \"nope\": \
            executable file not found in $PATH: unknown";
        assert_eq!(command_failure_code(not_found), Some(127));
        let no_file =
            "starting container process caused: exec: \"/x\": stat /x: no such file or directory";
        assert_eq!(command_failure_code(no_file), Some(127));
        let not_exec = "starting container process caused: exec: \"/hello.txt\": permission denied";
        assert_eq!(command_failure_code(not_exec), Some(126));
        assert_eq!(
            command_failure_code("driver failed programming external connectivity"),
            None
        );
    }
}
