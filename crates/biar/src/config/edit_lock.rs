//! One edit of a project at a time: every read-modify-write of a project's files (add, remove,
//! toggle, from the CLI or the TUI) holds an exclusive advisory lock (`flock`) on the project
//! folder itself, so two edits never read the same old file and overwrite each other.
//!
//! The folder, not a lock file: its inode never changes (config.json's does, with every atomic
//! replace), and nothing is created, so there is nothing to hash, upload or leave behind, and a
//! refused edit leaves the folder byte-identical. The kernel drops the lock when its holder
//! exits, however it exits. Where the filesystem cannot lock a folder (some network
//! filesystems), edits go ahead unlocked and the writers' own check catches a lost race: a file
//! that changed since it was read is not written ([`ConfigError::ChangedOnDisk`],
//! `NixError::ChangedOnDisk`), so no edit reports success after being overwritten.

use std::path::Path;
use std::time::{Duration, Instant};

use super::ConfigError;

/// How long an edit waits for another one to finish before it gives up (an edit takes
/// milliseconds; this only trips when a holder is stuck).
const WAIT: Duration = Duration::from_secs(30);

/// Held while a project is edited; the lock is released when this is dropped.
#[derive(Debug)]
pub struct EditLock {
    _folder: Option<std::fs::File>,
}

impl EditLock {
    /// Waits for and takes the edit lock of the project folder `root`.
    pub fn acquire(root: &Path) -> Result<EditLock, ConfigError> {
        let io = |source| ConfigError::Io {
            path: root.to_path_buf(),
            source,
        };
        if !root.is_dir() {
            return Err(ConfigError::NoProject {
                dir: root.to_path_buf(),
            });
        }
        let folder = std::fs::File::open(root).map_err(io)?;
        let start = Instant::now();
        loop {
            match folder.try_lock() {
                Ok(()) => {
                    return Ok(EditLock {
                        _folder: Some(folder),
                    })
                }
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ConfigError::Locked {
                        path: root.to_path_buf(),
                        waited: WAIT,
                    })
                }
                Err(std::fs::TryLockError::Error(e))
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EBADF | libc::ENOLCK | libc::EOPNOTSUPP | libc::EINVAL)
                    ) =>
                {
                    tracing::debug!(
                        "{}: cannot lock the folder ({e}); editing unlocked",
                        root.display()
                    );
                    return Ok(EditLock { _folder: None });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let d = tempfile::tempdir().unwrap();
        let first = EditLock::acquire(d.path()).unwrap();
        let root = d.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = EditLock::acquire(&root).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn nothing_is_created_in_the_project() {
        let d = tempfile::tempdir().unwrap();
        let lock = EditLock::acquire(d.path()).unwrap();
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        drop(lock);
    }
}
