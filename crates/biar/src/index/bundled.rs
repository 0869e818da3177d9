//! The offline default: the 124,693 attribute paths of nixpkgs (February 2025) shipped inside the
//! binary, front-coded and xz-compressed (`scripts/gen-bundled-index.py` writes the file).

use std::io::Read;

use super::store::{Arena, Index, SourceInfo};
use super::IndexError;

static DATA: &[u8] = include_bytes!("../../data/nixpkgs-attrs.fc.xz");

/// What the bundled list is called in messages and cache keys.
pub const BUNDLED_ORIGIN: &str = "nixpkgs-attrs-2025-02 (built in)";

pub fn source() -> SourceInfo {
    SourceInfo {
        kind: "bundled".into(),
        origin: BUNDLED_ORIGIN.into(),
    }
}

/// Decodes the bundled names into an index, with nixpkgs' second names of versioned sets
/// (`aliases.rs`) (about 25 ms; the cache makes later loads faster).
pub fn load() -> Result<Index, IndexError> {
    let mut coded = Vec::with_capacity(1 << 20);
    xz2::read::XzDecoder::new(DATA)
        .read_to_end(&mut coded)
        .map_err(|e| IndexError::Bundled(format!("xz: {e}")))?;
    let attrs = decode_front_coded(&coded)?;
    Ok(plain_index(attrs).with_aliases())
}

fn plain_index(attrs: Arena) -> Index {
    let empty = Arena::default;
    Index::from_arenas(source(), attrs, empty(), empty(), empty())
}

/// The names as generated, without the aliases (what the checksum covers).
#[cfg(test)]
fn load_plain() -> Result<Index, IndexError> {
    let mut coded = Vec::with_capacity(1 << 20);
    xz2::read::XzDecoder::new(DATA)
        .read_to_end(&mut coded)
        .map_err(|e| IndexError::Bundled(format!("xz: {e}")))?;
    Ok(plain_index(decode_front_coded(&coded)?))
}

/// Each name: one byte (prefix length shared with the previous name), the rest, a newline.
fn decode_front_coded(coded: &[u8]) -> Result<Arena, IndexError> {
    let mut text: Vec<u8> = Vec::with_capacity(coded.len() * 3);
    let mut ends: Vec<u32> = Vec::with_capacity(130_000);
    let mut prev_start = 0usize;
    let mut pos = 0usize;
    while pos < coded.len() {
        let shared = coded[pos] as usize;
        pos += 1;
        let nl = memchr::memchr(b'\n', &coded[pos..])
            .ok_or_else(|| IndexError::Bundled("truncated name".into()))?;
        let prev_len = text.len() - prev_start;
        if shared > prev_len {
            return Err(IndexError::Bundled("bad prefix length".into()));
        }
        let start = text.len();
        text.extend_from_within(prev_start..prev_start + shared);
        text.extend_from_slice(&coded[pos..pos + nl]);
        pos += nl + 1;
        ends.push(text.len() as u32);
        prev_start = start;
    }
    let text = String::from_utf8(text).map_err(|e| IndexError::Bundled(format!("utf-8: {e}")))?;
    Ok(Arena { text, ends })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn bundled_names_match_the_generator_checksum() {
        let idx = super::load_plain().unwrap();
        let meta = include_str!("../../data/nixpkgs-attrs.sha256");
        let mut parts = meta.split_whitespace();
        let digest = parts.next().unwrap();
        let count: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(idx.len(), count);
        assert_eq!(count, 124_693);
        let mut h = Sha256::new();
        for i in 0..idx.len() {
            h.update(idx.attr(i).as_bytes());
            h.update(b"\n");
        }
        assert_eq!(hex::encode(h.finalize()), digest);
        assert!(idx.contains("ripgrep") && idx.contains("haskellPackages.lens"));
    }
}
