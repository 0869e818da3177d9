//! Which repositories of a registry hold a blob, as far as this machine pushed them: the sources
//! for cross-repository mounts (every base configuration is its own repository, and they share
//! most layers). Like the docker daemon's own record; a registry's catalog is often closed, and it
//! says nothing about which repository has which blob.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Repositories kept per blob (most recent first).
const PER_BLOB: usize = 4;

/// `host → digest → repositories`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BlobLocations {
    hosts: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl BlobLocations {
    /// `$XDG_CACHE_HOME/biar/registry-blobs.json`.
    pub fn default_path() -> PathBuf {
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("biar")
            .join("registry-blobs.json")
    }

    /// The record at `path`; empty if missing or unreadable (it is only a hint).
    pub fn load(path: &Path) -> BlobLocations {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes atomically; a failure only loses the hint.
    pub fn save(&self, path: &Path) {
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
            return;
        };
        if serde_json::to_writer(&mut tmp, self).is_ok() {
            let _ = tmp.persist(path);
        }
    }

    pub fn for_host(&self, host: &str) -> HashMap<String, Vec<String>> {
        self.hosts
            .get(host)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    pub fn record(&mut self, host: &str, repository: &str, digests: &[&str]) {
        let blobs = self.hosts.entry(host.to_string()).or_default();
        for d in digests {
            let repos = blobs.entry(d.to_string()).or_default();
            repos.retain(|r| r != repository);
            repos.insert(0, repository.to_string());
            repos.truncate(PER_BLOB);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_most_recent_first_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/registry-blobs.json");
        let mut l = BlobLocations::load(&path);
        for r in ["a", "b", "c", "d", "e", "b"] {
            l.record("h:1", r, &["sha256:x"]);
        }
        l.save(&path);
        let again = BlobLocations::load(&path).for_host("h:1");
        assert_eq!(again["sha256:x"], vec!["b", "e", "d", "c"]);
        assert!(BlobLocations::load(&path).for_host("other").is_empty());
    }
}
