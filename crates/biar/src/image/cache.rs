//! The layer cache: what a layer of these store paths hashes to, so an unchanged layer is
//! neither re-read nor re-sent. Keyed by the layer's store paths (their names carry the hash of
//! everything that went into them) and the tar format version; one small JSON file per layer
//! under `$XDG_CACHE_HOME/biar/layers/`. A corrupt entry is a miss, never an error. An empty file
//! per recorded digest (`digests/<hex>`) says which digests the cache knows, whatever their paths.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::ImageError;

/// Bumped if the tar format ever changes: old entries then simply miss.
const FORMAT: &str = "biar-layer-tar-v1";

/// What is known of a layer before sending it: what the registry and Docker are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerDescriptor {
    /// Digest of the blob as sent; layers go uncompressed, so it equals `diff_id`.
    pub digest: String,
    /// Digest of the uncompressed tar (the image config's `rootfs.diff_ids`).
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
    /// The store paths the layer holds, sorted; empty for the root layer.
    pub store_paths: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    /// `$XDG_CACHE_HOME/biar/layers` (or `~/.cache/biar/layers`).
    pub fn default_dir() -> PathBuf {
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("biar")
            .join("layers")
    }

    pub fn open_default() -> LayerCache {
        LayerCache::at(Self::default_dir())
    }

    pub fn at(dir: impl Into<PathBuf>) -> LayerCache {
        LayerCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, store_paths: &[String]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(FORMAT.as_bytes());
        for p in store_paths {
            h.update(b"\n");
            h.update(p.as_bytes());
        }
        self.dir.join(format!("{}.json", hex::encode(h.finalize())))
    }

    /// The recorded descriptor of a layer of exactly these (sorted) paths.
    pub fn get(&self, store_paths: &[String]) -> Option<LayerDescriptor> {
        let text = std::fs::read(self.file(store_paths)).ok()?;
        let d: LayerDescriptor = serde_json::from_slice(&text).ok()?;
        if d.store_paths != store_paths {
            return None;
        }
        // Entries written before the digest index existed join it when they are used.
        let marker = self.digest_file(&d.digest);
        if !marker.exists() {
            let _ = std::fs::create_dir_all(self.dir.join("digests"))
                .and_then(|_| std::fs::write(&marker, b""));
        }
        Some(d)
    }

    /// Whether the cache recorded a layer with this digest. A layer of other store paths cannot
    /// have it (the tar holds the paths' names): a load uses that to know, without reading it, that
    /// a new layer is not one the Engine got from this cache.
    pub fn knows_digest(&self, digest: &str) -> bool {
        self.digest_file(digest).exists()
    }

    fn digest_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        // Only hex names: a malformed digest never reaches outside the folder.
        let hex = if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex
        } else {
            "invalid"
        };
        self.dir.join("digests").join(hex)
    }

    /// Records a descriptor (atomically: a crash leaves the old entry or none).
    pub fn put(&self, d: &LayerDescriptor) -> Result<(), ImageError> {
        let err = |e: std::io::Error| ImageError::Cache {
            path: self.dir.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(err)?;
        std::io::Write::write_all(&mut tmp, &serde_json::to_vec_pretty(d).expect("serializes"))
            .map_err(err)?;
        tmp.persist(self.file(&d.store_paths))
            .map_err(|e| err(e.error))?;
        std::fs::create_dir_all(self.dir.join("digests")).map_err(err)?;
        std::fs::write(self.digest_file(&d.digest), b"").map_err(err)?;
        Ok(())
    }

    /// Forgets a layer (its bytes turned out different from the record).
    pub fn remove(&self, store_paths: &[String]) {
        let _ = std::fs::remove_file(self.file(store_paths));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_corrupt_entries() {
        let d = tempfile::tempdir().unwrap();
        let cache = LayerCache::at(d.path().join("layers"));
        let paths = vec!["/nix/store/a-x".to_string(), "/nix/store/b-y".to_string()];
        assert_eq!(cache.get(&paths), None);
        let desc = LayerDescriptor {
            digest: "sha256:00".into(),
            diff_id: "sha256:00".into(),
            size: 3,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            store_paths: paths.clone(),
        };
        assert!(!cache.knows_digest("sha256:00"));
        cache.put(&desc).unwrap();
        assert_eq!(cache.get(&paths), Some(desc));
        assert!(cache.knows_digest("sha256:00"));
        assert!(!cache.knows_digest("sha256:01"));
        assert!(!cache.knows_digest("sha256:../layers"));
        assert_eq!(cache.get(&paths[..1]), None);
        std::fs::write(cache.file(&paths), "{not json").unwrap();
        assert_eq!(cache.get(&paths), None);
    }
}
