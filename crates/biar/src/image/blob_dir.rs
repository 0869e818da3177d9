//! A content-addressed folder of blobs (`blobs/sha256/<hex>`, the OCI image layout's shape): what
//! `biar-tui serve` keeps layers, configs and manifests in. Shared between images (a layer two
//! images have is one file), written whole or not at all (a temporary file, its digest checked
//! while it streams, then renamed), read back as files: never a whole layer in memory.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::oci::{verify_digest, ByteStream};

/// A folder of blobs named by digest.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

/// `sha256:<64 lower-case hex>`: the only digests stored or looked up (a name from a request
/// never reaches the file system otherwise).
pub fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl BlobDir {
    /// The blobs under `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> BlobDir {
        BlobDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `digest`, whether or not it exists; `None` for a digest that is not
    /// [`valid_digest`].
    pub fn path_of(&self, digest: &str) -> Option<PathBuf> {
        if !valid_digest(digest) {
            return None;
        }
        Some(self.root.join("sha256").join(&digest["sha256:".len()..]))
    }

    /// Whether the blob is stored.
    pub fn has(&self, digest: &str) -> bool {
        self.path_of(digest).is_some_and(|p| p.is_file())
    }

    /// Stores `bytes` (small blobs: configs, manifests) under their own digest; returns it.
    pub async fn write_bytes(&self, bytes: Bytes) -> std::io::Result<String> {
        let digest = crate::oci::sha256_digest(&bytes);
        let size = bytes.len() as u64;
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(bytes)]));
        self.write_stream(&digest, size, body).await?;
        Ok(digest)
    }

    /// Stores the blob `digest` from `body`, checking digest and size as it streams; a blob
    /// already there is kept and `body` not read. On any error nothing is left behind.
    pub async fn write_stream(
        &self,
        digest: &str,
        size: u64,
        body: ByteStream,
    ) -> std::io::Result<()> {
        let path = self
            .path_of(digest)
            .ok_or_else(|| std::io::Error::other(format!("not a sha256 digest: {digest}")))?;
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().expect("blob files live in a folder");
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(
            ".{}.{}.partial",
            &digest["sha256:".len()..],
            std::process::id()
        ));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut body = verify_digest(body, digest.to_string(), size);
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk?).await?;
            }
            file.flush().await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }
}

/// A blob being written whose digest is learnt as it is written: a temporary file in the folder,
/// removed on drop unless [`BlobDir::commit`]ted.
#[derive(Debug)]
pub struct PartialBlob {
    path: PathBuf,
    committed: bool,
}

impl Drop for PartialBlob {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl BlobDir {
    /// A new temporary file for a blob whose digest is not known yet.
    pub async fn partial(&self) -> std::io::Result<(PartialBlob, tokio::fs::File)> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = self.root.join("sha256");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!(
            ".new.{}.{}.partial",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let file = tokio::fs::File::create(&path).await?;
        Ok((
            PartialBlob {
                path,
                committed: false,
            },
            file,
        ))
    }

    /// Names the written (and synced) `partial` by its `digest`; a blob already there is kept.
    pub async fn commit(&self, mut partial: PartialBlob, digest: &str) -> std::io::Result<()> {
        let path = self
            .path_of(digest)
            .ok_or_else(|| std::io::Error::other(format!("not a sha256 digest: {digest}")))?;
        if path.is_file() {
            return Ok(()); // dropping `partial` removes the copy
        }
        tokio::fs::rename(&partial.path, &path).await?;
        partial.committed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_hex_digests_name_files() {
        let dir = BlobDir::new("/x");
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            dir.path_of(&good).unwrap(),
            PathBuf::from(format!("/x/sha256/{}", "a".repeat(64)))
        );
        for bad in [
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            "".to_string(),
        ] {
            assert!(dir.path_of(&bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_partial_blob_is_named_by_its_digest_or_removed() {
        use tokio::io::AsyncWriteExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = BlobDir::new(tmp.path());
        let (partial, mut file) = dir.partial().await.unwrap();
        file.write_all(b"layer").await.unwrap();
        file.sync_all().await.unwrap();
        let digest = crate::oci::sha256_digest(b"layer");
        dir.commit(partial, &digest).await.unwrap();
        assert_eq!(
            std::fs::read(dir.path_of(&digest).unwrap()).unwrap(),
            b"layer"
        );
        let (partial, _file) = dir.partial().await.unwrap();
        drop(partial);
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[tokio::test]
    async fn a_blob_is_stored_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BlobDir::new(tmp.path());
        let digest = dir.write_bytes(Bytes::from_static(b"hello")).await.unwrap();
        assert!(dir.has(&digest));
        assert_eq!(
            std::fs::read(dir.path_of(&digest).unwrap()).unwrap(),
            b"hello"
        );
        // Bytes of another digest: refused, nothing left.
        let wrong = crate::oci::sha256_digest(b"other");
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"hello"))]));
        assert!(dir.write_stream(&wrong, 5, body).await.is_err());
        assert!(!dir.has(&wrong));
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
