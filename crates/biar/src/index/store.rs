//! The in-memory index: every text in a few big arenas (one allocation each, no per-entry
//! `String`), sorted by attribute path, with the lowercase copy, the last-segment start, the
//! nesting depth and a character bitmask precomputed per entry so a keystroke costs one pass over
//! flat memory.

use std::fmt;

/// One package as a source describes it; only `attr` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The attribute path, e.g. `python312Packages.numpy`.
    pub attr: String,
    /// The package name (`pname`) when the source knows it and it differs from the last segment.
    pub pname: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
}

/// Texts of entry `i` at `text[ends[i-1]..ends[i]]`; an empty text means "unknown".
#[derive(Debug, Default, Clone)]
pub(crate) struct Arena {
    pub(crate) text: String,
    pub(crate) ends: Vec<u32>,
}

impl Arena {
    pub(crate) fn with_capacity(n: usize, bytes: usize) -> Arena {
        Arena {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
    }

    #[inline]
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        start..self.ends[i] as usize
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &str {
        if self.ends.is_empty() {
            return "";
        }
        &self.text[self.range(i)]
    }

    pub(crate) fn is_blank(&self) -> bool {
        self.text.is_empty()
    }
}

/// Per-entry facts the matcher needs without touching the text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts {
    /// Which characters occur (see [`char_mask`]); a query needing a missing one cannot match.
    pub(crate) mask: u64,
    /// Byte offset of the last path segment (after the last `.`).
    pub(crate) seg: u16,
    /// Number of `.` in the path: 0 for a top-level package.
    pub(crate) depth: u8,
}

/// Where the entries came from, for messages and for the cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// `channel`, `nix-env` or `bundled`.
    pub kind: String,
    /// The URL, package-set pin or data file it was read from.
    pub origin: String,
}

impl fmt::Display for SourceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.origin)
    }
}

/// The package index. Cheap to share (`Arc<Index>`); searching never mutates it.
pub struct Index {
    pub(crate) source: SourceInfo,
    pub(crate) attrs: Arena,
    /// `attrs.text` with ASCII letters lowercased: same byte offsets, so match positions carry over.
    pub(crate) lower: Vec<u8>,
    pub(crate) facts: Vec<Facts>,
    pub(crate) pnames: Arena,
    pub(crate) versions: Arena,
    pub(crate) descriptions: Arena,
    /// Descriptions lowercased (full Unicode), for the description tier.
    pub(crate) desc_lower: Arena,
    /// Entries listed for an empty query, best first (computed on first use: it sorts everything).
    pub(crate) popular: std::sync::OnceLock<Vec<u32>>,
    /// Entries bucketed by the length of their last segment, for the typo tier (built on the
    /// first typo search).
    pub(crate) typo: std::sync::OnceLock<super::typo::TypoIndex>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("source", &self.source)
            .field("len", &self.len())
            .finish()
    }
}

/// Well-known packages shown first for an empty query (those the index has, in this order).
const POPULAR: &[&str] = &[
    "git",
    "ripgrep",
    "fd",
    "fzf",
    "jq",
    "curl",
    "wget",
    "htop",
    "tmux",
    "neovim",
    "vim",
    "emacs",
    "helix",
    "bat",
    "eza",
    "tree",
    "gnumake",
    "gcc",
    "clang",
    "cmake",
    "python3",
    "python312",
    "python313",
    "nodejs",
    "nodejs_22",
    "nodejs_20",
    "go",
    "rustc",
    "cargo",
    "rustup",
    "zig",
    "openjdk",
    "maven",
    "gradle",
    "ruby",
    "perl",
    "lua",
    "ghc",
    "cabal-install",
    "stack",
    "sqlite",
    "postgresql",
    "redis",
    "docker-client",
    "kubectl",
    "terraform",
    "awscli2",
    "openssh",
    "rsync",
    "unzip",
    "zip",
    "gnupg",
    "pandoc",
    "ffmpeg",
    "imagemagick",
    "shellcheck",
    "direnv",
    "zsh",
    "fish",
    "bash",
];

impl Index {
    /// Builds an index from entries in any order; duplicates of an attribute keep the first.
    pub fn from_entries(source: SourceInfo, entries: impl IntoIterator<Item = Entry>) -> Index {
        let mut entries: Vec<Entry> = entries.into_iter().filter(|e| !e.attr.is_empty()).collect();
        entries.sort_by(|a, b| a.attr.cmp(&b.attr));
        entries.dedup_by(|b, a| a.attr == b.attr);
        let n = entries.len();
        let bytes: usize = entries.iter().map(|e| e.attr.len()).sum();
        let mut attrs = Arena::with_capacity(n, bytes);
        let mut pnames = Arena::with_capacity(n, 0);
        let mut versions = Arena::with_capacity(n, 0);
        let mut descriptions = Arena::with_capacity(n, 0);
        for e in &entries {
            attrs.push(&e.attr);
            let seg = last_segment(&e.attr);
            pnames.push(e.pname.as_deref().filter(|p| *p != seg).unwrap_or(""));
            versions.push(e.version.as_deref().unwrap_or(""));
            descriptions.push(e.description.as_deref().unwrap_or(""));
        }
        drop(entries);
        Index::from_arenas(source, attrs, pnames, versions, descriptions)
    }

    /// Builds the derived data over arenas already sorted by attribute (the cache's fast path).
    pub(crate) fn from_arenas(
        source: SourceInfo,
        attrs: Arena,
        pnames: Arena,
        versions: Arena,
        descriptions: Arena,
    ) -> Index {
        let n = attrs.ends.len();
        let lower = attrs.text.as_bytes().to_ascii_lowercase();
        let mut facts = Vec::with_capacity(n);
        for i in 0..n {
            let name = &lower[attrs.range(i)];
            let mut mask = 0u64;
            let mut depth = 0u8;
            let mut seg = 0usize;
            for (j, &b) in name.iter().enumerate() {
                mask |= MASK_TABLE[b as usize];
                if b == b'.' {
                    depth = depth.saturating_add(1);
                    seg = j + 1;
                }
            }
            facts.push(Facts {
                mask,
                seg: seg.min(u16::MAX as usize) as u16,
                depth,
            });
        }
        let desc_lower = if descriptions.is_blank() {
            Arena::default()
        } else {
            let mut a = Arena::with_capacity(n, descriptions.text.len());
            for i in 0..n {
                a.push(&descriptions.get(i).to_lowercase());
            }
            a
        };
        Index {
            source,
            attrs,
            lower,
            facts,
            pnames,
            versions,
            descriptions,
            desc_lower,
            popular: std::sync::OnceLock::new(),
            typo: std::sync::OnceLock::new(),
        }
    }

    /// Entries for an empty query, best first.
    pub(crate) fn popular(&self) -> &[u32] {
        self.popular.get_or_init(|| self.compute_popular())
    }

    fn compute_popular(&self) -> Vec<u32> {
        let mut out: Vec<u32> = POPULAR
            .iter()
            .filter_map(|a| self.position(a).map(|i| i as u32))
            .collect();
        let mut seen = vec![false; self.len()];
        for &i in &out {
            seen[i as usize] = true;
        }
        let mut rest: Vec<u32> = (0..self.len() as u32)
            .filter(|&i| !seen[i as usize])
            .collect();
        // Then everything: short top-level names first, they are the packages people mean.
        rest.sort_by_key(|&i| {
            let i = i as usize;
            (self.facts[i].depth, self.attrs.range(i).len(), i)
        });
        out.extend(rest);
        out
    }

    pub fn len(&self) -> usize {
        self.attrs.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn source(&self) -> &SourceInfo {
        &self.source
    }

    /// The attribute path of entry `i` (entries are sorted by attribute).
    pub fn attr(&self, i: usize) -> &str {
        self.attrs.get(i)
    }

    pub fn version(&self, i: usize) -> Option<&str> {
        Some(self.versions.get(i)).filter(|s| !s.is_empty())
    }

    pub fn description(&self, i: usize) -> Option<&str> {
        Some(self.descriptions.get(i)).filter(|s| !s.is_empty())
    }

    /// The package name: `pname` when the source gave one, else the last path segment.
    pub fn pname(&self, i: usize) -> &str {
        let p = self.pnames.get(i);
        if p.is_empty() {
            &self.attr(i)[self.facts[i].seg as usize..]
        } else {
            p
        }
    }

    /// Whether some entries carry versions or descriptions (the bundled names do not).
    pub fn has_metadata(&self) -> bool {
        !self.versions.is_blank() || !self.descriptions.is_blank()
    }

    /// The first entry whose attribute is not less than `attr`.
    pub(crate) fn lower_bound(&self, attr: &str) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.attr(mid) < attr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The entry holding exactly this attribute path.
    pub fn position(&self, attr: &str) -> Option<usize> {
        let i = self.lower_bound(attr);
        (i < self.len() && self.attr(i) == attr).then_some(i)
    }

    pub fn contains(&self, attr: &str) -> bool {
        self.position(attr).is_some()
    }

    /// Bytes held by the index's own buffers (what stays resident once loaded).
    pub fn heap_bytes(&self) -> usize {
        let arena = |a: &Arena| a.text.capacity() + a.ends.capacity() * 4;
        arena(&self.attrs)
            + self.lower.capacity()
            + self.facts.capacity() * std::mem::size_of::<Facts>()
            + arena(&self.pnames)
            + arena(&self.versions)
            + arena(&self.descriptions)
            + arena(&self.desc_lower)
            + self.popular.get().map_or(0, |p| p.capacity() * 4)
            + self.typo.get().map_or(0, |t| t.heap_bytes())
    }

    /// All entries, in attribute order (for writing a cache or exporting).
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.len()).map(move |i| Entry {
            attr: self.attr(i).to_string(),
            pname: Some(self.pnames.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            version: self.version(i).map(str::to_string),
            description: self.description(i).map(str::to_string),
        })
    }
}

pub(crate) fn last_segment(attr: &str) -> &str {
    attr.rsplit('.').next().unwrap_or(attr)
}

/// A 64-bit set of the (lowercased) characters in `s`: letters, digits and `-_.` each have a bit,
/// other ASCII shares a few, anything non-ASCII one. Never misses a character that is present.
#[inline]
pub(crate) fn char_mask(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |m, &b| m | MASK_TABLE[b as usize])
}

/// `1 << char_bit(b)` for every byte: a table lookup per byte while loading.
static MASK_TABLE: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = 1u64 << char_bit(b as u8);
        b += 1;
    }
    t
};

#[inline]
pub(crate) const fn char_bit(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => (b - b'a') as u32,
        b'A'..=b'Z' => (b - b'A') as u32,
        b'0'..=b'9' => 26 + (b - b'0') as u32,
        b'-' => 36,
        b'_' => 37,
        b'.' => 38,
        0x80..=0xff => 63,
        _ => 39 + (b as u32 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(attr: &str) -> Entry {
        Entry {
            attr: attr.into(),
            ..Entry::default()
        }
    }

    #[test]
    fn sorts_dedups_and_finds() {
        let src = SourceInfo {
            kind: "test".into(),
            origin: "t".into(),
        };
        let idx = Index::from_entries(
            src,
            vec![
                e("b"),
                e("a.x"),
                e("b"),
                e(""),
                e("ripgrep"),
                e("emacsPackages.ripgrep"),
            ],
        );
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.attr(0), "a.x");
        assert!(idx.contains("ripgrep"));
        assert!(!idx.contains("ripgre"));
        assert_eq!(
            idx.pname(idx.position("emacsPackages.ripgrep").unwrap()),
            "ripgrep"
        );
        assert_eq!(idx.facts[idx.position("a.x").unwrap()].depth, 1);
        assert_eq!(idx.version(0), None);
        assert!(!idx.has_metadata());
        // The popular list puts known packages first, then short top-level names.
        assert_eq!(idx.attr(idx.popular()[0] as usize), "ripgrep");
    }

    #[test]
    fn mask_never_misses() {
        let m = char_mask(b"python3Packages.numpy-x_y");
        for b in b"python3packages.numpy-x_yPN".iter() {
            assert_ne!(m & (1 << char_bit(*b)), 0);
        }
    }
}
