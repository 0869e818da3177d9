//! A builder container kept warm between the builds of one process (the TUI, `serve`): after a
//! successful build it is parked instead of removed, and the next build of the same process
//! with the same settings execs in it instead of starting a container (about half a second on
//! Docker 20.10). It stays owned by this process (labels, watcher, `cat` on our stdin: it ends
//! with us however we end), it is removed after [`IDLE`] unused, and a cancelled or failed
//! build still removes its container (killing it is the only way to stop `nix-build`). One
//! parked container per process: a build that finds it taken starts its own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{BuilderContainer, DockerError, Engine};
use crate::config::BuilderSettings;

/// How long a parked builder waits for the next build before it is removed.
pub const IDLE: Duration = Duration::from_secs(300);

struct Parked {
    key: String,
    container: BuilderContainer,
    since: Instant,
}

static PARKED: Mutex<Option<Parked>> = Mutex::new(None);

fn slot() -> std::sync::MutexGuard<'static, Option<Parked>> {
    PARKED.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a container must have been started with to serve a build: the same engine, image,
/// volume, folders mounted and limits.
fn key(engine: &Engine, settings: &BuilderSettings, host_dirs: &[String]) -> String {
    format!(
        "{}\n{}\n{}\n{:?}\n{:?}\n{}\n{}",
        engine.address,
        settings.image,
        settings.store_volume,
        host_dirs,
        settings.memory_bytes(),
        settings.pids,
        settings.network
    )
}

impl BuilderContainer {
    /// [`BuilderContainer::start_with`], or the container parked by an earlier build of this
    /// process with the same settings, still running, after `reset` ran in it (e.g. removing
    /// the earlier build's files).
    pub async fn start_warm(
        engine: &Engine,
        settings: &BuilderSettings,
        purpose: &str,
        host_dirs: &[String],
        reset: &[&str],
    ) -> Result<BuilderContainer, DockerError> {
        let key = key(engine, settings, host_dirs);
        let parked = slot().take();
        match parked {
            Some(p) if p.key == key => {
                if p.container.is_running().await && p.container.exec_checked(reset).await.is_ok() {
                    return Ok(p.container);
                }
                p.container.remove().await;
            }
            Some(p) => p.container.remove().await,
            None => {}
        }
        BuilderContainer::start_with(engine, settings, purpose, host_dirs).await
    }

    /// Keeps this container for the next build of this process (see the module docs) instead
    /// of removing it; one parked before is removed.
    pub fn park(self, engine: &Engine, settings: &BuilderSettings, host_dirs: &[String]) {
        let since = Instant::now();
        let old = slot().replace(Parked {
            key: key(engine, settings, host_dirs),
            container: self,
            since,
        });
        // Dropped outside the lock: its removal runs in the background.
        drop(old);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                tokio::time::sleep(IDLE).await;
                let idle = {
                    let mut slot = slot();
                    match &*slot {
                        Some(p) if p.since == since => slot.take(),
                        _ => None,
                    }
                };
                if let Some(p) = idle {
                    p.container.remove().await;
                }
            });
        }
    }

    /// Whether the engine still runs it.
    async fn is_running(&self) -> bool {
        matches!(
            self.engine().container_state(self.id()).await,
            Ok(Some(super::ContainerState::Running))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the real engine and the shared builder image (skipped without them), in a volume
    /// of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parked_builder_serves_the_next_build_with_the_same_settings_only() {
        let Ok(engine) = crate::docker::connect().await else {
            return;
        };
        let mut settings = BuilderSettings::default();
        if !crate::docker::builder::image_info(&engine, &settings.image)
            .await
            .is_ok_and(|i| i.is_some_and(|i| !i.outdated))
        {
            return;
        }
        let volume = format!("biar-test-warm-{}", std::process::id());
        let docker = || std::process::Command::new("docker");
        assert!(docker()
            .args(["volume", "create", &volume])
            .output()
            .unwrap()
            .status
            .success());
        settings.store_volume = volume.clone();

        let first = BuilderContainer::start_warm(&engine, &settings, "t", &[], &["true"])
            .await
            .unwrap();
        let id = first.id().to_string();
        first.park(&engine, &settings, &[]);
        let again = BuilderContainer::start_warm(&engine, &settings, "t", &[], &["true"])
            .await
            .unwrap();
        assert_eq!(again.id(), id, "the parked container was not reused");
        again.park(&engine, &settings, &[]);
        // Other limits: a container of its own; the parked one is removed.
        let mut other = settings.clone();
        other.pids += 1;
        let fresh = BuilderContainer::start_warm(&engine, &other, "t", &[], &["true"])
            .await
            .unwrap();
        assert_ne!(fresh.id(), id);
        fresh.remove().await;
        assert!(slot().is_none());
        let gone = docker()
            .args(["ps", "-aq", "--filter", &format!("id={id}")])
            .output()
            .unwrap();
        assert!(gone.stdout.is_empty(), "the parked builder was left");
        let _ = docker().args(["volume", "rm", "-f", &volume]).output();
    }
}
