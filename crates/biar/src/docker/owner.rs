//! Containers that must not outlive the process that made them, even when it is SIGKILLed.
//!
//! Signals we can handle (SIGINT, SIGTERM, SIGHUP) remove our containers before we exit. For the
//! rest there are two mechanisms:
//!
//! - **The watcher** (immediate): the first container this process creates starts a small helper
//!   process (the binary's hidden `__watch-containers` command, registered with [`set_watcher`]),
//!   in a session of its own so terminal signals do not reach it. Before each container is
//!   created its name is written to the helper's stdin (a pipe), and once the container is gone
//!   its name is withdrawn. When this process dies for any reason the kernel closes the pipe; the
//!   helper sees end of file and force-removes every name still listed. (Docker alone cannot do
//!   this: it ignores a closed attach stream under a TTY, and a container never started stays
//!   `Created`.)
//! - **The sweep** (fallback, e.g. the helper was killed too): every container carries a
//!   `biar.owner` label naming this kernel boot, PID namespace, PID and the PID's start time.
//!   Before creating a container, [`sweep`] removes those whose owner ran on this kernel and in
//!   this PID namespace and is gone. Containers of other machines sharing the engine are left
//!   alone.
//!
//! Named volumes that belong to one run (a run's copy of `workdir/` on a remote engine) carry the
//! same labels and are watched the same way (`+volume:NAME`: a container name never holds `:`);
//! the watcher and the sweep remove them after the containers that use them. A volume kept on
//! purpose (its changes could not be copied back) is named by a marker volume labelled
//! [`KEEPS_LABEL`], which the sweep leaves alone along with the volume it names.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

use bollard::models::VolumeCreateRequest;
use bollard::models::{ContainerCreateBody, ContainerCreateResponse};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions,
};
use tokio::io::AsyncBufReadExt;

use super::Engine;

/// The label naming a container's owner process (see module docs).
pub const OWNER_LABEL: &str = "biar.owner";

/// The label of a marker volume: its value names a volume the sweep must keep.
pub const KEEPS_LABEL: &str = "biar.keeps";

/// The watcher's line prefix for a volume (container names never hold `:`).
const VOLUME_PREFIX: &str = "volume:";

enum Watcher {
    /// No helper program registered (the library's own tests): the sweep alone applies.
    Unset,
    /// Registered, not started yet.
    Ready(PathBuf, Vec<OsString>),
    Running(ChildStdin),
    /// Could not start or went away: not retried.
    Gone,
}

static WATCHER: Mutex<Watcher> = Mutex::new(Watcher::Unset);

/// Registers the helper: `program args…` must run [`serve_watcher`] on its stdin. The binary
/// calls this at start.
pub fn set_watcher(program: PathBuf, args: Vec<OsString>) {
    let mut w = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if matches!(*w, Watcher::Unset) {
        *w = Watcher::Ready(program, args);
    }
}

/// The labels every container we create carries: `biar.pid` and [`OWNER_LABEL`].
pub fn labels() -> HashMap<String, String> {
    let mut labels = HashMap::from([("biar.pid".to_string(), std::process::id().to_string())]);
    if let Some(owner) = Owner::me() {
        labels.insert(OWNER_LABEL.to_string(), owner.label());
    }
    labels
}

/// Lists container `name` with the watcher before it is created: if this process dies before
/// [`unwatch`], the watcher removes it. Never fails (a missing watcher leaves the sweep).
pub fn watch(name: &str) {
    send(&format!("+{name}\n"));
}

/// The container `name` is gone (or removed by us): the watcher forgets it.
pub fn unwatch(name: &str) {
    send(&format!("-{name}\n"));
}

/// [`watch`] for the named volume `name`: listed before it is created, removed by the watcher
/// (after the containers) if this process dies first.
pub fn watch_volume(name: &str) {
    send(&format!("+{VOLUME_PREFIX}{name}\n"));
}

/// The volume `name` is gone, or kept on purpose: the watcher forgets it.
pub fn unwatch_volume(name: &str) {
    send(&format!("-{VOLUME_PREFIX}{name}\n"));
}

fn send(line: &str) {
    let mut w = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Watcher::Ready(program, args) = &*w {
        *w = match spawn(program, args) {
            Ok(stdin) => Watcher::Running(stdin),
            Err(e) => {
                tracing::warn!("cannot start the container watcher: {e}");
                Watcher::Gone
            }
        };
    }
    if let Watcher::Running(stdin) = &mut *w {
        // A pipe write of a short line: it does not block unless the watcher stopped reading.
        if stdin.write_all(line.as_bytes()).is_err() {
            *w = Watcher::Gone;
        }
    }
}

fn spawn(program: &PathBuf, args: &[OsString]) -> std::io::Result<ChildStdin> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // A session of its own: the terminal's SIGHUP and Ctrl-C do not reach it.
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin pipe"))
}

/// Creates container `name`, watched from before the request (see [`watch`]). The request runs
/// in a task of its own: if the caller's future is dropped meanwhile (a cancelled build, a
/// signal), the task still sees the answer and removes the container it made, so none is left
/// `Created`. The caller [`unwatch`]es once it has removed the container.
pub(super) async fn create_container(
    engine: &Engine,
    name: &str,
    body: ContainerCreateBody,
) -> Result<ContainerCreateResponse, bollard::errors::Error> {
    watch(name);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let engine = engine.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let result = engine.docker.create_container(Some(options), body).await;
        if result.is_err() {
            unwatch(&name);
        }
        if let Err(Ok(_)) = tx.send(result) {
            // Nobody waits for it any more: it must not stay.
            remove(&engine, &name).await;
            unwatch(&name);
        }
    });
    rx.await
        .unwrap_or_else(|_| Err(bollard::errors::Error::RequestTimeoutError))
}

/// The watcher's side: reads `+name` / `-name` lines from stdin until end of file (the owner
/// process is gone), then force-removes the containers still listed.
pub async fn serve_watcher() {
    let mut names = BTreeSet::new();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(name) = line.strip_prefix('+') {
            names.insert(name.to_string());
        } else if let Some(name) = line.strip_prefix('-') {
            names.remove(name);
        }
    }
    if names.is_empty() {
        return;
    }
    let Ok(engine) = super::connect().await else {
        return;
    };
    // Containers first: a volume in use cannot be removed.
    let (volumes, containers): (Vec<_>, Vec<_>) = names
        .into_iter()
        .partition(|n| n.starts_with(VOLUME_PREFIX));
    for name in containers {
        remove(&engine, &name).await;
    }
    for name in volumes {
        let _ = remove_volume(&engine, &name[VOLUME_PREFIX.len()..]).await;
    }
}

/// Force-removes container `name` (and its anonymous volumes); gone already is fine.
pub(crate) async fn remove(engine: &Engine, name: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let _ = engine.docker.remove_container(name, Some(options)).await;
}

/// Force-removes the named volume `name`; gone already is fine.
async fn remove_volume(engine: &Engine, name: &str) -> Result<(), bollard::errors::Error> {
    match engine
        .docker
        .remove_volume(name, None::<RemoveVolumeOptions>)
        .await
    {
        Err(e) if super::DockerError::is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Creates the named volume `name` with `labels` plus this process's owner labels, watched from
/// before the request (see [`watch_volume`]).
pub(super) async fn create_volume(
    engine: &Engine,
    name: &str,
    mut labels: HashMap<String, String>,
) -> Result<(), bollard::errors::Error> {
    watch_volume(name);
    labels.extend(self::labels());
    let result = engine
        .docker
        .create_volume(VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        })
        .await;
    if result.is_err() {
        unwatch_volume(name);
    }
    result.map(|_| ())
}

/// Keeps the volume `name` from the watcher and the sweep after this process ends: a marker
/// volume `NAME-kept` names it (volume labels cannot change). Returns the marker's name.
pub(super) async fn keep_volume(
    engine: &Engine,
    name: &str,
) -> Result<String, bollard::errors::Error> {
    let marker = format!("{name}-kept");
    engine
        .docker
        .create_volume(VolumeCreateRequest {
            name: Some(marker.clone()),
            labels: Some(HashMap::from([
                ("biar".to_string(), "kept".to_string()),
                (KEEPS_LABEL.to_string(), name.to_string()),
            ])),
            ..Default::default()
        })
        .await?;
    unwatch_volume(name);
    Ok(marker)
}

/// What [`sweep`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// How many containers.
    pub containers: usize,
    /// The volumes, by name (a run's copy of `workdir/`: changes in it not copied back are gone).
    pub volumes: Vec<String>,
}

/// Removes the containers, then the volumes, whose owner process ran on this machine (same
/// kernel boot, same PID namespace) and is gone; never a volume a marker keeps (see
/// [`keep_volume`]) nor one still in use. Logs what it removed.
pub async fn sweep(engine: &Engine) -> Swept {
    let mut swept = Swept::default();
    let Some(me) = Owner::me() else { return swept };
    let dead = |labels: Option<&HashMap<String, String>>| {
        labels
            .and_then(|l| l.get(OWNER_LABEL))
            .and_then(|v| Owner::parse(v))
            .is_some_and(|o| o.boot_id == me.boot_id && o.pid_ns == me.pid_ns && !o.is_alive())
    };
    let filters = HashMap::from([("label".to_string(), vec![OWNER_LABEL.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    if let Ok(containers) = engine.docker.list_containers(Some(options)).await {
        for c in containers {
            if !dead(c.labels.as_ref()) {
                continue;
            }
            if let Some(id) = c.id {
                remove(engine, &id).await;
                swept.containers += 1;
            }
        }
    }
    let options = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let Ok(list) = engine.docker.list_volumes(Some(options)).await else {
        return swept;
    };
    let volumes: Vec<_> = list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter(|v| dead(Some(&v.labels)))
        .collect();
    if volumes.is_empty() {
        return swept;
    }
    let keeps = HashMap::from([("label".to_string(), vec![KEEPS_LABEL.to_string()])]);
    let options = ListVolumesOptionsBuilder::default().filters(&keeps).build();
    let Ok(markers) = engine.docker.list_volumes(Some(options)).await else {
        // Cannot tell which are kept: remove none.
        return swept;
    };
    let kept: BTreeSet<String> = markers
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.labels.get(KEEPS_LABEL).cloned())
        .collect();
    for v in volumes {
        if kept.contains(&v.name) {
            continue;
        }
        match remove_volume(engine, &v.name).await {
            Ok(()) => {
                tracing::warn!(
                    "removed volume {} left by a biar-tui process that is gone",
                    v.name
                );
                swept.volumes.push(v.name);
            }
            // In use (a container of another engine's client) or refused: left.
            Err(e) => tracing::debug!("volume {} not removed: {e}", v.name),
        }
    }
    swept
}

/// Who made a container: enough to tell, on the same machine, whether that process still runs
/// (a PID alone may have been reused: its start time tells).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    boot_id: String,
    pid_ns: String,
    pid: u32,
    start_time: u64,
}

impl Owner {
    fn me() -> Option<Owner> {
        let pid = std::process::id();
        Some(Owner {
            boot_id: boot_id()?,
            pid_ns: pid_ns()?,
            pid,
            start_time: start_time(pid)?,
        })
    }

    fn label(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.boot_id, self.pid_ns, self.pid, self.start_time
        )
    }

    fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.split('/');
        let owner = Owner {
            boot_id: parts.next()?.to_string(),
            pid_ns: parts.next()?.to_string(),
            pid: parts.next()?.parse().ok()?,
            start_time: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(owner)
    }

    fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

fn pid_ns() -> Option<String> {
    // `pid:[4026531836]`
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_string_lossy();
    let inode = text.trim_start_matches("pid:[").trim_end_matches(']');
    (!inode.is_empty() && inode.bytes().all(|b| b.is_ascii_digit())).then(|| inode.to_string())
}

/// Field 22 of `/proc/PID/stat`: the process's start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_label_round_trips() {
        let me = Owner::me().expect("Linux /proc");
        assert!(me.is_alive());
        assert_eq!(Owner::parse(&me.label()), Some(me.clone()));
        let other = Owner {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!other.is_alive(), "a reused PID is another process");
        assert_eq!(Owner::parse("a/b/c/d"), None);
        assert_eq!(Owner::parse("a/1/2/3/4"), None);
    }

    #[test]
    fn a_finished_child_is_gone() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let gone = Owner {
            pid,
            start_time: start.unwrap_or(1),
            ..Owner::me().unwrap()
        };
        assert!(!gone.is_alive());
    }
}
