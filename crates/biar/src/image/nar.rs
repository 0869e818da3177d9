//! NAR (Nix's canonical archive, what `nix-store --dump` prints) to tar entries, on the fly.
//!
//! A NAR is a sequence of length-prefixed strings (u64 little-endian length, bytes, zero padding to
//! 8): `nix-archive-1 ( type regular [executable ""] contents <bytes> )`, `( type symlink target
//! <t> )`, `( type directory entry ( name <n> node <node> ) … )`. Directory entries come sorted by
//! name, so the tar comes out in the same depth-first, bytewise-sorted order on every machine.
//! File contents are copied through in the reader's buffer: nothing is held whole.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::tar::{self, Kind};
use super::ImageError;

/// Longest token or name we accept (names are at most 255 bytes on Linux; targets up to PATH_MAX).
const MAX_STRING: u64 = 4096;

struct Reader<'a, R> {
    r: &'a mut R,
    path: &'a str,
}

impl<R: AsyncBufRead + Unpin> Reader<'_, R> {
    fn bad(&self, reason: impl Into<String>) -> ImageError {
        ImageError::Nar {
            path: self.path.to_string(),
            reason: reason.into(),
        }
    }

    async fn u64(&mut self) -> Result<u64, ImageError> {
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b).await.map_err(|e| self.io(e))?;
        Ok(u64::from_le_bytes(b))
    }

    fn io(&self, e: std::io::Error) -> ImageError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.bad("truncated")
        } else {
            ImageError::Io {
                doing: format!("reading the NAR of {}", self.path),
                source: e,
            }
        }
    }

    async fn skip_padding(&mut self, len: u64) -> Result<(), ImageError> {
        let pad = ((8 - len % 8) % 8) as usize;
        let mut b = [0u8; 8];
        self.r
            .read_exact(&mut b[..pad])
            .await
            .map_err(|e| self.io(e))?;
        if b[..pad].iter().any(|&x| x != 0) {
            return Err(self.bad("non-zero padding"));
        }
        Ok(())
    }

    async fn string(&mut self) -> Result<Vec<u8>, ImageError> {
        let len = self.u64().await?;
        if len > MAX_STRING {
            return Err(self.bad(format!("a {len}-byte token")));
        }
        let mut s = vec![0u8; len as usize];
        self.r.read_exact(&mut s).await.map_err(|e| self.io(e))?;
        self.skip_padding(len).await?;
        Ok(s)
    }

    async fn expect(&mut self, tag: &str) -> Result<(), ImageError> {
        let s = self.string().await?;
        if s != tag.as_bytes() {
            return Err(self.bad(format!(
                "expected `{tag}`, found `{}`",
                String::from_utf8_lossy(&s)
            )));
        }
        Ok(())
    }
}

/// Reads one NAR from `nar` and writes its tar entries to `out`, the NAR's root at `root` (e.g.
/// `nix/store/<hash>-<name>`, no trailing slash). `path` names the store path in errors.
/// Does not write the archive's end.
pub async fn nar_to_tar<R, W>(
    nar: &mut R,
    out: &mut W,
    root: &[u8],
    path: &str,
) -> Result<(), ImageError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut copy = NarToTar {
        r: Reader { r: nar, path },
        out,
        head: Vec::with_capacity(1024),
        dirs: Vec::new(),
        name: root.to_vec(),
    };
    copy.r.expect("nix-archive-1").await?;
    loop {
        copy.node().await?;
        if !copy.next_node().await? {
            return Ok(());
        }
    }
}

/// One NAR being turned into tar entries, node by node.
struct NarToTar<'a, R, W> {
    r: Reader<'a, R>,
    out: &'a mut W,
    /// The tar header being written (reused).
    head: Vec<u8>,
    /// The open directories: their tar name (with trailing '/') and their last entry name.
    dirs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The tar name of the node about to be read.
    name: Vec<u8>,
}

impl<R, W> NarToTar<'_, R, W>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    /// Reads one node (`( type … )`) and writes its tar entry; a directory stays open.
    async fn node(&mut self) -> Result<(), ImageError> {
        self.r.expect("(").await?;
        self.r.expect("type").await?;
        let t = self.r.string().await?;
        self.head.clear();
        match t.as_slice() {
            b"regular" => self.regular().await,
            b"symlink" => self.symlink().await,
            b"directory" => {
                self.name.push(b'/');
                tar::header(&mut self.head, &self.name, Kind::Dir, 0o555);
                self.write_head().await?;
                self.dirs.push((std::mem::take(&mut self.name), Vec::new()));
                Ok(())
            }
            other => Err(self.r.bad(format!(
                "unknown node type `{}`",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// A file: its header, then its contents streamed through the reader's buffer.
    async fn regular(&mut self) -> Result<(), ImageError> {
        let path = self.r.path;
        let mut tok = self.r.string().await?;
        let mut executable = false;
        if tok == b"executable" {
            executable = true;
            self.r.expect("").await?;
            tok = self.r.string().await?;
        }
        if tok != b"contents" {
            return Err(self.r.bad("expected `contents`"));
        }
        let size = self.r.u64().await?;
        let mode = if executable { 0o555 } else { 0o444 };
        tar::header(&mut self.head, &self.name, Kind::File { size }, mode);
        self.write_head().await?;
        let mut left = size;
        while left > 0 {
            let buf = match self.r.r.fill_buf().await {
                Ok(buf) if !buf.is_empty() => buf,
                Ok(_) => return Err(self.r.bad("truncated contents")),
                Err(e) => return Err(self.r.io(e)),
            };
            let n = buf.len().min(left as usize);
            self.out
                .write_all(&buf[..n])
                .await
                .map_err(|e| write_error(path, e))?;
            self.r.r.consume(n);
            left -= n as u64;
        }
        self.out
            .write_all(&[0u8; tar::BLOCK][..tar::padding(size)])
            .await
            .map_err(|e| write_error(path, e))?;
        self.r.skip_padding(size).await?;
        self.close_leaf().await
    }

    async fn symlink(&mut self) -> Result<(), ImageError> {
        self.r.expect("target").await?;
        let target = self.r.string().await?;
        tar::header(
            &mut self.head,
            &self.name,
            Kind::Symlink { target: &target },
            0o777,
        );
        self.write_head().await?;
        self.close_leaf().await
    }

    /// The `)` of a file or symlink node, and of the directory entry it was the node of.
    async fn close_leaf(&mut self) -> Result<(), ImageError> {
        self.r.expect(")").await?;
        if !self.dirs.is_empty() {
            self.r.expect(")").await?; // closes the entry this leaf was the node of
        }
        Ok(())
    }

    async fn write_head(&mut self) -> Result<(), ImageError> {
        let path = self.r.path;
        self.out
            .write_all(&self.head)
            .await
            .map_err(|e| write_error(path, e))
    }

    /// Finds the next node: an entry of the innermost open directory (its tar name set), or
    /// closes directories; `false` when the NAR is done.
    async fn next_node(&mut self) -> Result<bool, ImageError> {
        loop {
            let Some((dir, last)) = self.dirs.last_mut() else {
                return Ok(false);
            };
            let tok = self.r.string().await?;
            if tok == b"entry" {
                self.r.expect("(").await?;
                self.r.expect("name").await?;
                let entry = self.r.string().await?;
                if !is_entry_name(&entry) {
                    return Err(self.r.bad(format!(
                        "bad entry name `{}`",
                        String::from_utf8_lossy(&entry)
                    )));
                }
                if !last.is_empty() && entry <= *last {
                    return Err(self.r.bad("directory entries out of order"));
                }
                self.name = dir.clone();
                self.name.extend_from_slice(&entry);
                *last = entry;
                self.r.expect("node").await?;
                return Ok(true);
            } else if tok == b")" {
                self.dirs.pop();
                if self.dirs.is_empty() {
                    return Ok(false);
                }
                self.r.expect(")").await?; // closes the entry this directory was the node of
            } else {
                return Err(self.r.bad("expected `entry` or `)`"));
            }
        }
    }
}

/// A directory entry's name is one path component: never empty, `.`, `..`, nor with `/` or NUL.
fn is_entry_name(entry: &[u8]) -> bool {
    !(entry.is_empty()
        || entry == b"."
        || entry == b".."
        || entry.contains(&b'/')
        || entry.contains(&0))
}

fn write_error(path: &str, e: std::io::Error) -> ImageError {
    ImageError::Io {
        doing: format!("writing the layer entries of {path}"),
        source: e,
    }
}

/// A NAR of a local file or directory, as `nix-store --dump` makes it (for stores on this host and
/// for tests). Synchronous: call it from `spawn_blocking`.
pub fn dump_path(path: &std::path::Path, out: &mut impl std::io::Write) -> std::io::Result<()> {
    fn string(out: &mut impl std::io::Write, s: &[u8]) -> std::io::Result<()> {
        out.write_all(&(s.len() as u64).to_le_bytes())?;
        out.write_all(s)?;
        out.write_all(&[0u8; 8][..(8 - s.len() % 8) % 8])
    }
    fn node(out: &mut impl std::io::Write, path: &std::path::Path) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(path)?;
        string(out, b"(")?;
        string(out, b"type")?;
        if meta.file_type().is_symlink() {
            string(out, b"symlink")?;
            string(out, b"target")?;
            string(out, std::fs::read_link(path)?.as_os_str().as_bytes())?;
        } else if meta.is_dir() {
            string(out, b"directory")?;
            let mut entries: Vec<_> = std::fs::read_dir(path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()?;
            entries.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for e in entries {
                string(out, b"entry")?;
                string(out, b"(")?;
                string(out, b"name")?;
                string(out, e.as_bytes())?;
                string(out, b"node")?;
                node(out, &path.join(&e))?;
                string(out, b")")?;
            }
        } else {
            string(out, b"regular")?;
            if meta.permissions().mode() & 0o100 != 0 {
                string(out, b"executable")?;
                string(out, b"")?;
            }
            string(out, b"contents")?;
            let size = meta.len();
            out.write_all(&size.to_le_bytes())?;
            let copied = std::io::copy(&mut std::fs::File::open(path)?, out)?;
            if copied != size {
                return Err(std::io::Error::other("file changed while dumped"));
            }
            out.write_all(&[0u8; 8][..(8 - size as usize % 8) % 8])?;
        }
        string(out, b")")
    }
    string(out, b"nix-archive-1")?;
    node(out, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("pkg");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("share/doc")).unwrap();
        std::fs::write(root.join("bin/hello"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(
            root.join("bin/hello"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(root.join("share/doc/README"), vec![b'x'; 5000]).unwrap();
        std::fs::write(root.join("a-b"), "").unwrap();
        std::os::unix::fs::symlink("bin/hello", root.join("link")).unwrap();
        d
    }

    async fn convert(nar: &[u8]) -> Result<Vec<u8>, ImageError> {
        let mut out = Vec::new();
        let mut r = nar;
        nar_to_tar(&mut r, &mut out, b"nix/store/abc-pkg", "/nix/store/abc-pkg").await?;
        tar::end(&mut out);
        Ok(out)
    }

    #[tokio::test]
    async fn a_directory_round_trips_through_gnu_tar() {
        let d = sample();
        let mut nar = Vec::new();
        dump_path(&d.path().join("pkg"), &mut nar).unwrap();
        let out = convert(&nar).await.unwrap();
        let file = d.path().join("l.tar");
        std::fs::write(&file, &out).unwrap();
        let listing = std::process::Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8(listing.stdout).unwrap();
        let got: Vec<String> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{} {}", f[0], f[5..].join(" "))
            })
            .collect();
        assert_eq!(
            got,
            [
                "dr-xr-xr-x nix/store/abc-pkg/",
                "-r--r--r-- nix/store/abc-pkg/a-b",
                "dr-xr-xr-x nix/store/abc-pkg/bin/",
                "-r-xr-xr-x nix/store/abc-pkg/bin/hello",
                "lrwxrwxrwx nix/store/abc-pkg/link -> bin/hello",
                "dr-xr-xr-x nix/store/abc-pkg/share/",
                "dr-xr-xr-x nix/store/abc-pkg/share/doc/",
                "-r--r--r-- nix/store/abc-pkg/share/doc/README",
            ]
        );
        let x = d.path().join("x");
        std::fs::create_dir(&x).unwrap();
        let st = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&file)
            .arg("-C")
            .arg(&x)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            std::fs::read(x.join("nix/store/abc-pkg/share/doc/README")).unwrap(),
            vec![b'x'; 5000]
        );
    }

    #[tokio::test]
    async fn single_file_and_symlink_store_paths() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), "data").unwrap();
        std::os::unix::fs::symlink("/nix/store/zzz", d.path().join("l")).unwrap();
        for (name, expect) in [("f", "-r--r--r--"), ("l", "lrwxrwxrwx")] {
            let mut nar = Vec::new();
            dump_path(&d.path().join(name), &mut nar).unwrap();
            let out = convert(&nar).await.unwrap();
            assert_eq!(out.len(), 512 * (if name == "f" { 2 } else { 1 }) + 1024);
            let mode = &out[100..107];
            let expect_mode = match expect {
                "-r--r--r--" => b"0000444",
                _ => b"0000777",
            };
            assert_eq!(mode, expect_mode);
        }
    }

    #[tokio::test]
    async fn corrupt_nars_are_refused_with_the_path() {
        let d = sample();
        let mut nar = Vec::new();
        dump_path(&d.path().join("pkg"), &mut nar).unwrap();
        let truncated = &nar[..nar.len() - 20];
        let err = convert(truncated).await.unwrap_err();
        assert!(err.to_string().contains("/nix/store/abc-pkg"), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        let mut bad = nar.clone();
        bad[8..21].copy_from_slice(b"nix-archive-2");
        assert!(matches!(convert(&bad).await, Err(ImageError::Nar { .. })));
    }
}
