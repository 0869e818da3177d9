//! The server's storage folder:
//!
//! ```text
//! blobs/sha256/<hex>     layers, configs, manifests (content-addressed, shared by every image)
//! images/<key>.json      an image by name: its manifest's descriptor (and backing repository)
//! remote/<hex>           with --registry: the repository a blob is in, for the redirect
//! projects/<key>/        the generated project an image was built from
//! ```
//!
//! `<key>` hashes what makes the image (package set pin, base, offline, the canonical name), so
//! a name is looked up without loading or hashing a project.

use std::path::{Path, PathBuf};

use biar::image::BlobDir;
use biar::registry::Descriptor;
use serde::{Deserialize, Serialize};

/// An image the storage has.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub name: String,
    pub tag: String,
    pub manifest: Descriptor,
    /// `host/repository` of the backing registry holding its blobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// The registry's scheme for redirects (`http` for a loopback or insecure one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Found already built in the backing registry (this server built nothing).
    #[serde(default, skip)]
    pub found: bool,
}

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    blobs: BlobDir,
}

impl Storage {
    pub fn open(root: &Path) -> std::io::Result<Storage> {
        for sub in ["blobs", "images", "projects", "remote"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let root = root.canonicalize()?;
        Ok(Storage {
            blobs: BlobDir::new(root.join("blobs")),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    pub fn project_dir(&self, key: &str) -> PathBuf {
        self.root.join("projects").join(key)
    }

    /// Removes the generated project of `key` (a failed build's: failures must not fill the
    /// storage; a retry writes it again).
    pub fn remove_project(&self, key: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.project_dir(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes the projects no image was recorded for, but the tags' `names-` projects: what a
    /// server that stopped mid-build (or failed to remove a failure's) left. Run at start.
    pub fn sweep_projects(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("projects"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("names-") || self.image(&name).is_some() {
                continue;
            }
            self.remove_project(&name)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// The image recorded under `key`, if its manifest is still there.
    pub fn image(&self, key: &str) -> Option<Stored> {
        let text = std::fs::read(self.root.join("images").join(format!("{key}.json"))).ok()?;
        let stored: Stored = serde_json::from_slice(&text).ok()?;
        self.blobs.has(&stored.manifest.digest).then_some(stored)
    }

    pub fn record(&self, key: &str, stored: &Stored) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(stored).expect("a record serialises");
        biar::fsutil::write_atomic(&self.root.join("images").join(format!("{key}.json")), &json)?;
        Ok(())
    }

    /// Remembers that `digest` is in `host/repository` of the backing registry.
    pub fn record_remote(&self, digest: &str, scheme: &str, remote: &str) -> std::io::Result<()> {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            return Ok(());
        };
        let path = self.root.join("remote").join(hex);
        biar::fsutil::write_atomic(&path, format!("{scheme}://{remote}").as_bytes())?;
        Ok(())
    }

    /// `scheme://host/repository` holding `digest` in the backing registry.
    pub fn remote_of(&self, digest: &str) -> Option<String> {
        if !biar::image::valid_digest(digest) {
            return None;
        }
        let path = self.root.join("remote").join(&digest["sha256:".len()..]);
        std::fs::read_to_string(path).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_keeps_built_images_and_names_projects_only() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let hex = "a".repeat(64);
        std::fs::create_dir_all(storage.root().join("blobs/sha256")).unwrap();
        std::fs::write(storage.root().join("blobs/sha256").join(&hex), b"{}").unwrap();
        let stored: Stored = serde_json::from_value(serde_json::json!({
            "name": "shell/hello", "tag": "latest",
            "manifest": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{hex}"), "size": 2
            }
        }))
        .unwrap();
        storage.record("built", &stored).unwrap();
        for key in ["built", "names-x", "failed", "unfinished"] {
            std::fs::create_dir_all(storage.project_dir(key).join("workdir")).unwrap();
        }
        assert_eq!(storage.sweep_projects().unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(storage.root().join("projects"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["built", "names-x"]);
        storage.remove_project("built").unwrap();
        storage.remove_project("never-there").unwrap();
        assert!(!storage.project_dir("built").exists());
    }
}
