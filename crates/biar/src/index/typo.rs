//! The typo tier's candidates: entries whose last segment is one or two edits from the query.
//!
//! A name within `d` edits of the query has a length within `d` of it, and its character set
//! differs from the query's in at most `2 d` characters (an edit adds one and removes one). So
//! the entries are bucketed once by the length of their last segment, each with that segment's
//! character mask: a keystroke reads only the few buckets of nearby lengths, 12 bytes an entry,
//! and computes an edit distance only for the names whose mask is close enough. Same hits as a
//! scan of every entry (checked by a test), a fraction of the memory touched.

use std::collections::HashSet;

use super::rank_key::TypoKey;
use super::store::{char_mask, Index};

/// Entries sorted by the byte length of their last segment (a counting sort: entry order
/// within a length), with the segment's character mask alongside.
pub(crate) struct TypoIndex {
    /// Entries with a last segment of `len` bytes are at `starts[len]..starts[len + 1]`.
    starts: Vec<u32>,
    masks: Vec<u64>,
    ids: Vec<u32>,
}

impl TypoIndex {
    pub(crate) fn build(index: &Index) -> TypoIndex {
        let n = index.len();
        let name_len = |i: usize| index.attrs.range(i).len() - index.facts[i].seg as usize;
        let max = (0..n).map(name_len).max().unwrap_or(0);
        let mut starts = vec![0u32; max + 2];
        for i in 0..n {
            starts[name_len(i) + 1] += 1;
        }
        for l in 1..starts.len() {
            starts[l] += starts[l - 1];
        }
        let mut next = starts.clone();
        let mut masks = vec![0u64; n];
        let mut ids = vec![0u32; n];
        for i in 0..n {
            let range = index.attrs.range(i);
            let name = &index.lower[range.start + index.facts[i].seg as usize..range.end];
            let slot = &mut next[name.len()];
            masks[*slot as usize] = char_mask(name);
            ids[*slot as usize] = i as u32;
            *slot += 1;
        }
        TypoIndex { starts, masks, ids }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 4 + self.masks.capacity() * 8 + self.ids.capacity() * 4
    }
}

/// Sort keys (distance, depth, path length, entry) of the entries whose last segment is within
/// `maxd` edits of `qname` (lowercase), whose path before it is `qset` when given, and that are
/// not `taken`. Unordered.
pub(crate) fn typo_keys(
    index: &Index,
    qset: Option<&[u8]>,
    qname: &str,
    maxd: usize,
    taken: &HashSet<u32>,
) -> Vec<TypoKey> {
    let t = index.typo.get_or_init(|| TypoIndex::build(index));
    let tl = qname.len();
    let qmask = char_mask(qname.as_bytes());
    let lo = tl.saturating_sub(maxd);
    let hi = (tl + maxd).min(t.starts.len() - 2);
    let mut keys = Vec::new();
    if lo > hi {
        return keys;
    }
    let span = t.starts[lo] as usize..t.starts[hi + 1] as usize;
    for (&mask, &i) in t.masks[span.clone()].iter().zip(&t.ids[span]) {
        if (mask ^ qmask).count_ones() as usize > 2 * maxd {
            continue;
        }
        if let Some(d) = distance(index, i as usize, qset, qname, maxd, taken) {
            keys.push(d);
        }
    }
    keys
}

/// The key of entry `i` when its last segment is within `maxd` edits of `qname` (the checks
/// after the length and mask ones).
#[inline]
fn distance(
    index: &Index,
    i: usize,
    qset: Option<&[u8]>,
    qname: &str,
    maxd: usize,
    taken: &HashSet<u32>,
) -> Option<TypoKey> {
    let range = index.attrs.range(i);
    let f = index.facts[i];
    let seg = f.seg as usize;
    let lower = &index.lower[range];
    let name = &lower[seg..];
    if let Some(set) = qset {
        if seg == 0 || &lower[..seg - 1] != set {
            return None;
        }
    }
    if taken.contains(&(i as u32)) {
        return None;
    }
    let tl = qname.len();
    let d = if qname.is_ascii() && name.is_ascii() && name.len() < 64 && tl < 64 {
        osa_ascii(qname.as_bytes(), name)
    } else {
        strsim::osa_distance(qname, std::str::from_utf8(name).unwrap_or(""))
    };
    (d <= maxd).then(|| TypoKey::new(d as u8, f.depth, lower.len(), i as u32))
}

/// Optimal string alignment distance of two short ASCII strings, as `strsim::osa_distance`
/// computes it, on the stack.
fn osa_ascii(a: &[u8], b: &[u8]) -> usize {
    let mut rows = [[0usize; 65]; 3];
    for (j, c) in rows[1].iter_mut().enumerate().take(b.len() + 1) {
        *c = j;
    }
    for i in 1..=a.len() {
        // Row r sits in rows[(r + 1) % 3]: pp is row i-2, p row i-1, c row i.
        let (pp, p, c) = ((i + 2) % 3, i % 3, (i + 1) % 3);
        rows[c][0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[p][j] + 1)
                .min(rows[c][j - 1] + 1)
                .min(rows[p][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[pp][j - 2] + 1);
            }
            rows[c][j] = v;
        }
    }
    rows[(a.len() + 1) % 3][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, OnceLock};

    fn bundled() -> &'static Arc<Index> {
        static IDX: OnceLock<Arc<Index>> = OnceLock::new();
        IDX.get_or_init(|| Arc::new(crate::index::bundled().unwrap()))
    }

    /// The scan the buckets replaced: every entry, rejected by name length and the attribute's
    /// mask, then the same checks.
    fn full_scan(
        index: &Index,
        qset: Option<&[u8]>,
        qname: &str,
        maxd: usize,
        taken: &HashSet<u32>,
    ) -> Vec<TypoKey> {
        let tl = qname.len();
        let qmask = char_mask(qname.as_bytes());
        let mut keys = Vec::new();
        for (i, f) in index.facts.iter().enumerate() {
            let range = index.attrs.range(i);
            let seg = f.seg as usize;
            if (range.len() - seg).abs_diff(tl) > maxd
                || (qmask & !f.mask).count_ones() as usize > 2 * maxd
                || (char_mask(&index.lower[range.start + seg..range.end]) ^ qmask).count_ones()
                    as usize
                    > 2 * maxd
            {
                continue;
            }
            keys.extend(distance(index, i, qset, qname, maxd, taken));
        }
        keys
    }

    #[test]
    fn buckets_find_what_a_full_scan_finds() {
        let idx = bundled();
        let queries = [
            "pyhton",
            "ripgrpe",
            "firefx",
            "nodjes",
            "qzxwv",
            "hpkgs",
            "hpkgslens",
            "pytohn3",
            "haskellpackages.lenz",
            "python312packages.nmupy",
            "emacspackages.rigrep",
            "a",
            "kubectll",
            "x".repeat(300).as_str(),
            "ñandúes",
        ]
        .map(str::to_string);
        let mut compared = 0;
        for q in &queries {
            let (qset, qname) = match q.rsplit_once('.') {
                Some((set, name)) => (Some(set.as_bytes()), name),
                None => (None, q.as_str()),
            };
            for maxd in [1, 2] {
                for taken in [
                    HashSet::new(),
                    HashSet::from([idx.lower_bound("ripgrep") as u32]),
                ] {
                    let mut a = typo_keys(idx, qset, qname, maxd, &taken);
                    let mut b = full_scan(idx, qset, qname, maxd, &taken);
                    a.sort_unstable();
                    b.sort_unstable();
                    assert_eq!(a, b, "query {q:?}, maxd {maxd}");
                    compared += a.len();
                }
            }
        }
        // The sample is not vacuous: misspellings find names.
        assert!(compared > 50, "only {compared} hits compared");
        assert!(!typo_keys(idx, None, "ripgrpe", 1, &HashSet::new()).is_empty());
    }

    #[test]
    fn osa_ascii_agrees_with_strsim() {
        let words = [
            "", "a", "ab", "ba", "pyhton", "python", "ripgrpe", "ripgrep", "abcdef", "ca",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    osa_ascii(a.as_bytes(), b.as_bytes()),
                    strsim::osa_distance(a, b),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
