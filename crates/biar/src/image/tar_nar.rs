//! A tar of store paths (GNU tar's, made in the builder with `--sort=name --hard-dereference`)
//! turned into the paths' NARs on the fly, so the NAR → tar converter makes the same layer bytes
//! whichever way the paths left the builder.
//!
//! `--sort=name` walks each directory's names bytewise, depth first: the order of a NAR's
//! directory entries, so the NARs stream; file contents pass through in the chunks they arrived
//! in, never copied. What a tar holds beyond a NAR (owners, times, permission bits but the
//! owner's execute bit) is dropped; what a NAR cannot hold (devices, FIFOs, hard links, which
//! `--hard-dereference` leaves out) is refused. Entries are never reordered (that would hold
//! them): out of order, the NAR parser refuses them.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::StreamExt;

use super::tar::{padding, BLOCK};

/// A tar as the chunks it arrives in.
pub type Chunks = BoxStream<'static, io::Result<Bytes>>;

/// Longest extended header (PAX records, GNU long name) accepted.
const MAX_EXTENDED: u64 = 64 * 1024;

fn bad(path: &str, reason: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the builder's tar of {path}: {reason}"),
    )
}

/// Reads a chunk stream: small exact reads (headers) and zero-copy pieces (contents).
struct Reader {
    chunks: Chunks,
    cur: Bytes,
}

impl Reader {
    fn new(chunks: Chunks) -> Reader {
        Reader {
            chunks,
            cur: Bytes::new(),
        }
    }

    /// False at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        while self.cur.is_empty() {
            match self.chunks.next().await {
                Some(chunk) => self.cur = chunk?,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn exact(&mut self, n: usize) -> io::Result<Bytes> {
        if self.cur.len() >= n {
            return Ok(self.cur.split_to(n));
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let k = (n - out.len()).min(self.cur.len());
            out.extend_from_slice(&self.cur.split_to(k));
        }
        Ok(out.freeze())
    }

    /// Up to `n` bytes (at least one), as they are in the current chunk.
    async fn piece(&mut self, n: u64) -> io::Result<Bytes> {
        if !self.fill().await? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(self.cur.len());
        Ok(self.cur.split_to(k))
    }

    async fn skip(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            n -= self.piece(n).await?.len() as u64;
        }
        Ok(())
    }
}

/// One tar entry, as much of it as a NAR keeps.
#[derive(Debug)]
enum Node {
    Dir,
    File { size: u64, executable: bool },
    Symlink { target: Vec<u8> },
}

struct Entry {
    name: Vec<u8>,
    node: Node,
}

/// A header's number field: octal (NUL or space ended) or GNU base-256.
fn number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] != 0x80 || field[1..field.len() - 8].iter().any(|&b| b != 0) {
            return None;
        }
        return Some(u64::from_be_bytes(
            field[field.len() - 8..].try_into().ok()?,
        ));
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

/// A NUL-ended field's bytes.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn checksum_ok(h: &[u8]) -> bool {
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    number(&h[148..156]) == Some(sum)
}

/// The PAX records `path`, `linkpath` and `size` of an extended header.
fn pax(data: &[u8], path: &str) -> io::Result<[Option<Vec<u8>>; 3]> {
    let mut found = [None, None, None];
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad(path, "a malformed PAX record"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|l| l.parse().ok())
            .filter(|&l| l > space + 1 && l <= rest.len() && rest[l - 1] == b'\n')
            .ok_or_else(|| bad(path, "a malformed PAX record"))?;
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad(path, "a malformed PAX record"))?;
        let slot = match &record[..eq] {
            b"path" => Some(0),
            b"linkpath" => Some(1),
            b"size" => Some(2),
            _ => None, // times, owners, xattrs: not in a NAR
        };
        if let Some(i) = slot {
            found[i] = Some(record[eq + 1..].to_vec());
        }
        rest = &rest[len..];
    }
    Ok(found)
}

/// The next entry, its extended headers applied; `None` at the archive's end (the rest of the
/// stream must be zeros).
async fn next_entry(r: &mut Reader, path: &str) -> io::Result<Option<Entry>> {
    let (mut name, mut link, mut pax_size) = (None, None, None);
    loop {
        let h = r.exact(BLOCK).await?;
        if h.iter().all(|&b| b == 0) {
            while r.fill().await? {
                if r.cur.iter().any(|&b| b != 0) {
                    return Err(bad(path, "bytes after the end of the archive"));
                }
                r.cur.clear();
            }
            return Ok(None);
        }
        if !checksum_ok(&h) {
            return Err(bad(path, "a header with a wrong checksum"));
        }
        let size = number(&h[124..136]).ok_or_else(|| bad(path, "a malformed size"))?;
        let flag = h[156];
        if matches!(flag, b'x' | b'g' | b'L' | b'K') {
            if size > MAX_EXTENDED {
                return Err(bad(path, format!("a {size}-byte extended header")));
            }
            let data = r.exact(size as usize).await?;
            r.skip(padding(size) as u64).await?;
            match flag {
                b'x' => {
                    let [p, l, s] = pax(&data, path)?;
                    name = p.or(name);
                    link = l.or(link);
                    if let Some(s) = s {
                        let s = std::str::from_utf8(&s).ok().and_then(|s| s.parse().ok());
                        pax_size = Some(s.ok_or_else(|| bad(path, "a malformed PAX size"))?);
                    }
                }
                b'L' => name = Some(cstr(&data).to_vec()),
                b'K' => link = Some(cstr(&data).to_vec()),
                _ => {} // global PAX records: nothing a NAR keeps
            }
            continue;
        }
        let name = name.unwrap_or_else(|| {
            let base = cstr(&h[..100]);
            let prefix = cstr(&h[345..500]);
            // Only POSIX ustar has a prefix field (GNU keeps times there).
            if &h[257..263] == b"ustar\0" && !prefix.is_empty() {
                [prefix, b"/", base].concat()
            } else {
                base.to_vec()
            }
        });
        let link = link.unwrap_or_else(|| cstr(&h[157..257]).to_vec());
        let mode = number(&h[100..108]).ok_or_else(|| bad(path, "a malformed mode"))?;
        let executable = mode & 0o100 != 0;
        let node = match flag {
            b'0' | 0 | b'7' => Node::File {
                size: pax_size.unwrap_or(size),
                executable,
            },
            b'2' => Node::Symlink { target: link },
            b'5' => Node::Dir,
            other => {
                return Err(bad(
                    path,
                    format!(
                        "`{}` is a tar entry of type `{}`, which a store path cannot hold",
                        String::from_utf8_lossy(&name),
                        other as char
                    ),
                ))
            }
        };
        return Ok(Some(Entry { name, node }));
    }
}

/// A NAR string: length, bytes, zero padding to 8.
fn string(out: &mut BytesMut, s: &[u8]) {
    out.put_u64_le(s.len() as u64);
    out.put_slice(s);
    out.put_bytes(0, (8 - s.len() % 8) % 8);
}

/// What is left of the current file's content, then its padding to the block.
struct Body {
    left: u64,
    pad: u64,
}

/// A tar of store paths, converted into their NARs one after another: [`TarToNar::start`] a
/// path, [`TarToNar::next`] its NAR piece by piece, and [`TarToNar::finish`] after the last.
pub struct TarToNar {
    r: Reader,
    /// An entry read that is the next store path's.
    pending: Option<Entry>,
    /// The archive's end was read.
    ended: bool,
    /// The current store path's basename: its entries' first component.
    base: Vec<u8>,
    /// The current store path, for errors.
    path: String,
    started: bool,
    /// The open directories' names, the store path's own first.
    dirs: Vec<Vec<u8>>,
    body: Option<Body>,
    /// What follows the current file's content: NAR padding and closing parentheses.
    after_body: Bytes,
    done: bool,
}

impl TarToNar {
    pub fn new(tar: Chunks) -> TarToNar {
        TarToNar {
            r: Reader::new(tar),
            pending: None,
            ended: false,
            base: Vec::new(),
            path: String::new(),
            started: false,
            dirs: Vec::new(),
            body: None,
            after_body: Bytes::new(),
            done: true,
        }
    }

    /// The NAR of `path` (`/nix/store/<base>`) comes next: the tar's next entries are its own.
    pub fn start(&mut self, path: &str) {
        self.base = path.rsplit('/').next().unwrap_or(path).as_bytes().to_vec();
        self.path = path.to_string();
        self.started = false;
        self.dirs.clear();
        self.done = false;
    }

    /// After the last path: the archive must end here.
    pub async fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.pending.take() {
            let name = String::from_utf8_lossy(&e.name).into_owned();
            return Err(bad(
                &self.path,
                format!("`{name}` follows, of no path asked for"),
            ));
        }
        if !self.ended && self.entry().await?.is_some() {
            return Err(bad(&self.path, "entries follow, of no path asked for"));
        }
        Ok(())
    }

    async fn entry(&mut self) -> io::Result<Option<Entry>> {
        if let Some(e) = self.pending.take() {
            return Ok(Some(e));
        }
        if self.ended {
            return Ok(None);
        }
        match next_entry(&mut self.r, &self.path).await {
            Ok(None) => {
                self.ended = true;
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(bad(&self.path, "truncated")),
            other => other,
        }
    }

    /// The next piece of the current path's NAR; `None` once it is whole.
    pub async fn next(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(body) = &mut self.body {
                if body.left > 0 {
                    let piece = match self.r.piece(body.left).await {
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            return Err(bad(&self.path, "truncated"))
                        }
                        r => r?,
                    };
                    body.left -= piece.len() as u64;
                    return Ok(Some(piece));
                }
                let pad = body.pad;
                self.r.skip(pad).await?;
                self.body = None;
                return Ok(Some(std::mem::take(&mut self.after_body)));
            }
            if self.done {
                return Ok(None);
            }
            let mut out = BytesMut::with_capacity(512);
            match self.entry().await? {
                Some(entry) if entry.name.split(|&b| b == b'/').next() == Some(&self.base) => {
                    self.open(entry, &mut out)?
                }
                other => {
                    if !self.started {
                        let found = match &other {
                            Some(e) => format!("`{}`", String::from_utf8_lossy(&e.name)),
                            None => "the end of the archive".to_string(),
                        };
                        return Err(bad(&self.path, format!("{found} where it should start")));
                    }
                    self.pending = other;
                    self.close_to(0, &mut out);
                    self.done = true;
                }
            }
            if !out.is_empty() {
                return Ok(Some(out.freeze()));
            }
        }
    }

    /// Closes open directories until `depth` are left.
    fn close_to(&mut self, depth: usize, out: &mut BytesMut) {
        while self.dirs.len() > depth {
            self.dirs.pop();
            string(out, b")"); // the directory node
            if !self.dirs.is_empty() {
                string(out, b")"); // the entry it was the node of
            }
        }
    }

    /// The NAR of an entry (of the current path) up to its content (a file's content follows
    /// through `body`).
    fn open(&mut self, entry: Entry, out: &mut BytesMut) -> io::Result<()> {
        let name = entry.name.strip_suffix(b"/").unwrap_or(&entry.name);
        let comps: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
        let depth = comps.len() - 1;
        if !self.started {
            if depth != 0 {
                return Err(bad(&self.path, "the store path's own entry is not first"));
            }
            self.started = true;
            string(out, b"nix-archive-1");
        } else {
            if depth == 0 || self.dirs.is_empty() {
                return Err(bad(&self.path, "a second entry of the store path itself"));
            }
            self.close_to(depth, out);
            let parent_open = self.dirs.len() == depth
                && self.dirs[1..]
                    .iter()
                    .zip(&comps[1..depth])
                    .all(|(d, c)| d.as_slice() == *c);
            if !parent_open {
                return Err(bad(
                    &self.path,
                    format!(
                        "`{}` does not follow its directory",
                        String::from_utf8_lossy(name)
                    ),
                ));
            }
            string(out, b"entry");
            string(out, b"(");
            string(out, b"name");
            string(out, comps[depth]);
            string(out, b"node");
        }
        string(out, b"(");
        string(out, b"type");
        match entry.node {
            Node::Dir => {
                string(out, b"directory");
                self.dirs.push(comps[depth].to_vec());
            }
            Node::Symlink { target } => {
                string(out, b"symlink");
                string(out, b"target");
                string(out, &target);
                string(out, b")");
                if depth > 0 {
                    string(out, b")");
                }
            }
            Node::File { size, executable } => {
                string(out, b"regular");
                if executable {
                    string(out, b"executable");
                    string(out, b"");
                }
                string(out, b"contents");
                out.put_u64_le(size);
                let mut after = BytesMut::with_capacity(40);
                after.put_bytes(0, ((8 - size % 8) % 8) as usize);
                string(&mut after, b")");
                if depth > 0 {
                    string(&mut after, b")");
                }
                self.after_body = after.freeze();
                self.body = Some(Body {
                    left: size,
                    pad: padding(size) as u64,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::nar::dump_path;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// Store paths with every kind of entry, names that sort differently as paths than as
    /// components (`a-b` before `a/…` bytewise, after it in a NAR), long names and link targets,
    /// a hard link, a path that is a file and one that is a symlink.
    fn store() -> (tempfile::TempDir, Vec<&'static str>) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("abc-pkg");
        let w = |rel: &str, bytes: &[u8], mode: u32| {
            let f = p.join(rel);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, bytes).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        w("a/inner", b"in a", 0o444);
        w("a-b", b"", 0o444);
        w("bin/tool", b"#!/bin/sh\necho hi\n", 0o555);
        w("data/big", &vec![7u8; 70_000], 0o444);
        w(&format!("long/{}", "n".repeat(150)), b"long name", 0o444);
        std::fs::create_dir_all(p.join("empty")).unwrap();
        std::os::unix::fs::symlink("t".repeat(120), p.join("link-long")).unwrap();
        std::os::unix::fs::symlink("bin/tool", p.join("link")).unwrap();
        std::fs::hard_link(p.join("data/big"), p.join("data/twin")).unwrap();
        std::fs::write(d.path().join("fff-file"), "data").unwrap();
        std::os::unix::fs::symlink("/nix/store/zzz", d.path().join("lll-link")).unwrap();
        (d, vec!["abc-pkg", "fff-file", "lll-link"])
    }

    /// What the builder runs, with this host's GNU tar.
    fn gnu_tar(root: &Path, bases: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("tar")
            .args(["-c", "--sort=name", "--hard-dereference", "--format=gnu"])
            .arg("-C")
            .arg(root)
            .args(["-f", "-", "--"])
            .args(bases)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn nars(root: &Path, bases: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in bases {
            dump_path(&root.join(b), &mut out).unwrap();
        }
        out
    }

    fn chunked(bytes: Vec<u8>, size: usize) -> Chunks {
        let chunks: Vec<io::Result<Bytes>> = bytes
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(chunks).boxed()
    }

    async fn convert(tar: Vec<u8>, bases: &[&str], chunk: usize) -> io::Result<Vec<u8>> {
        let mut conv = TarToNar::new(chunked(tar, chunk));
        let mut out = Vec::new();
        for b in bases {
            conv.start(&format!("/nix/store/{b}"));
            while let Some(piece) = conv.next().await? {
                out.extend_from_slice(&piece);
            }
        }
        conv.finish().await?;
        Ok(out)
    }

    #[tokio::test]
    async fn the_nars_of_a_gnu_tar_are_the_nars_of_the_paths() {
        let (d, bases) = store();
        let expected = nars(d.path(), &bases);
        let tar = gnu_tar(d.path(), &bases);
        for chunk in [1, 7, 512, 4096, 1 << 20] {
            let got = convert(tar.clone(), &bases, chunk).await.unwrap();
            assert!(got == expected, "chunks of {chunk}");
        }
        // One at a time, and in another order.
        for order in [vec!["lll-link"], vec!["fff-file", "abc-pkg"]] {
            let got = convert(gnu_tar(d.path(), &order), &order, 4096).await;
            assert!(got.unwrap() == nars(d.path(), &order), "{order:?}");
        }
    }

    /// A PAX `path` record for a long name, as Go's and POSIX tars write one.
    #[tokio::test]
    async fn pax_long_names_are_read() {
        let (d, _) = store();
        let long = format!("abc-pkg/long/{}", "n".repeat(150));
        let record = format!("path={long}\n");
        let data = format!("{} {record}", record.len() + 4);
        let mut b = tar::Builder::new(Vec::new());
        let mut x = tar::Header::new_ustar();
        x.set_entry_type(tar::EntryType::XHeader);
        x.set_size(data.len() as u64);
        x.set_path("PaxHeaders.0/long").unwrap();
        x.set_cksum();
        b.append(&x, data.as_bytes()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(9);
        h.set_mode(0o444);
        h.as_mut_bytes()[..100].copy_from_slice(&long.as_bytes()[..100]);
        h.set_cksum();
        b.append(&h, &b"long name"[..]).unwrap();
        let pax = b.into_inner().unwrap();
        // GNU tar's archive of a tree with only that file, its long name record replaced.
        let only = tempfile::tempdir().unwrap();
        let f = only.path().join(&long);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "long name").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mut expected = Vec::new();
        dump_path(&only.path().join("abc-pkg"), &mut expected).unwrap();
        let gnu = gnu_tar(only.path(), &["abc-pkg"]);
        // abc-pkg/, abc-pkg/long/, then the file: keep the two directory headers.
        let mut tar = gnu[..1024].to_vec();
        tar.extend_from_slice(&pax);
        let got = convert(tar, &["abc-pkg"], 100).await.unwrap();
        assert!(got == expected);
        let _ = d;
    }

    #[tokio::test]
    async fn what_a_nar_cannot_hold_or_a_broken_tar_is_refused() {
        let (d, bases) = store();
        let tar = gnu_tar(d.path(), &bases);
        let err = convert(tar[..tar.len() - 5000].to_vec(), &bases, 512)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let mut wrong = tar.clone();
        wrong[600] ^= 1;
        assert!(convert(wrong, &bases, 512).await.is_err());
        // Not the path asked for, a path missing, one too many.
        let err = convert(tar.clone(), &["xyz-other"], 512).await.unwrap_err();
        assert!(err.to_string().contains("/nix/store/xyz-other"), "{err}");
        assert!(err.to_string().contains("where it should start"), "{err}");
        let err = convert(
            tar.clone(),
            &["abc-pkg", "fff-file", "lll-link", "mmm"],
            512,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("/nix/store/mmm"), "{err}");
        let err = convert(tar.clone(), &["abc-pkg", "fff-file"], 512)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("of no path asked for"), "{err}");
        // A hard link (a tar made without --hard-dereference) and a FIFO.
        for kind in [tar::EntryType::Link, tar::EntryType::Fifo] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_mode(0o444);
            b.append_data(&mut h, "abc-pkg", std::io::empty()).unwrap();
            let err = convert(b.into_inner().unwrap(), &["abc-pkg"], 512)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("cannot hold"), "{err}");
        }
    }
}
