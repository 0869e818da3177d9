//! Sort keys of search candidates: smaller is better. Each packs its ranks and the entry into one
//! `u64`, so tens of thousands of candidates are ranked as plain integers (`take_smallest`); the
//! types say which layout a key has, and the methods read it back.

/// A cheap-tier (or description) candidate: depth, a sub-rank, name length, entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TierKey(u64);

impl TierKey {
    pub(super) fn new(depth: u8, sub: u8, len: usize, id: u32) -> TierKey {
        TierKey(pack(depth, sub, len, id))
    }

    /// A versioned variant (sub-rank 1): newest (longest name, then last entry) first.
    pub(super) fn newest_first(depth: u8, len: usize, id: u32) -> TierKey {
        TierKey(pack(depth, 1, 0xffff - len, u32::MAX - id))
    }

    pub(super) fn entry(self) -> u32 {
        let id = self.0 as u32;
        if (self.0 >> 48) as u8 == 1 {
            u32::MAX - id
        } else {
            id
        }
    }
}

/// A typo candidate: edit distance, depth, name length, entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TypoKey(u64);

impl TypoKey {
    pub(super) fn new(distance: u8, depth: u8, len: usize, id: u32) -> TypoKey {
        TypoKey(pack(distance, depth, len, id))
    }

    pub(super) fn entry(self) -> u32 {
        self.0 as u32
    }

    pub(super) fn distance(self) -> u32 {
        (self.0 >> 56) as u32
    }
}

/// A fuzzy candidate: its score (higher first, up to 0xffff), depth, name length (up to 255),
/// entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct FuzzyKey(u64);

impl FuzzyKey {
    pub(super) fn new(score: u32, depth: u8, len: usize, id: u32) -> FuzzyKey {
        let inverse = 0xffff - score.min(0xffff) as u64;
        FuzzyKey(inverse << 48 | (depth as u64) << 40 | (len.min(0xff) as u64) << 32 | id as u64)
    }

    pub(super) fn entry(self) -> u32 {
        self.0 as u32
    }

    pub(super) fn score(self) -> u32 {
        0xffff - (self.0 >> 48) as u32
    }
}

/// Two bytes of ranks, the length (up to 0xffff), the entry: most significant first.
#[inline]
fn pack(a: u8, b: u8, len: usize, id: u32) -> u64 {
    (a as u64) << 56 | (b as u64) << 48 | (len.min(0xffff) as u64) << 32 | id as u64
}

/// Leaves the `n` smallest keys, sorted, at the front.
pub(super) fn take_smallest<K: Ord>(keys: &mut [K], n: usize) {
    if n == 0 || keys.is_empty() {
        return;
    }
    if keys.len() > n {
        keys.select_nth_unstable(n - 1);
    }
    let end = n.min(keys.len());
    keys[..end].sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_their_entry_and_rank() {
        assert_eq!(TierKey::new(2, 0, 10, 7).entry(), 7);
        assert_eq!(TierKey::newest_first(2, 10, 7).entry(), 7);
        assert!(TierKey::newest_first(0, 12, 3) < TierKey::newest_first(0, 10, 9));
        assert_eq!(TypoKey::new(2, 1, 10, 7).entry(), 7);
        assert_eq!(TypoKey::new(2, 1, 10, 7).distance(), 2);
        assert_eq!(FuzzyKey::new(300, 1, 10, 7).score(), 300);
        assert!(FuzzyKey::new(300, 5, 10, 7) < FuzzyKey::new(200, 0, 1, 1));
    }
}
