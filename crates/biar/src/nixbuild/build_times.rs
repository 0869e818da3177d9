//! How long earlier builds of each derivation name took (`hello-2.12.1`: the name without the
//! store hash), for the build tree's ETA. Kept in the user's state folder
//! (`$XDG_STATE_HOME/biar/build-times.json`), never in a project; shared by every project, since
//! a name builds about as long wherever it is built.
//!
//! Bounded: at most [`MAX_NAMES`] names, the ones least recently built go first, so the file stays
//! under ~100 KB. Written whole through an atomic rename; an unreadable file is set aside, not
//! fatal: an ETA is a convenience.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Names kept (the least recently built are evicted first).
pub const MAX_NAMES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Entry {
    /// Seconds the last successful build took.
    secs: f64,
    /// When it was recorded: a counter that only grows (eviction order).
    seq: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TimesFile {
    next: u64,
    names: HashMap<String, Entry>,
}

/// The durations file.
#[derive(Debug, Clone)]
pub struct BuildTimes {
    file: PathBuf,
}

impl BuildTimes {
    /// `$XDG_STATE_HOME/biar/build-times.json` (or `~/.local/state/…`).
    pub fn default_file() -> PathBuf {
        dirs::state_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
            .unwrap_or_else(std::env::temp_dir)
            .join("biar")
            .join("build-times.json")
    }

    pub fn at(file: &Path) -> BuildTimes {
        BuildTimes {
            file: file.to_path_buf(),
        }
    }

    /// The user's.
    pub fn of_user() -> BuildTimes {
        BuildTimes::at(&BuildTimes::default_file())
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    fn read(&self) -> TimesFile {
        match std::fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                let _ = std::fs::rename(&self.file, self.file.with_extension("json.bad"));
                TimesFile::default()
            }),
            Err(_) => TimesFile::default(),
        }
    }

    /// Every known name's last duration.
    pub fn load(&self) -> HashMap<String, Duration> {
        self.read()
            .names
            .into_iter()
            .filter(|(_, e)| e.secs.is_finite() && e.secs >= 0.0)
            .map(|(name, e)| (name, Duration::from_secs_f64(e.secs)))
            .collect()
    }

    /// Remembers these builds' durations (the newest replaces an older one of the same name),
    /// then evicts the least recently built names beyond [`MAX_NAMES`].
    pub fn record(&self, builds: &[(String, Duration)]) -> std::io::Result<()> {
        if builds.is_empty() {
            return Ok(());
        }
        let mut file = self.read();
        for (name, took) in builds {
            file.next += 1;
            file.names.insert(
                name.clone(),
                Entry {
                    secs: (took.as_secs_f64() * 10.0).round() / 10.0,
                    seq: file.next,
                },
            );
        }
        if file.names.len() > MAX_NAMES {
            let mut by_age: Vec<(u64, String)> =
                file.names.iter().map(|(n, e)| (e.seq, n.clone())).collect();
            by_age.sort();
            let excess = file.names.len() - MAX_NAMES;
            for (_, name) in by_age.into_iter().take(excess) {
                file.names.remove(&name);
            }
        }
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&self.file, &bytes)
    }
}

/// Where a derivation's saved log goes: `$XDG_STATE_HOME/biar/logs/<name>.log`, outside any
/// project. `name` is a store name; anything else in it becomes `_`.
pub fn log_file(name: &str) -> PathBuf {
    log_file_in(&BuildTimes::default_file().with_file_name("logs"), name)
}

fn log_file_in(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { "derivation" } else { safe };
    dir.join(format!("{safe}.log"))
}

/// Writes `text` (a sanitized log) to [`log_file`]`(name)` atomically; returns where.
pub fn save_log(name: &str, text: &str) -> std::io::Result<PathBuf> {
    save_log_in(
        &BuildTimes::default_file().with_file_name("logs"),
        name,
        text,
    )
}

fn save_log_in(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let file = log_file_in(dir, name);
    std::fs::create_dir_all(dir)?;
    crate::fsutil::write_atomic(&file, text.as_bytes())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_name_is_a_plain_name_in_the_logs_folder() {
        let f = log_file("../../etc/passwd");
        assert_eq!(f.file_name().unwrap(), "_.._etc_passwd.log");
        assert_eq!(f.parent().unwrap().file_name().unwrap(), "logs");
        assert_eq!(
            log_file("failing-1.0").file_name().unwrap(),
            "failing-1.0.log"
        );
    }

    #[test]
    fn durations_are_kept_replaced_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let times = BuildTimes::at(&dir.path().join("biar/build-times.json"));
        assert!(times.load().is_empty());
        times
            .record(&[
                ("hello-2.12.1".into(), Duration::from_millis(3_240)),
                ("sleeper-1s".into(), Duration::from_secs(1)),
            ])
            .unwrap();
        times
            .record(&[("hello-2.12.1".into(), Duration::from_secs(5))])
            .unwrap();
        let known = times.load();
        assert_eq!(known["hello-2.12.1"], Duration::from_secs(5));
        assert_eq!(known["sleeper-1s"], Duration::from_secs(1));
    }

    #[test]
    fn the_least_recently_built_names_go_first_and_the_file_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let times = BuildTimes::at(&dir.path().join("build-times.json"));
        let batch = |from: usize, to: usize| -> Vec<(String, Duration)> {
            (from..to)
                .map(|i| {
                    (
                        format!("package-number-{i}-1.0"),
                        Duration::from_secs(i as u64),
                    )
                })
                .collect()
        };
        times.record(&batch(0, MAX_NAMES)).unwrap();
        // Built again: now the newest.
        times.record(&batch(0, 1)).unwrap();
        times.record(&batch(MAX_NAMES, MAX_NAMES + 10)).unwrap();
        let known = times.load();
        assert_eq!(known.len(), MAX_NAMES);
        assert!(known.contains_key("package-number-0-1.0"));
        for evicted in 1..=10 {
            assert!(!known.contains_key(&format!("package-number-{evicted}-1.0")));
        }
        assert!(known.contains_key("package-number-11-1.0"));
        assert!(known.contains_key(&format!("package-number-{}-1.0", MAX_NAMES + 9)));
        let size = std::fs::metadata(times.file()).unwrap().len();
        assert!(size < 100_000, "{size} bytes");
    }

    #[test]
    fn a_damaged_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build-times.json");
        std::fs::write(&path, "{not json").unwrap();
        let times = BuildTimes::at(&path);
        assert!(times.load().is_empty());
        times
            .record(&[("a".into(), Duration::from_secs(1))])
            .unwrap();
        assert_eq!(times.load().len(), 1);
        assert!(dir.path().join("build-times.json.bad").exists());
    }
}
