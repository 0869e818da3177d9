//! The on-disk form of a loaded index, one file per source under `$XDG_CACHE_HOME/biar/index/`.
//!
//! Layout (little-endian): magic `BIARIDX\0`, format version (u32), reserved (u32), body length
//! (u64), checksum of the body (u64), then the body: the metadata as JSON (u32 length + bytes),
//! the entry count (u32), and four arenas (attributes, package names, versions, descriptions),
//! each a u32 text length, the text, a u32 count of end offsets (0 or the entry count) and the
//! offsets. Reading it is one `read` plus a checksum and a UTF-8 check: no parsing per entry.
//! A file that is short, damaged, of another version or from another source is an error the
//! caller answers by rebuilding, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::store::{Arena, Index, SourceInfo};
use super::IndexError;

const MAGIC: &[u8; 8] = b"BIARIDX\0";
/// Bump when the layout or the meaning of a field changes: old files are then rebuilt.
pub const FORMAT_VERSION: u32 = 1;
const HEADER: usize = 32;

/// What the cache remembers about the source besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMeta {
    pub kind: String,
    pub origin: String,
    /// HTTP validators of the channel file, sent back on the next update.
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// When the entries were fetched (seconds since the epoch).
    #[serde(default)]
    pub fetched_unix: u64,
}

/// `$XDG_CACHE_HOME/biar/index` (or the platform's cache folder).
pub fn cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("biar").join("index"))
}

/// The cache file of one source: its kind and a hash of its origin (URL, pin, data name).
pub fn cache_path(dir: &Path, source: &SourceInfo) -> PathBuf {
    let digest = Sha256::digest(source.origin.as_bytes());
    dir.join(format!(
        "{}-{}.idx",
        source.kind,
        &hex::encode(digest)[..16]
    ))
}

/// A fast 64-bit checksum (multiply-rotate over 8-byte words): catches damage, not attacks.
pub fn checksum(data: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [K, K ^ 1, K ^ 2, K ^ 3];
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        for (j, lane) in lanes.iter_mut().enumerate() {
            let w = u64::from_le_bytes(c[j * 8..j * 8 + 8].try_into().unwrap());
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut h = lanes.iter().fold(data.len() as u64, |h, l| {
        (h ^ l).wrapping_mul(K).rotate_left(31)
    });
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(K).rotate_left(7);
    }
    h ^ (h >> 32)
}

fn put_arena(out: &mut Vec<u8>, a: &Arena) {
    out.extend_from_slice(&(a.text.len() as u32).to_le_bytes());
    out.extend_from_slice(a.text.as_bytes());
    let ends: &[u32] = if a.is_blank() { &[] } else { &a.ends };
    out.extend_from_slice(&(ends.len() as u32).to_le_bytes());
    for e in ends {
        out.extend_from_slice(&e.to_le_bytes());
    }
}

/// Writes the index atomically (temporary file, then rename), so a reader never sees half a file.
pub fn write(path: &Path, index: &Index, meta: &CacheMeta) -> Result<(), IndexError> {
    let io = |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut body = Vec::with_capacity(index.heap_bytes() / 2);
    let meta_json = serde_json::to_vec(meta).expect("metadata serialises");
    body.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    body.extend_from_slice(&meta_json);
    body.extend_from_slice(&(index.len() as u32).to_le_bytes());
    for a in [
        &index.attrs,
        &index.pnames,
        &index.versions,
        &index.descriptions,
    ] {
        put_arena(&mut body, a);
    }
    let mut file = Vec::with_capacity(HEADER + body.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&(body.len() as u64).to_le_bytes());
    file.extend_from_slice(&checksum(&body).to_le_bytes());
    file.extend_from_slice(&body);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(&file).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn arena(&mut self, n: usize) -> Option<Arena> {
        let len = self.u32()? as usize;
        let text = String::from_utf8(self.take(len)?.to_vec()).ok()?;
        let count = self.u32()? as usize;
        if count != 0 && count != n {
            return None;
        }
        let raw = self.take(count.checked_mul(4)?)?;
        let ends: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        // Offsets must rise and stay inside the text, on character boundaries.
        let mut prev = 0u32;
        for &e in &ends {
            if e < prev || e as usize > len || !text.is_char_boundary(e as usize) {
                return None;
            }
            prev = e;
        }
        if count == n && prev as usize != len {
            return None;
        }
        if count == 0 && len != 0 {
            return None;
        }
        Some(Arena { text, ends })
    }
}

/// Reads a cache file. `Ok(None)` when there is none; an error when it exists but cannot be used.
pub fn read(path: &Path) -> Result<Option<(Index, CacheMeta)>, IndexError> {
    let bad = |reason: &str| IndexError::Cache {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(IndexError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if data.len() < HEADER || &data[..8] != MAGIC {
        return Err(bad("not an index cache"));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    if version != FORMAT_VERSION {
        return Err(bad(&format!(
            "format version {version}, this biar-tui reads {FORMAT_VERSION}"
        )));
    }
    if data[12..16] != [0; 4] {
        return Err(bad("damaged header"));
    }
    let body_len = u64::from_le_bytes(data[16..24].try_into().unwrap());
    let sum = u64::from_le_bytes(data[24..32].try_into().unwrap());
    let body = &data[HEADER..];
    if body.len() as u64 != body_len {
        return Err(bad("truncated"));
    }
    if checksum(body) != sum {
        return Err(bad("checksum mismatch"));
    }
    let mut r = Reader { data: body, pos: 0 };
    let damaged = || bad("damaged body");
    let meta_len = r.u32().ok_or_else(damaged)? as usize;
    let meta: CacheMeta =
        serde_json::from_slice(r.take(meta_len).ok_or_else(damaged)?).map_err(|_| damaged())?;
    let n = r.u32().ok_or_else(damaged)? as usize;
    let attrs = r.arena(n).ok_or_else(damaged)?;
    if attrs.ends.len() != n {
        return Err(damaged());
    }
    let pnames = r.arena(n).ok_or_else(damaged)?;
    let versions = r.arena(n).ok_or_else(damaged)?;
    let descriptions = r.arena(n).ok_or_else(damaged)?;
    let source = SourceInfo {
        kind: meta.kind.clone(),
        origin: meta.origin.clone(),
    };
    let index = Index::from_arenas(source, attrs, pnames, versions, descriptions);
    Ok(Some((index, meta)))
}

#[cfg(test)]
mod tests {
    use super::super::store::Entry;
    use super::*;

    fn sample() -> Index {
        Index::from_entries(
            SourceInfo {
                kind: "channel".into(),
                origin: "http://x/packages.json.br".into(),
            },
            vec![
                Entry {
                    attr: "hello".into(),
                    pname: Some("hello".into()),
                    version: Some("2.12.1".into()),
                    description: Some("Programme qui salue — « bonjour »".into()),
                },
                Entry {
                    attr: "nodejs_22".into(),
                    pname: Some("nodejs".into()),
                    version: None,
                    description: None,
                },
            ],
        )
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let idx = sample();
        let meta = CacheMeta {
            kind: "channel".into(),
            origin: "http://x/packages.json.br".into(),
            etag: Some("\"abc\"".into()),
            ..CacheMeta::default()
        };
        let path = cache_path(dir.path(), idx.source());
        write(&path, &idx, &meta).unwrap();
        let (back, m) = read(&path).unwrap().unwrap();
        assert_eq!(m, meta);
        assert_eq!(
            back.entries().collect::<Vec<_>>(),
            idx.entries().collect::<Vec<_>>()
        );
        assert_eq!(back.search("nodejs", 1)[0].attr, "nodejs_22");

        let good = std::fs::read(&path).unwrap();
        // Every truncation and a flipped byte anywhere are reported, never a panic.
        for cut in (0..good.len()).step_by(7) {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(read(&path).is_err(), "cut at {cut}");
        }
        for at in (0..good.len()).step_by(5) {
            let mut d = good.clone();
            d[at] ^= 0x40;
            std::fs::write(&path, &d).unwrap();
            assert!(read(&path).is_err(), "flip at {at}");
        }
        let mut old = good.clone();
        old[8] = 0;
        std::fs::write(&path, &old).unwrap();
        assert!(read(&path)
            .unwrap_err()
            .to_string()
            .contains("format version"));
        assert!(read(&dir.path().join("missing.idx")).unwrap().is_none());
    }
}
