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
