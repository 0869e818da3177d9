//! The one way a project's files are found and read: every project file (config.json, the base
//! and userConfig files, presets, `workdir/local.nix`) goes through [`resolve_inside`] and
//! [`read_text`], so a hostile project cannot make biar-tui hang, run out of memory, or read or
//! write outside the project.
//!
//! The rules (docs/config.md "Project files"):
//! - a project file is a regular file: a FIFO, a device, a socket or a folder is refused (a FIFO
//!   is opened non-blocking and checked again on the open descriptor, so it never hangs);
//! - it is no larger than [`MAX_CONFIG_JSON_BYTES`] / [`MAX_NIX_FILE_BYTES`], far beyond any
//!   real project and far below what would exhaust memory;
//! - a symlink is followed only when it resolves inside the project; reads and writes then go to
//!   the resolved file (the link stays a link); one that leaves the project is refused;
//! - UTF-8 text without a byte order mark.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use crate::category::Category;
use crate::location::Location;

/// Largest `config.json` biar-tui reads (a real one is a few hundred bytes).
pub const MAX_CONFIG_JSON_BYTES: u64 = 1 << 20;
/// Largest Nix configuration file biar-tui reads (a real one is a few kilobytes; parsing costs
/// tens of times the file's size in memory).
pub const MAX_NIX_FILE_BYTES: u64 = 4 << 20;

/// A project file that cannot be read as one.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("{path}: is {kind}, not a regular file; a project file must be a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{path}: is {size} bytes, over the {} MiB limit for this project file (no real project \
         has one this large)", limit >> 20
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error(
        "{path}: resolves to {target}, outside the project folder {root}; a symlink in a project \
         may only point inside it"
    )]
    OutsideProject {
        path: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },
    #[error("{at}: starts with a byte order mark (BOM); save the file as UTF-8 without a BOM")]
    ByteOrderMark { at: Location },
    #[error("{at}: is not UTF-8 text; save it as UTF-8")]
    NotUtf8 { at: Location },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl FileError {
    pub fn category(&self) -> Category {
        match self {
            FileError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                Category::Failure
            }
            _ => Category::BadInput,
        }
    }

    /// True when the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A file type in words, for messages.
fn kind_of(ty: std::fs::FileType) -> &'static str {
    if ty.is_dir() {
        "a directory"
    } else if ty.is_fifo() {
        "a FIFO (named pipe)"
    } else if ty.is_char_device() || ty.is_block_device() {
        "a device"
    } else if ty.is_socket() {
        "a socket"
    } else if ty.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

/// Checks that `path` (followed if a link) is a regular file of at most `limit` bytes, without
/// opening it.
pub fn check_regular(path: &Path, limit: u64) -> Result<u64, FileError> {
    let meta = std::fs::metadata(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_meta(path, &meta, limit)
}

fn check_meta(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<u64, FileError> {
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit,
        });
    }
    Ok(meta.len())
}

/// Opens a regular file for reading without ever blocking on a FIFO: checked before the open,
/// opened non-blocking, and checked again on the descriptor (the file may have been swapped).
pub fn open_regular(path: &Path, limit: u64) -> Result<std::fs::File, FileError> {
    check_regular(path, limit)?;
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    check_meta(path, &file.metadata().map_err(io)?, limit)?;
    Ok(file)
}

/// Reads a project file as text (see the module's rules). `path` should come from
/// [`resolve_inside`].
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let file = open_regular(path, limit)?;
    let mut bytes = Vec::new();
    // The file may grow after the checks: never read more than the limit allows.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }
    if bytes.starts_with(b"\xef\xbb\xbf") {
        return Err(FileError::ByteOrderMark {
            at: Location {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let good = std::str::from_utf8(good).expect("valid up to here");
        FileError::NotUtf8 {
            at: Location::from_offset(path, good, good.len()),
        }
    })
}

/// Where project file `rel` (relative to `root`) really is: `root` joined with the file's path
/// after every symlink is resolved, when that stays inside the project; a path that leaves it
/// (through a link anywhere along the way) is [`FileError::OutsideProject`]. A file that does not
/// exist yet resolves through its nearest existing folder (so a new file is created inside the
/// project, never through a link out of it). The result contains no symlinks at the time of the
/// call; writes go there ([`super::write_atomic`] refuses to replace a link).
pub fn resolve_inside(root: &Path, rel: &Path) -> Result<PathBuf, FileError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FileError::Io { path, source }
    };
    let croot = root.canonicalize().map_err(io(root))?;
    let full = root.join(rel);
    if rel.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    }) {
        return Err(FileError::OutsideProject {
            target: full.clone(),
            path: full,
            root: root.to_path_buf(),
        });
    }
    // The nearest existing ancestor (the path itself if it exists), and what lies beyond it.
    let mut existing = full.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    let resolved = loop {
        match existing.canonicalize() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(&existing).is_ok() {
                    // A link whose target does not exist: where it leads is unknown.
                    return Err(FileError::Io {
                        path: existing,
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "a symlink whose target does not exist",
                        ),
                    });
                }
                match (existing.file_name(), existing.parent()) {
                    (Some(name), Some(parent)) => {
                        rest.push(name.to_os_string());
                        existing = parent.to_path_buf();
                    }
                    _ => return Err(io(&full)(e)),
                }
            }
            Err(e) => return Err(io(&existing)(e)),
        }
    };
    let inside = resolved
        .strip_prefix(&croot)
        .map_err(|_| FileError::OutsideProject {
            path: full.clone(),
            target: resolved.clone(),
            root: root.to_path_buf(),
        })?;
    let mut out = root.to_path_buf();
    out.push(inside);
    // Only plain names can be missing (`rel` has no `..`).
    for name in rest.iter().rev() {
        out.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_limits_hold() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.nix");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(read_text(&f, 3).unwrap(), "abc");
        let e = read_text(&f, 2).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::TooLarge {
                    size: 3,
                    limit: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.category(), Category::BadInput);
        assert!(read_text(&d.path().join("nope"), 9)
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn folders_fifos_and_devices_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let e = read_text(d.path(), 9).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let fifo = d.path().join("p");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read_text(&fifo, 9).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_text(Path::new("/dev/zero"), 9).unwrap_err();
        assert!(e.to_string().contains("a device"), "{e}");
        assert_eq!(e.category(), Category::BadInput);
    }

    #[test]
    fn a_bom_and_bad_utf8_are_named_with_their_place() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.json");
        std::fs::write(&f, b"\xef\xbb\xbf{}").unwrap();
        let e = read_text(&f, 99).unwrap_err().to_string();
        assert!(
            e.contains("c.json:1:1: starts with a byte order mark"),
            "{e}"
        );
        std::fs::write(&f, b"{\n  \"a\": \"\xff\"}").unwrap();
        let e = read_text(&f, 99).unwrap_err().to_string();
        assert!(e.contains("c.json:2:9: is not UTF-8"), "{e}");
    }

    #[test]
    fn links_inside_resolve_and_links_out_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join("shared")).unwrap();
        std::fs::write(root.join("shared/u.nix"), "x").unwrap();
        std::os::unix::fs::symlink("shared/u.nix", root.join("u.nix")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
        assert_eq!(
            resolve_inside(root, Path::new("u.nix")).unwrap(),
            root.join("shared/u.nix")
        );
        assert_eq!(
            resolve_inside(root, Path::new("./new/dir/f.nix")).unwrap(),
            root.join("new/dir/f.nix")
        );
        for bad in ["out", "out/f.nix", "out/new/f.nix", "shared/../../x"] {
            let e = resolve_inside(root, Path::new(bad)).unwrap_err();
            assert!(matches!(e, FileError::OutsideProject { .. }), "{bad}: {e}");
            assert_eq!(e.category(), Category::BadInput);
        }
        let e = resolve_inside(root, Path::new("dangling")).unwrap_err();
        assert!(e.to_string().contains("target does not exist"), "{e}");
    }
}
