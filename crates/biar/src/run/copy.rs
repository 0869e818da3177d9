//! `workdir/` on an engine that does not see this machine's files (reached over SSH or TCP): it
//! is never bind mounted there (the path would name a folder of the engine's host), it is copied
//! into a volume on that engine through the archive API before the run, and the container's
//! changes are copied back when the run ends.
//!
//! A copy, not a mount: a file changed on this machine during the run is not seen in the
//! container. Copying back changes only what the container changed: every file sent is
//! remembered by its hash; a file the container did not change is left alone (so edits made
//! here meanwhile stay), a file it changed or made replaces ours when ours is still what was
//! sent, and when both sides changed it, the container's version is kept beside ours as
//! `NAME.from-container`. Files the container deleted are deleted here if unchanged here.
//!
//! The archive coming back is the engine's: every path in it is checked to stay inside
//! `workdir/`, nothing is written through a symlink, and only folders, files and symlinks are
//! made.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::RunError;
use crate::docker::tar_stream::written_stream;
use crate::docker::Engine;

/// What one entry of `workdir/` was when it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    Dir,
    File([u8; 32]),
    Link(PathBuf),
}

/// What was sent: relative path → entry.
pub(crate) type Manifest = BTreeMap<PathBuf, Sent>;

/// What copying back did, for the message after the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyBack {
    /// Files (and links) the container made or changed, now here.
    pub updated: usize,
    /// Files the container deleted, deleted here too.
    pub deleted: usize,
    /// Files both sides changed: the container's version was written beside ours
    /// (`NAME.from-container`); these are those paths.
    pub conflicts: Vec<PathBuf>,
    /// Entries of the archive refused (a path leaving `workdir/`, a device, …).
    pub refused: usize,
}

/// What copying in sent.
#[derive(Debug, Clone, Default)]
pub struct CopyIn {
    pub files: usize,
    pub bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |e| RunError::Other(format!("copying {}: {e}", path.display()))
}

/// Sends `host` (the resolved `workdir/`) into the created container `id` at `target`, owned
/// by `owner` (the image's user, so the environment can change its files), and returns what was
/// sent, remembered for [`copy_back`].
pub(crate) async fn copy_in(
    engine: &Engine,
    id: &str,
    host: &Path,
    target: &str,
    owner: (u32, u32),
) -> Result<(Manifest, CopyIn), RunError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let root = host.to_path_buf();
    let stream = written_stream(move |w| {
        let mut tar = tar::Builder::new(w);
        let mut manifest = Manifest::new();
        let mut stats = CopyIn::default();
        let mut walk = Walk {
            root: &root,
            owner,
            manifest: &mut manifest,
            stats: &mut stats,
        };
        walk.append_tree(&mut tar, Path::new(""))?;
        tar.finish()?;
        let _ = tx.send((manifest, stats));
        Ok(())
    });
    engine
        .upload_archive(id, target, stream)
        .await
        .map_err(RunError::docker("copy workdir/ into the engine"))?;
    rx.await.map_err(|_| RunError::Workdir {
        path: host.display().to_string(),
        reason: "it could not be read to the end".into(),
    })
}

/// Reads `reader` to its end into `sink`, returning the SHA-256 of what passed.
fn hash_copy(mut reader: impl Read, mut sink: impl Write) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
    }
    Ok(hasher.finalize().into())
}

fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    hash_copy(std::fs::File::open(path)?, std::io::sink())
}

/// A reader that hashes what it reads.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

struct Walk<'a> {
    root: &'a Path,
    owner: (u32, u32),
    manifest: &'a mut Manifest,
    stats: &'a mut CopyIn,
}

impl Walk<'_> {
    fn append_tree(
        &mut self,
        tar: &mut tar::Builder<&mut dyn Write>,
        rel: &Path,
    ) -> std::io::Result<()> {
        let root = self.root;
        let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&path)?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_uid(self.owner.0.into());
            header.set_gid(self.owner.1.into());
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)?;
                tar.append_link(&mut header, &name, &target)?;
                self.manifest.insert(name, Sent::Link(target));
            } else if meta.is_dir() {
                header.set_size(0);
                tar.append_data(&mut header, &name, std::io::empty())?;
                self.manifest.insert(name.clone(), Sent::Dir);
                self.append_tree(tar, &name)?;
            } else if meta.is_file() {
                // Exactly the size in the header, even if the file grows meanwhile.
                let mut reader = Hashing {
                    inner: std::fs::File::open(&path)?.take(meta.len()),
                    hasher: Sha256::new(),
                };
                tar.append_data(&mut header, &name, &mut reader)?;
                self.manifest
                    .insert(name, Sent::File(reader.hasher.finalize().into()));
                self.stats.files += 1;
                self.stats.bytes += meta.len();
            }
        }
        Ok(())
    }
}

/// Copies the container's `target` back into `host` (see the module docs for what changes).
pub(crate) async fn copy_back(
    engine: &Engine,
    id: &str,
    host: &Path,
    target: &str,
    manifest: Manifest,
) -> Result<CopyBack, RunError> {
    let stream = engine
        .download_archive(id, target)
        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let root = host.to_path_buf();
    tokio::task::spawn_blocking(move || apply(reader, &root, &manifest))
        .await
        .map_err(|e| RunError::Other(format!("copying workdir/ back: {e}")))?
        .map_err(io_err(host))
}

/// The relative path of an archive entry below its top folder, if it is a plain one (no `..`,
/// not absolute).
fn inner_path(path: &Path) -> Option<PathBuf> {
    let mut parts = path.components().filter(|c| *c != Component::CurDir);
    // The folder's own name comes first.
    parts.next()?;
    let mut out = PathBuf::new();
    for part in parts {
        match part {
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

/// True when every folder from `root` down to `rel`'s parent is a real folder (no symlink), so
/// writing `rel` stays inside `root`; missing folders are made.
fn safe_parent(root: &Path, rel: &Path) -> std::io::Result<bool> {
    let mut dir = root.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(true);
    };
    for part in parent.components() {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&dir)?,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// What is at `path` here now, in manifest terms (`None`: nothing).
fn current(path: &Path) -> std::io::Result<Option<Sent>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Ok(Some(Sent::Link(std::fs::read_link(path)?))),
        Ok(m) if m.is_dir() => Ok(Some(Sent::Dir)),
        Ok(_) => Ok(Some(Sent::File(hash_file(path)?))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn apply(reader: impl Read, root: &Path, manifest: &Manifest) -> std::io::Result<CopyBack> {
    let mut report = CopyBack::default();
    let mut seen = BTreeSet::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = inner_path(&entry.path()?) else {
            report.refused += 1;
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        seen.insert(rel.clone());
        if !safe_parent(root, &rel)? {
            report.refused += 1;
            continue;
        }
        let dest = root.join(&rel);
        let sent = manifest.get(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            if current(&dest)?.is_none() {
                std::fs::create_dir(&dest)?;
            }
            continue;
        }
        // The container's version, written aside first.
        let (theirs, temp) = if kind.is_symlink() {
            let Some(link) = entry.link_name()? else {
                report.refused += 1;
                continue;
            };
            (Sent::Link(link.into_owned()), None)
        } else if kind.is_file() {
            let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
            let dir = dest.parent().unwrap_or(root);
            let mut temp = tempfile::NamedTempFile::new_in(dir)?;
            let hash = hash_copy(&mut entry, temp.as_file_mut())?;
            std::fs::set_permissions(
                temp.path(),
                std::os::unix::fs::PermissionsExt::from_mode(mode),
            )?;
            (Sent::File(hash), Some(temp))
        } else {
            // Devices, fifos, hard links: not copied back.
            report.refused += 1;
            continue;
        };
        if sent == Some(&theirs) {
            continue; // The container did not change it.
        }
        let ours = current(&dest)?;
        let unchanged_here = ours.as_ref() == sent || (sent.is_none() && ours.is_none());
        let at = if unchanged_here && ours != Some(Sent::Dir) {
            dest.clone()
        } else {
            let mut name = dest.as_os_str().to_owned();
            name.push(".from-container");
            report.conflicts.push(rel.clone());
            PathBuf::from(name)
        };
        match (temp, &theirs) {
            (Some(temp), _) => {
                temp.persist(&at).map_err(|e| e.error)?;
            }
            (None, Sent::Link(target)) => {
                // Replaced only when what is there is a link or a file (checked above).
                let _ = std::fs::remove_file(&at);
                std::os::unix::fs::symlink(target, &at)?;
            }
            (None, _) => {}
        }
        if at == dest {
            report.updated += 1;
        }
    }
    // Deleted in the container, and unchanged here since it was sent: deleted here too.
    for (rel, sent) in manifest.iter().rev() {
        if seen.contains(rel) {
            continue;
        }
        let dest = root.join(rel);
        if !safe_parent(root, rel)? || current(&dest)?.as_ref() != Some(sent) {
            continue;
        }
        let removed = match sent {
            Sent::Dir => std::fs::remove_dir(&dest).is_ok(),
            _ => std::fs::remove_file(&dest).is_ok(),
        };
        if removed && *sent != Sent::Dir {
            report.deleted += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h, "workdir/", std::io::empty()).unwrap();
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn only_the_container_s_changes_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Sent: same.txt, edited.txt, both.txt, gone.txt.
        let mut manifest = Manifest::new();
        for (n, d) in [
            ("same.txt", b"s".as_slice()),
            ("edited.txt", b"e"),
            ("both.txt", b"b"),
            ("gone.txt", b"g"),
        ] {
            std::fs::write(root.join(n), d).unwrap();
            manifest.insert(n.into(), Sent::File(hash(d)));
        }
        // Meanwhile here: same.txt and both.txt changed.
        std::fs::write(root.join("same.txt"), "host edit").unwrap();
        std::fs::write(root.join("both.txt"), "host edit").unwrap();
        let archive = tar_of(&[
            ("workdir/same.txt", b"s"),
            ("workdir/edited.txt", b"container edit"),
            ("workdir/both.txt", b"container edit"),
            ("workdir/sub/new.txt", b"new"),
        ]);
        let report = apply(archive.as_slice(), root, &manifest).unwrap();
        let read = |n: &str| std::fs::read_to_string(root.join(n)).unwrap();
        assert_eq!(read("same.txt"), "host edit");
        assert_eq!(read("edited.txt"), "container edit");
        assert_eq!(read("both.txt"), "host edit");
        assert_eq!(read("both.txt.from-container"), "container edit");
        assert_eq!(read("sub/new.txt"), "new");
        assert!(!root.join("gone.txt").exists());
        assert_eq!(report.updated, 2);
        assert_eq!(report.deleted, 1);
        assert_eq!(report.conflicts, vec![PathBuf::from("both.txt")]);
    }

    #[test]
    fn nothing_is_written_outside_or_through_a_link() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let mut manifest = Manifest::new();
        manifest.insert("out".into(), Sent::Link(outside.path().to_path_buf()));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "workdir/out/evil", b"x".as_slice())
            .unwrap();
        // A raw `..` name (the tar crate refuses to write one through its API).
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..17].copy_from_slice(b"workdir/../escape");
        h.set_cksum();
        b.append(&h, b"x".as_slice()).unwrap();
        let archive = b.into_inner().unwrap();
        let report = apply(archive.as_slice(), root, &manifest).unwrap();
        assert_eq!(report.refused, 2);
        assert!(!outside.path().join("evil").exists());
        assert!(!root.parent().unwrap().join("escape").exists());
    }
}
