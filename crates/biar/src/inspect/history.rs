//! Generations: every build or push of a project, recorded in the user's state folder
//! (`$XDG_STATE_HOME/biar/generations/<project id>.json`), never in the project. A project's file
//! keeps its newest [`MAX_GENERATIONS`]; numbers only grow, so a number names one generation
//! for as long as it is kept.
//!
//! Each generation keeps the closure's store paths (so two can be compared without the
//! builder) and the packages with their versions. The file is written whole (atomic rename);
//! an unreadable file is set aside, not fatal: history is a convenience.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::InspectError;

/// How many generations a project keeps (the oldest go first).
pub const MAX_GENERATIONS: usize = 50;

/// What a generation's image went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Loaded into the Docker Engine.
    Load,
    /// Pushed to the registry.
    Push,
    /// Built for `run` and run from the store volume: no image was made.
    Run,
}

/// One build or push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// 1, 2, …: never reused within a project.
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub delivery: Delivery,
    /// The local `name:tag`.
    pub reference: String,
    /// The registry reference, for a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// The environment's store path, when the Nix build ran (or an earlier generation of the
    /// same image knew it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_path: Option<String>,
    /// The configured packages' names (`hello-2.12.1`), environment order.
    #[serde(default)]
    pub packages: Vec<String>,
    /// The closure's NAR size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure_size: Option<u64>,
    /// Every store path of the closure, sorted.
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct HistoryFile {
    /// The project folder, for a person reading the file.
    project: String,
    next: u64,
    generations: Vec<Generation>,
}

/// A project's generations.
#[derive(Debug, Clone)]
pub struct History {
    file: PathBuf,
    project: PathBuf,
}

impl History {
    /// `$XDG_STATE_HOME/biar/generations` (or `~/.local/state/…`).
    pub fn default_dir() -> PathBuf {
        dirs::state_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
            .unwrap_or_else(std::env::temp_dir)
            .join("biar")
            .join("generations")
    }

    /// The history of the project at `root`, kept in `dir`.
    pub fn at(dir: &Path, root: &Path) -> History {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let id = hex::encode(Sha256::digest(root.to_string_lossy().as_bytes()));
        History {
            file: dir.join(format!("{}.json", &id[..16])),
            project: root,
        }
    }

    /// The history of the project at `root` in the user's state folder.
    pub fn of(root: &Path) -> History {
        History::at(&History::default_dir(), root)
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    fn read(&self) -> HistoryFile {
        match std::fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                // Not ours to fail on: keep the bad file aside and start again.
                let _ = std::fs::rename(&self.file, self.file.with_extension("json.bad"));
                HistoryFile::default()
            }),
            Err(_) => HistoryFile::default(),
        }
    }

    /// Every kept generation, oldest first.
    pub fn list(&self) -> Vec<Generation> {
        self.read().generations
    }

    /// Records `generation` (its `number` is assigned) unless it repeats the newest one (the
    /// same image delivered the same way): returns its number, or the repeated one's.
    pub fn record(&self, mut generation: Generation) -> Result<u64, InspectError> {
        let mut file = self.read();
        if let Some(last) = file.generations.last() {
            if last.reference == generation.reference
                && last.delivery == generation.delivery
                && last.remote == generation.remote
            {
                return Ok(last.number);
            }
        }
        // An up-to-date image has no closure of its own: an earlier generation of it knows it.
        if generation.paths.is_empty() {
            if let Some(same) = file
                .generations
                .iter()
                .rev()
                .find(|g| g.reference == generation.reference && !g.paths.is_empty())
            {
                generation.env_path = same.env_path.clone();
                generation.packages = same.packages.clone();
                generation.closure_size = same.closure_size;
                generation.paths = same.paths.clone();
            }
        }
        file.next = file
            .next
            .max(file.generations.last().map_or(0, |g| g.number))
            + 1;
        generation.number = file.next;
        file.project = self.project.display().to_string();
        file.generations.push(generation);
        let excess = file.generations.len().saturating_sub(MAX_GENERATIONS);
        file.generations.drain(..excess);
        let state = |source| InspectError::State {
            path: self.file.clone(),
            source,
        };
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(state)?;
        }
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| state(e.into()))?;
        crate::fsutil::write_atomic(&self.file, &bytes).map_err(state)?;
        Ok(file.next)
    }

    /// The generation `query` names: its number (`3`), or an image reference (`name:tag`, local
    /// or remote; the newest generation with it).
    pub fn find(&self, query: &str) -> Result<Generation, InspectError> {
        let generations = self.list();
        let found = match query.trim_start_matches('#').parse::<u64>() {
            Ok(n) => generations.into_iter().find(|g| g.number == n),
            Err(_) => generations
                .into_iter()
                .rev()
                .find(|g| g.reference == query || g.remote.as_deref() == Some(query)),
        };
        found.ok_or_else(|| InspectError::NoGeneration {
            query: query.to_string(),
        })
    }

    /// The newest generation (pushed or loaded).
    pub fn last(&self) -> Option<Generation> {
        self.list().pop()
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-12-02 05:32` (UTC) for `time` (seconds since the epoch).
pub fn format_time(time: u64) -> String {
    let days = (time / 86_400) as i64;
    let secs = time % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(reference: &str, delivery: Delivery, paths: &[&str]) -> Generation {
        Generation {
            number: 0,
            time: 1_796_189_603,
            delivery,
            reference: reference.to_string(),
            remote: None,
            env_path: None,
            packages: vec!["hello-2.12.1".into()],
            closure_size: Some(10),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn generations_are_numbered_found_and_bounded() {
        let state = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let h = History::at(state.path(), project.path());
        assert!(h.list().is_empty());
        assert_eq!(
            h.record(generation("e:1", Delivery::Load, &["/a"]))
                .unwrap(),
            1
        );
        // The same image loaded again is no new generation.
        assert_eq!(h.record(generation("e:1", Delivery::Load, &[])).unwrap(), 1);
        assert_eq!(
            h.record(generation("e:2", Delivery::Load, &["/b"]))
                .unwrap(),
            2
        );
        // Back to an earlier image that was up to date: its closure comes from before.
        assert_eq!(h.record(generation("e:1", Delivery::Push, &[])).unwrap(), 3);
        assert_eq!(h.find("3").unwrap().paths, ["/a"]);
        assert_eq!(h.find("e:2").unwrap().number, 2);
        assert_eq!(h.find("e:1").unwrap().number, 3);
        assert!(matches!(
            h.find("7"),
            Err(InspectError::NoGeneration { query }) if query == "7"
        ));
        assert!(h.file().starts_with(state.path()));
        for i in 0..MAX_GENERATIONS + 5 {
            h.record(generation(
                &format!("e:{}", i + 10),
                Delivery::Load,
                &["/c"],
            ))
            .unwrap();
        }
        let all = h.list();
        assert_eq!(all.len(), MAX_GENERATIONS);
        assert_eq!(all.last().unwrap().number, 3 + MAX_GENERATIONS as u64 + 5);
        assert!(h.find("1").is_err());
    }

    #[test]
    fn a_damaged_file_is_set_aside() {
        let state = tempfile::tempdir().unwrap();
        let h = History::at(state.path(), Path::new("/nowhere/project"));
        std::fs::write(h.file(), b"{ not json").unwrap();
        assert!(h.list().is_empty());
        assert_eq!(
            h.record(generation("e:1", Delivery::Load, &["/a"]))
                .unwrap(),
            1
        );
        assert!(h.file().with_extension("json.bad").exists());
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_796_189_603), "2026-12-02 05:33");
    }
}
