//! The one tar format of every layer, kept stable forever (a changed byte is a changed digest).
//!
//! GNU tar format: 512-byte headers with magic `"ustar  \0"`; a name or link target of 100 bytes
//! or more goes in a preceding `././@LongLink` record (`L` for names, `K` for link targets), as GNU
//! tar writes it. Numbers are octal, NUL-terminated; sizes past 8 GiB use GNU base-256. Every
//! entry has uid/gid 0, empty user/group names, mtime 1 (some tools treat 0 as "unknown"). Modes
//! are the store's: directories 0555, files 0444 or 0555, symlinks 0777; `nix/` and `nix/store/`
//! are 0755. Names are relative (`nix/store/…`), directories end in `/`. No hard links (a NAR has
//! none). The archive ends with two zero blocks and is not padded to a 10 KiB record.

pub const BLOCK: usize = 512;
pub const MTIME: u64 = 1;
/// Names and link targets this long or longer go in a `././@LongLink` record first.
const LONG: usize = 100;
/// The end of an archive: two zero blocks.
pub const END_LEN: u64 = 2 * BLOCK as u64;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    Dir,
    File { size: u64 },
    Symlink { target: &'a [u8] },
}

/// The header block(s) of one entry (long-name records included), appended to `out`.
pub fn header(out: &mut Vec<u8>, name: &[u8], kind: Kind<'_>, mode: u32) {
    header_owned(out, name, kind, mode, (0, 0))
}

/// [`header`] with `owner` as (uid, gid) (the root layer's home directory belongs to the user).
/// Each fits the header's 7 octal digits (`image.uid`/`image.gid` are checked to).
pub fn header_owned(out: &mut Vec<u8>, name: &[u8], kind: Kind<'_>, mode: u32, owner: (u32, u32)) {
    let link: &[u8] = match kind {
        Kind::Symlink { target } => target,
        _ => b"",
    };
    let start = out.len();
    if name.len() >= LONG {
        long_record(out, b'L', name);
    }
    if link.len() >= LONG {
        long_record(out, b'K', link);
    }
    let (size, flag) = match kind {
        Kind::Dir => (0, b'5'),
        Kind::File { size } => (size, b'0'),
        Kind::Symlink { .. } => (0, b'2'),
    };
    raw_header(
        out,
        &name[..name.len().min(LONG)],
        &link[..link.len().min(LONG)],
        size,
        flag,
        mode,
        MTIME,
        owner,
    );
    // Layer sizes are predicted from listings with `header_len`: it must agree with what is written.
    debug_assert_eq!(
        (out.len() - start) as u64,
        header_len(name.len(), link.len())
    );
}

/// The length of the header block(s) [`header`] writes for a name and a link target (empty unless a
/// symlink) of these lengths.
pub fn header_len(name_len: usize, link_len: usize) -> u64 {
    let long = |len: usize| {
        if len >= LONG {
            (BLOCK + len + 1 + padding(len as u64 + 1)) as u64
        } else {
            0
        }
    };
    BLOCK as u64 + long(name_len) + long(link_len)
}

/// The length of a whole entry: its header(s), then for a file its content and padding.
pub fn entry_len(name_len: usize, kind: KindLen) -> u64 {
    match kind {
        KindLen::Dir => header_len(name_len, 0),
        KindLen::File { size } => header_len(name_len, 0) + size + padding(size) as u64,
        KindLen::Symlink { target_len } => header_len(name_len, target_len),
    }
}

/// What an entry is, when only lengths are known (a listing, not the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindLen {
    Dir,
    File { size: u64 },
    Symlink { target_len: usize },
}

fn long_record(out: &mut Vec<u8>, flag: u8, value: &[u8]) {
    let size = value.len() as u64 + 1;
    raw_header(out, b"././@LongLink", b"", size, flag, 0o644, 0, (0, 0));
    out.extend_from_slice(value);
    out.push(0);
    pad(out, size);
}

/// Zero bytes to the next block boundary after `size` bytes of content.
pub fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

fn pad(out: &mut Vec<u8>, size: u64) {
    out.resize(out.len() + padding(size), 0);
}

#[allow(clippy::too_many_arguments)] // one field each, as the header lays them out
fn raw_header(
    out: &mut Vec<u8>,
    name: &[u8],
    link: &[u8],
    size: u64,
    flag: u8,
    mode: u32,
    mtime: u64,
    owner: (u32, u32),
) {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], owner.0 as u64);
    octal(&mut h[116..124], owner.1 as u64);
    if size < 1 << 33 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256: high bit set, big-endian in the remaining bytes.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    octal(&mut h[148..155], sum as u64);
    h[155] = b' ';
    out.extend_from_slice(&h);
}

/// `value` in octal, zero-padded to fill `field` but its last byte, which is NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// The end of an archive: two zero blocks.
pub fn end(out: &mut Vec<u8>) {
    out.resize(out.len() + END_LEN as usize, 0);
}

/// A whole small entry (header, content, padding): for the root layer and the docker archive.
pub fn file(out: &mut Vec<u8>, name: &[u8], content: &[u8], mode: u32) {
    header(
        out,
        name,
        Kind::File {
            size: content.len() as u64,
        },
        mode,
    );
    out.extend_from_slice(content);
    pad(out, content.len() as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn gnu_tar_reads_what_we_write() {
        let long = format!("nix/store/{}", "x".repeat(150));
        let mut out = Vec::new();
        header(&mut out, b"nix/", Kind::Dir, 0o755);
        file(&mut out, b"nix/hello", b"hi\n", 0o444);
        header(
            &mut out,
            b"nix/link",
            Kind::Symlink {
                target: "t".repeat(120).as_bytes(),
            },
            0o777,
        );
        file(&mut out, long.as_bytes(), b"", 0o555);
        end(&mut out);
        assert_eq!(out.len() % BLOCK, 0);
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("t.tar");
        std::fs::write(&tar, &out).unwrap();
        let listing = Command::new("tar")
            .args(["--numeric-owner", "--full-time", "-tvf"])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        let text = String::from_utf8(listing.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("drwxr-xr-x 0/0"), "{text}");
        assert!(lines[0].contains("1970-01-01 00:00:01"), "{text}");
        assert!(
            lines[1].starts_with("-r--r--r-- 0/0") && lines[1].ends_with("nix/hello"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("lrwxrwxrwx") && lines[2].ends_with(&"t".repeat(120)),
            "{text}"
        );
        assert!(
            lines[3].starts_with("-r-xr-xr-x") && lines[3].ends_with(&long),
            "{text}"
        );
    }

    #[test]
    fn header_len_is_what_header_writes() {
        for name_len in (1..1200).chain([4095, 4096]) {
            for link_len in [0, 1, 98, 99, 100, 101, 510, 511, 512, 1023, 4095] {
                let name = vec![b'n'; name_len];
                let link = vec![b'l'; link_len];
                let kind = if link_len == 0 {
                    Kind::Dir
                } else {
                    Kind::Symlink { target: &link }
                };
                let mut out = Vec::new();
                header(&mut out, &name, kind, 0o555);
                assert_eq!(out.len() as u64, header_len(name_len, link_len));
            }
        }
        let mut out = Vec::new();
        file(&mut out, &[b'f'; 300], &[1; 513], 0o444);
        assert_eq!(
            out.len() as u64,
            entry_len(300, KindLen::File { size: 513 })
        );
    }

    #[test]
    fn octal_fields_and_base256() {
        let mut out = Vec::new();
        header(&mut out, b"big", Kind::File { size: 10 << 30 }, 0o444);
        assert_eq!(out[124], 0x80);
        assert_eq!(
            u64::from_be_bytes(out[128..136].try_into().unwrap()),
            10 << 30
        );
        let mut out = Vec::new();
        header(&mut out, b"small", Kind::File { size: 8 }, 0o444);
        assert_eq!(&out[124..136], b"00000000010\0");
        assert_eq!(&out[100..108], b"0000444\0");
    }
}
