//! Tar archives written on a blocking thread and read as an async byte stream, so folders (a
//! root filesystem, a project and its package set) travel to the engine without being held in
//! memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::Stream;

/// Which entries of a folder go in: called with the path relative to the folder and whether it
/// is a directory.
pub type TarFilter = Box<dyn Fn(&Path, bool) -> bool + Send>;

/// One thing to put in the archive.
pub enum TarEntry {
    /// `src` recursively, under `dest` in the archive (sorted, modes kept, owned by root;
    /// symlinks kept as links).
    Dir {
        src: PathBuf,
        dest: PathBuf,
        filter: Option<TarFilter>,
    },
    /// A file with these bytes and mode.
    File {
        dest: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
    },
}

/// The archive of `entries` as a stream of chunks; an I/O error ends the stream with it.
pub fn tar_stream(
    entries: Vec<TarEntry>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    written_stream(move |writer| {
        let mut tar = tar::Builder::new(writer);
        for entry in entries {
            match entry {
                TarEntry::Dir { src, dest, filter } => {
                    append_dir_header(&mut tar, &src, &dest)?;
                    append_tree(&mut tar, &src, Path::new(""), &dest, filter.as_ref())?;
                }
                TarEntry::File { dest, bytes, mode } => {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(bytes.len() as u64);
                    header.set_mode(mode);
                    header.set_uid(0);
                    header.set_gid(0);
                    header.set_mtime(0);
                    header.set_entry_type(tar::EntryType::Regular);
                    tar.append_data(&mut header, &dest, bytes.as_slice())?;
                }
            }
        }
        tar.into_inner()?.flush()
    })
}

/// The bytes `write` writes on a blocking thread, as a stream of chunks (for archives a caller
/// writes its own way, e.g. the run module's copy of `workdir/`); an error of `write` ends the
/// stream with it.
pub fn written_stream<F>(
    write: F,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut writer =
            std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx: tx.clone() });
        let result = write(&mut writer).and_then(|()| writer.flush());
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    async_stream::stream! {
        while let Some(item) = rx.recv().await {
            yield item;
        }
    }
}

fn append_dir_header<W: Write>(
    tar: &mut tar::Builder<W>,
    src: &Path,
    dest: &Path,
) -> std::io::Result<()> {
    if dest.as_os_str().is_empty() || dest == Path::new(".") {
        return Ok(());
    }
    let meta = std::fs::metadata(src)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(0);
    tar.append_data(&mut header, dest, std::io::empty())
}

fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    dest: &Path,
    filter: Option<&TarFilter>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel_name = rel.join(entry.file_name());
        let name = dest.join(&rel_name);
        let meta = std::fs::symlink_metadata(&path)?;
        if let Some(filter) = filter {
            if !filter(&rel_name, meta.is_dir()) {
                continue;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        header.set_uid(0);
        header.set_gid(0);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            tar.append_link(&mut header, &name, &target)?;
        } else if meta.is_dir() {
            header.set_size(0);
            tar.append_data(&mut header, &name, std::io::empty())?;
            append_tree(tar, root, &rel_name, dest, filter)?;
        } else if meta.is_file() {
            tar.append_data(&mut header, &name, std::fs::File::open(&path)?)?;
        }
    }
    Ok(())
}

/// A blocking `Write` that hands chunks to an async receiver.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the receiver of the tar stream went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_filtered_folder_and_a_file_make_a_readable_tar() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keep")).unwrap();
        std::fs::write(dir.path().join("keep/a.nix"), "[]").unwrap();
        std::fs::write(dir.path().join("skip.txt"), "x").unwrap();
        std::os::unix::fs::symlink("keep/a.nix", dir.path().join("link")).unwrap();
        let stream = tar_stream(vec![
            TarEntry::Dir {
                src: dir.path().to_path_buf(),
                dest: "build/project".into(),
                filter: Some(Box::new(|p: &Path, _| p != Path::new("skip.txt"))),
            },
            TarEntry::File {
                dest: "build/default.nix".into(),
                bytes: b"{ }".to_vec(),
                mode: 0o644,
            },
        ]);
        let bytes: Vec<u8> = stream.map(|c| c.unwrap().to_vec()).concat().await;
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "build/project",
                "build/project/keep",
                "build/project/keep/a.nix",
                "build/project/link",
                "build/default.nix"
            ]
        );
    }
}
