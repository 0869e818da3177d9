//! Ranked search over an [`Index`]. The rules are in `docs/search.md`; in short, tiers in this
//! order, each sorted by nesting depth, then path length, then path:
//! exact (attribute, package name, or a versioned top-level variant such as `nodejs_22` for
//! `nodejs`), prefix, word boundary, substring, typo (edit distance), fuzzy (nucleo score),
//! description.
//!
//! Speed comes from doing the cheap tiers first and the expensive ones only when the cheap ones
//! leave fewer than `limit` results: one pass with a character-bitmask prefilter and a SIMD
//! substring search classifies every entry; nucleo scores only the entries that merely match as a
//! subsequence, and only when needed. [`Searcher`] also narrows: when a query extends the
//! previous one, only the previous candidates are looked at.

use std::collections::HashSet;

use memchr::memmem;
use nucleo_matcher::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use serde::Serialize;

use super::store::Index;

/// Longer queries are cut here (in characters): no attribute is that long, and the cost of a
/// search must not grow with what a user pastes.
pub const MAX_QUERY_CHARS: usize = 256;

/// Why an entry matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// The attribute, its last segment or its package name equals the query (or is the query
    /// plus a version suffix, `nodejs_22` for `nodejs`).
    Exact,
    /// The attribute or its last segment starts with the query.
    Prefix,
    /// The query starts at a word boundary inside the attribute (after `.`, `-`, `_`, or at a
    /// lower-to-upper case or letter-digit change).
    WordBoundary,
    /// The query occurs somewhere else in the attribute.
    Substring,
    /// The last segment is one or two edits from the query (a misspelling; queries of five
    /// characters or more).
    Typo,
    /// The query's characters occur in order (scored by nucleo).
    Fuzzy,
    /// The query occurs in the description only.
    Description,
    /// Listed for an empty query.
    Popular,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// Position of the entry in the index (stable for one loaded index).
    #[serde(skip)]
    pub entry: usize,
    pub attr: String,
    pub version: Option<String>,
    pub description: Option<String>,
    #[serde(skip)]
    pub kind: MatchKind,
    /// Higher is better; comparable within one result list only.
    #[serde(skip)]
    pub score: u32,
    /// Character indices in `attr` to highlight, ascending.
    #[serde(skip)]
    pub matched: Vec<usize>,
}

const TIERS: usize = 4; // exact, prefix, word boundary, substring: the cheap tiers

struct Term {
    text: String,
    mask: u64,
    finder: memmem::Finder<'static>,
    atom: Atom,
}

struct Query {
    /// Normalised text (trimmed, cut, lowercased): the key for narrowing.
    text: String,
    terms: Vec<Term>,
    mask: u64,
}

impl Query {
    fn new(raw: &str) -> Query {
        let cut: String = raw.trim().chars().take(MAX_QUERY_CHARS).collect();
        let text = cut.to_lowercase();
        let terms: Vec<Term> = text
            .split_whitespace()
            .map(|t| Term {
                text: t.to_string(),
                mask: mask_of(t.as_bytes()),
                finder: memmem::Finder::new(t.as_bytes()).into_owned(),
                atom: Atom::new(
                    t,
                    CaseMatching::Ignore,
                    Normalization::Smart,
                    AtomKind::Fuzzy,
                    false,
                ),
            })
            .collect();
        let mask = terms.iter().fold(0, |m, t| m | t.mask);
        Query { text, terms, mask }
    }
}

fn mask_of(s: &[u8]) -> u64 {
    super::store::char_mask(s)
}

/// A stateful search for one typist: remembers the last query's candidates, so a query that
/// extends it (the next keystroke) looks only at those. Own one per search box; move it to the
/// thread that searches.
pub struct Searcher {
    index: std::sync::Arc<Index>,
    matcher: Matcher,
    /// The last normalised query and the entries whose attribute holds every term as a
    /// subsequence (every name match is among them).
    names: Option<(String, Vec<u32>)>,
    /// The same for description matches, computed only when a search needed descriptions.
    descs: Option<(String, Vec<u32>)>,
    /// Turn narrowing off (for the benchmark's comparison).
    pub narrowing: bool,
    /// Threads for a scan of many candidates. Default 1: on two shared cores a second thread
    /// made the p99 worse (see docs/benchmarks.md).
    pub threads: usize,
}

impl Searcher {
    pub fn new(index: std::sync::Arc<Index>) -> Searcher {
        Searcher {
            index,
            matcher: Matcher::new(Config::DEFAULT),
            names: None,
            descs: None,
            narrowing: true,
            threads: 1,
        }
    }

    pub fn index(&self) -> &std::sync::Arc<Index> {
        &self.index
    }

    /// The best `limit` hits for `query`, best first.
    pub fn search(&mut self, query: &str, limit: usize) -> Vec<SearchHit> {
        let q = Query::new(query);
        // The previous candidates are reused (not copied) when the query extends the last one.
        let narrow = |prev: Option<(String, Vec<u32>)>| -> Option<(String, Vec<u32>)> {
            prev.filter(|(text, _)| !text.is_empty() && q.text.starts_with(text.as_str()))
        };
        let (names_in, descs_in) = if self.narrowing {
            (narrow(self.names.take()), narrow(self.descs.take()))
        } else {
            (None, None)
        };
        let out = run(
            &self.index,
            &mut self.matcher,
            &q,
            limit,
            names_in.as_ref().map(|c| c.1.as_slice()),
            descs_in.as_ref().map(|c| c.1.as_slice()),
            self.threads,
        );
        self.names = out.names.map(|c| (q.text.clone(), c));
        // Description candidates of a shorter query stay valid when this one did not need them.
        self.descs = out.descs.map(|c| (q.text.clone(), c)).or(descs_in);
        out.hits
    }
}

impl Index {
    /// The best `limit` hits for `query`, best first (a one-off search; see [`Searcher`]).
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let mut matcher = Matcher::new(Config::DEFAULT);
        run(self, &mut matcher, &Query::new(query), limit, None, None, 1).hits
    }

    /// Close attribute paths for one the index lacks ("did you mean").
    pub fn suggest(&self, attr: &str, n: usize) -> Vec<String> {
        self.search(attr, n)
            .into_iter()
            .filter(|h| h.kind != MatchKind::Description)
            .map(|h| h.attr)
            .collect()
    }
}

struct RunOut {
    hits: Vec<SearchHit>,
    names: Option<Vec<u32>>,
    descs: Option<Vec<u32>>,
}

/// Sort key inside a tier: depth, then a sub-rank, then length, then path (entries are sorted).
#[inline]
fn key(depth: u8, sub: u8, len: usize, id: u32) -> u64 {
    (depth as u64) << 56 | (sub as u64) << 48 | (len.min(0xffff) as u64) << 32 | id as u64
}

#[inline]
fn is_boundary(attr: &[u8], pos: usize) -> bool {
    if pos == 0 {
        return true;
    }
    let (p, c) = (attr[pos - 1], attr[pos]);
    matches!(p, b'.' | b'-' | b'_' | b'+' | b'/')
        || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
        || (p.is_ascii_alphabetic() && c.is_ascii_digit())
        || (p.is_ascii_digit() && c.is_ascii_alphabetic())
}

/// `rest` is a version suffix: `_22`, `13`, `-3_4`.
pub(crate) fn is_version_suffix(rest: &[u8]) -> bool {
    let digits = match rest.first() {
        Some(b'_' | b'-') => &rest[1..],
        _ => rest,
    };
    digits.first().is_some_and(u8::is_ascii_digit)
        && digits.iter().all(|b| b.is_ascii_digit() || *b == b'_')
}

/// The cheap tier of one term in one entry: (tier, sub-rank), or None when the term is not a
/// substring of the attribute.
#[inline]
fn cheap_tier(index: &Index, i: usize, lower: &[u8], term: &Term) -> Option<(usize, u8)> {
    let t = term.text.as_bytes();
    if lower.len() < t.len() {
        return None;
    }
    let seg = index.facts[i].seg as usize;
    let last = &lower[seg..];
    if lower == t || last == t {
        return Some((0, 0));
    }
    let pname = index.pnames.get(i);
    if !pname.is_empty() && pname.eq_ignore_ascii_case(&term.text) {
        return Some((0, 0));
    }
    if let Some(rest) = last.strip_prefix(t) {
        if seg == 0 && is_version_suffix(rest) {
            return Some((0, 1));
        }
        return Some((1, 0));
    }
    if lower.starts_with(t) {
        return Some((1, 0));
    }
    let attr = index.attrs.get(i).as_bytes();
    let mut found = None;
    for pos in term.finder.find_iter(lower) {
        if is_boundary(attr, pos) {
            return Some((2, 0));
        }
        found.get_or_insert((3, 0));
    }
    found
}

#[inline]
fn is_subsequence(needle: &[u8], hay: &[u8]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|c| it.any(|h| h == c))
}

/// Candidates at least this many are classified on two threads.
const PARALLEL_MIN: usize = 40_000;

#[derive(Default)]
struct Pass {
    tiers: [Vec<u64>; TIERS],
    fuzzy: Vec<u32>,
    names: Vec<u32>,
}

impl Pass {
    fn extend(&mut self, other: Pass) {
        for (t, o) in self.tiers.iter_mut().zip(other.tiers) {
            t.extend(o);
        }
        self.fuzzy.extend(other.fuzzy);
        self.names.extend(other.names);
    }
}

/// Sorts entries into the cheap tiers (sort keys), subsequence-only matches and all name
/// candidates (for narrowing).
fn classify(index: &Index, q: &Query, ids: &[u32]) -> Pass {
    let mut p = Pass::default();
    'entries: for &i in ids {
        let iu = i as usize;
        let f = index.facts[iu];
        if f.mask & q.mask != q.mask {
            continue;
        }
        let lower = &index.lower[index.attrs.range(iu)];
        let mut worst = (0usize, 0u8);
        let mut subseq_only = false;
        for term in &q.terms {
            match cheap_tier(index, iu, lower, term) {
                Some(t) => worst = worst.max(t),
                None => {
                    if !is_subsequence(term.text.as_bytes(), lower) {
                        continue 'entries;
                    }
                    subseq_only = true;
                }
            }
        }
        p.names.push(i);
        if subseq_only {
            p.fuzzy.push(i);
        } else {
            let (tier, sub) = worst;
            let len = lower.len();
            // Versioned variants: newest (longest, then last in order) first.
            let k = if sub == 1 {
                key(f.depth, 1, 0xffff - len, u32::MAX - i)
            } else {
                key(f.depth, sub, len, i)
            };
            p.tiers[tier].push(k);
        }
    }
    p
}

/// Above this many fuzzy candidates, rank with the greedy scorer first.
const GREEDY_ABOVE: usize = 2_000;

/// Sort keys (best first) of the entries matching every term fuzzily, by nucleo score summed
/// over the terms, then depth, then length.
fn score_fuzzy(
    index: &Index,
    matcher: &mut Matcher,
    q: &Query,
    ids: &[u32],
    greedy: bool,
) -> Vec<u64> {
    let mut scored = Vec::with_capacity(ids.len());
    let mut buf = Vec::new();
    // ASCII terms are pre-ranked on the lowercased bytes, with no UTF-32 view per candidate.
    let bytes = greedy && q.terms.iter().all(|t| t.text.is_ascii());
    'entries: for &i in ids {
        let attr = index.attrs.get(i as usize);
        let mut total = 0u32;
        if bytes {
            let lower = &index.lower[index.attrs.range(i as usize)];
            for term in &q.terms {
                match greedy_score(term.text.as_bytes(), lower, attr.as_bytes()) {
                    Some(s) => total += s as u32,
                    None => continue 'entries,
                }
            }
        } else {
            let hay = Utf32Str::new(attr, &mut buf);
            for term in &q.terms {
                let s = if greedy {
                    matcher.config.ignore_case = true;
                    matcher.fuzzy_match_greedy(hay, term.atom.needle_text())
                } else {
                    term.atom.score(hay, matcher)
                };
                match s {
                    Some(s) => total += s as u32,
                    None => continue 'entries,
                }
            }
        }
        let f = index.facts[i as usize];
        let inv = 0xffff - total.min(0xffff) as u64;
        scored.push(
            inv << 48 | (f.depth as u64) << 40 | (attr.len().min(0xff) as u64) << 32 | i as u64,
        );
    }
    scored
}

/// Optimal string alignment distance of two short ASCII strings, as `strsim::osa_distance`
/// computes it, on the stack (the typo scan runs it on thousands of names per keystroke).
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

/// A linear pre-rank in the spirit of nucleo's greedy scorer, on the lowercased bytes with no
/// conversion per candidate: the leftmost match tightened from its end, then a point per matched
/// character, a bonus at word boundaries (double on the first character) and for runs, and a
/// penalty per gap. It only picks which candidates nucleo's optimal scorer re-scores.
#[inline]
fn greedy_score(needle: &[u8], lower: &[u8], attr: &[u8]) -> Option<u16> {
    let n = needle.len();
    if n == 0 {
        return Some(0);
    }
    let mut j = 0;
    let mut end = 0;
    for (p, &b) in lower.iter().enumerate() {
        if b == needle[j] {
            j += 1;
            if j == n {
                end = p + 1;
                break;
            }
        }
    }
    if j < n {
        return None;
    }
    let mut start = 0;
    let mut k = n;
    for p in (0..end).rev() {
        if lower[p] == needle[k - 1] {
            k -= 1;
            if k == 0 {
                start = p;
                break;
            }
        }
    }
    let mut score: i32 = 0;
    let mut prev: Option<usize> = None;
    let mut j = 0;
    for (p, &b) in lower.iter().enumerate().take(end).skip(start) {
        if j == n || b != needle[j] {
            continue;
        }
        let mut bonus = if is_boundary(attr, p) { 8 } else { 0 };
        if j == 0 {
            bonus *= 2;
        }
        if let Some(q) = prev {
            if q + 1 == p {
                bonus = bonus.max(4);
            } else {
                score -= 3 + (p - q - 2) as i32;
            }
        }
        score += 16 + bonus;
        prev = Some(p);
        j += 1;
    }
    Some(score.max(0) as u16)
}

fn run(
    index: &Index,
    matcher: &mut Matcher,
    q: &Query,
    limit: usize,
    names_in: Option<&[u32]>,
    descs_in: Option<&[u32]>,
    threads: usize,
) -> RunOut {
    let limit = limit.min(index.len());
    if q.terms.is_empty() {
        let hits = index
            .popular()
            .iter()
            .take(limit)
            .map(|&i| hit(index, i as usize, MatchKind::Popular, 0, Vec::new()))
            .collect();
        return RunOut {
            hits,
            names: None,
            descs: None,
        };
    }

    // Pass 1: classify every candidate into the cheap tiers; keep subsequence-only matches aside.
    // A big candidate set is split over two threads (the first keystrokes scan everything).
    let all: Vec<u32>;
    let ids: &[u32] = match names_in {
        Some(c) => c,
        None => {
            all = (0..index.len() as u32).collect();
            &all
        }
    };
    let Pass {
        mut tiers,
        fuzzy,
        names,
    } = if threads > 1 && ids.len() >= PARALLEL_MIN {
        let (a, b) = ids.split_at(ids.len() / 2);
        let (mut pa, pb) = std::thread::scope(|s| {
            let h = s.spawn(|| classify(index, q, a));
            let pb = classify(index, q, b);
            (h.join().expect("search thread"), pb)
        });
        pa.extend(pb);
        pa
    } else {
        classify(index, q, ids)
    };

    let mut chosen: Vec<(u32, MatchKind, u32)> = Vec::with_capacity(limit);
    const KINDS: [MatchKind; TIERS] = [
        MatchKind::Exact,
        MatchKind::Prefix,
        MatchKind::WordBoundary,
        MatchKind::Substring,
    ];
    for (t, keys) in tiers.iter_mut().enumerate() {
        let need = limit - chosen.len();
        if need == 0 {
            break;
        }
        take_smallest(keys, need);
        for &k in keys.iter().take(need) {
            let sub = (k >> 48) as u8;
            let id = if sub == 1 {
                u32::MAX - k as u32
            } else {
                k as u32
            };
            chosen.push((id, KINDS[t], (1000 - 100 * t) as u32));
        }
    }

    // Typo: the last segment within one or two edits, for one-word queries that found too little.
    // A dotted query (`haskellPackages.lenz`) must name the set exactly; only the name may be off.
    if chosen.len() < limit && q.terms.len() == 1 {
        let term = &q.terms[0];
        let (qset, qname) = match term.text.rsplit_once('.') {
            Some((set, name)) => (Some(set.as_bytes()), name),
            None => (None, term.text.as_str()),
        };
        if qname.chars().count() >= 5 {
            let taken: HashSet<u32> = chosen.iter().map(|c| c.0).collect();
            let tl = qname.len();
            let maxd = if tl <= 6 { 1 } else { 2 };
            let qmask = mask_of(qname.as_bytes());
            let mut typos: Vec<u64> = Vec::new();
            for (i, f) in index.facts.iter().enumerate() {
                // Cheap rejections first, before touching the text: the name's length, and the
                // query letters missing from the whole attribute (a subset of those the name lacks).
                let range = index.attrs.range(i);
                let seg = f.seg as usize;
                if (range.len() - seg).abs_diff(tl) > maxd
                    || (qmask & !f.mask).count_ones() as usize > 2 * maxd
                {
                    continue;
                }
                let lower = &index.lower[range];
                let name = &lower[seg..];
                if let Some(set) = qset {
                    if seg == 0 || &lower[..seg - 1] != set {
                        continue;
                    }
                }
                if (mask_of(name) ^ qmask).count_ones() as usize > 2 * maxd
                    || taken.contains(&(i as u32))
                {
                    continue;
                }
                let d = if qname.is_ascii() && name.is_ascii() && name.len() < 64 && tl < 64 {
                    osa_ascii(qname.as_bytes(), name)
                } else {
                    strsim::osa_distance(qname, std::str::from_utf8(name).unwrap_or(""))
                };
                if d <= maxd {
                    typos.push(key(d as u8, f.depth, lower.len(), i as u32));
                }
            }
            let need = limit - chosen.len();
            take_smallest(&mut typos, need);
            for &k in typos.iter().take(need) {
                chosen.push((k as u32, MatchKind::Typo, 10 - (k >> 56) as u32));
            }
        }
    }

    // Fuzzy: score only when the cheap tiers left room. Many candidates are first ranked with
    // nucleo's linear greedy scorer, and only the best few re-scored with its optimal one.
    if chosen.len() < limit && !fuzzy.is_empty() {
        // Fuzzy candidates are never in the cheap tiers, so only typo hits can repeat here: a
        // sorted list of the few taken ids is cheaper than hashing tens of thousands of ids.
        let mut taken: Vec<u32> = chosen
            .iter()
            .filter(|c| c.1 == MatchKind::Typo)
            .map(|c| c.0)
            .collect();
        taken.sort_unstable();
        let cands: Vec<u32> = if taken.is_empty() {
            fuzzy
        } else {
            fuzzy
                .into_iter()
                .filter(|i| taken.binary_search(i).is_err())
                .collect()
        };
        let need = limit - chosen.len();
        let greedy = cands.len() > GREEDY_ABOVE;
        let mut scored = score_fuzzy(index, matcher, q, &cands, greedy);
        if greedy {
            take_smallest(&mut scored, (need * 4).max(100));
            let best: Vec<u32> = scored
                .iter()
                .take((need * 4).max(100))
                .map(|&k| k as u32)
                .collect();
            scored = score_fuzzy(index, matcher, q, &best, false);
        }
        let need = limit - chosen.len();
        take_smallest(&mut scored, need);
        for &k in scored.iter().take(need) {
            chosen.push((k as u32, MatchKind::Fuzzy, 0xffff - (k >> 48) as u32));
        }
    }

    // Description: every term in the description (or the name), after all name matches.
    let mut descs_out = None;
    if chosen.len() < limit && !index.desc_lower.is_blank() {
        let mut matches: Vec<u32> = Vec::new();
        let mut check = |i: u32| {
            let d = index.desc_lower.get(i as usize).as_bytes();
            let lower = &index.lower[index.attrs.range(i as usize)];
            if q.terms
                .iter()
                .all(|t| t.finder.find(d).is_some() || t.finder.find(lower).is_some())
            {
                matches.push(i);
            }
        };
        match descs_in {
            Some(c) => c.iter().copied().for_each(&mut check),
            None => (0..index.len() as u32).for_each(&mut check),
        }
        let taken: HashSet<u32> = chosen.iter().map(|c| c.0).collect();
        let mut keys: Vec<u64> = matches
            .iter()
            .filter(|i| !taken.contains(i))
            .map(|&i| {
                let f = index.facts[i as usize];
                key(f.depth, 0, index.attrs.range(i as usize).len(), i)
            })
            .collect();
        let need = limit - chosen.len();
        take_smallest(&mut keys, need);
        for &k in keys.iter().take(need) {
            chosen.push((k as u32, MatchKind::Description, 1));
        }
        descs_out = Some(matches);
    }

    let hits = chosen
        .into_iter()
        .map(|(i, kind, score)| {
            let matched = positions(index, matcher, q, i as usize, kind);
            hit(index, i as usize, kind, score, matched)
        })
        .collect();
    RunOut {
        hits,
        names: Some(names),
        descs: descs_out,
    }
}

/// Leaves the `n` smallest keys, sorted, at the front.
fn take_smallest(keys: &mut [u64], n: usize) {
    if n == 0 || keys.is_empty() {
        return;
    }
    if keys.len() > n {
        keys.select_nth_unstable(n - 1);
    }
    let end = n.min(keys.len());
    keys[..end].sort_unstable();
}

fn hit(index: &Index, i: usize, kind: MatchKind, score: u32, matched: Vec<usize>) -> SearchHit {
    SearchHit {
        entry: i,
        attr: index.attr(i).to_string(),
        version: index.version(i).map(str::to_string),
        description: index.description(i).map(str::to_string),
        kind,
        score,
        matched,
    }
}

/// Character indices of `attr` to highlight for each term (only for the hits shown).
fn positions(
    index: &Index,
    matcher: &mut Matcher,
    q: &Query,
    i: usize,
    kind: MatchKind,
) -> Vec<usize> {
    if matches!(
        kind,
        MatchKind::Typo | MatchKind::Description | MatchKind::Popular
    ) {
        return Vec::new();
    }
    let attr = index.attr(i);
    let lower = &index.lower[index.attrs.range(i)];
    let seg = index.facts[i].seg as usize;
    let mut bytes: Vec<usize> = Vec::new();
    for term in &q.terms {
        let t = term.text.as_bytes();
        let start = if lower[seg..].starts_with(t) {
            Some(seg)
        } else if lower.starts_with(t) {
            Some(0)
        } else {
            let mut first = None;
            let mut boundary = None;
            for pos in term.finder.find_iter(lower) {
                first.get_or_insert(pos);
                if is_boundary(attr.as_bytes(), pos) {
                    boundary = Some(pos);
                    break;
                }
            }
            boundary.or(first)
        };
        match start {
            Some(s) => bytes.extend(s..s + t.len()),
            None => {
                let mut buf = Vec::new();
                let mut idx = Vec::new();
                term.atom
                    .indices(Utf32Str::new(attr, &mut buf), matcher, &mut idx);
                // nucleo's indices are already character indices.
                let chars: Vec<usize> = idx.into_iter().map(|c| c as usize).collect();
                let to_byte: Vec<usize> = attr.char_indices().map(|(b, _)| b).collect();
                bytes.extend(chars.into_iter().filter_map(|c| to_byte.get(c).copied()));
            }
        }
    }
    bytes.sort_unstable();
    bytes.dedup();
    if attr.is_ascii() {
        bytes
    } else {
        let starts: Vec<usize> = attr.char_indices().map(|(b, _)| b).collect();
        bytes
            .into_iter()
            .filter_map(|b| starts.iter().position(|&s| s == b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::{Entry, SourceInfo};
    use super::*;
    use std::sync::Arc;

    fn index(attrs: &[&str]) -> Index {
        Index::from_entries(
            SourceInfo {
                kind: "test".into(),
                origin: "t".into(),
            },
            attrs.iter().map(|a| Entry {
                attr: a.to_string(),
                ..Entry::default()
            }),
        )
    }

    fn top(idx: &Index, q: &str, n: usize) -> Vec<String> {
        idx.search(q, n).into_iter().map(|h| h.attr).collect()
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

    #[test]
    fn tiers_in_order() {
        let idx = index(&[
            "emacsPackages.ripgrep",
            "ripgrep",
            "ripgrep-all",
            "xripgrepx",
            "foo-ripgrep",
            "rxixpxgxrxexp",
        ]);
        assert_eq!(
            top(&idx, "ripgrep", 10),
            [
                "ripgrep",
                "emacsPackages.ripgrep",
                "ripgrep-all",
                "foo-ripgrep",
                "xripgrepx",
                "rxixpxgxrxexp"
            ]
        );
        let kinds: Vec<_> = idx.search("ripgrep", 10).iter().map(|h| h.kind).collect();
        assert_eq!(kinds[5], MatchKind::Fuzzy);
    }

    #[test]
    fn versioned_variants_newest_first_before_nested() {
        let idx = index(&[
            "nodePackages.nodejs",
            "nodejs_18",
            "nodejs_20",
            "nodejs_22",
            "nodejs-slim",
            "nodePackages.nodejs-x",
        ]);
        assert_eq!(
            top(&idx, "nodejs", 6),
            [
                "nodejs_22",
                "nodejs_20",
                "nodejs_18",
                "nodePackages.nodejs",
                "nodejs-slim",
                "nodePackages.nodejs-x"
            ]
        );
    }

    #[test]
    fn matched_positions_and_odd_queries() {
        let idx = index(&["python312Packages.numpy", "ripgrep", "a.b*c"]);
        let h = &idx.search("numpy", 1)[0];
        assert_eq!(h.matched, (18..23).collect::<Vec<_>>());
        assert_eq!(top(&idx, "b*c", 1), ["a.b*c"]);
        assert!(idx.search("(.*)[", 5).is_empty());
        assert!(idx.search(&"x".repeat(10_000), 5).is_empty());
        assert!(idx.search("ñandú 🦀", 5).is_empty());
        assert_eq!(idx.search("", 2).len(), 2);
        assert_eq!(idx.search("RIPGREP", 1)[0].attr, "ripgrep");
        assert_eq!(top(&idx, "ripgrpe", 1), ["ripgrep"]);
    }

    #[test]
    fn descriptions_come_after_names_and_narrow_too() {
        let entries = [
            ("jq", "Lightweight and flexible command-line JSON processor"),
            ("jo", "Small utility to create JSON objects"),
            ("fx", "Terminal JSON viewer"),
            ("json-tool", ""),
        ];
        let idx = Arc::new(Index::from_entries(
            SourceInfo {
                kind: "test".into(),
                origin: "t".into(),
            },
            entries.iter().map(|(a, d)| Entry {
                attr: a.to_string(),
                description: Some(d.to_string()).filter(|d| !d.is_empty()),
                ..Entry::default()
            }),
        ));
        let hits = idx.search("json", 10);
        assert_eq!(hits[0].attr, "json-tool");
        assert_eq!(hits[0].kind, MatchKind::Prefix);
        assert!(hits[1..].iter().all(|h| h.kind == MatchKind::Description));
        assert_eq!(top(&idx, "json processor", 5), ["jq"]);
        let mut s = Searcher::new(idx.clone());
        for q in [
            "j", "js", "jso", "json", "json ", "json v", "json vi", "json", "x",
        ] {
            assert_eq!(s.search(q, 10), idx.search(q, 10), "query {q:?}");
        }
    }

    #[test]
    fn searcher_narrows_and_agrees_with_one_off_search() {
        let idx = Arc::new(index(&[
            "ripgrep",
            "emacsPackages.ripgrep",
            "rig",
            "python3",
            "python312Packages.numpy",
        ]));
        let mut s = Searcher::new(idx.clone());
        for q in ["r", "ri", "rip", "ripg", "rip", "p", "py", "py n", "py nu"] {
            assert_eq!(s.search(q, 10), idx.search(q, 10), "query {q:?}");
        }
    }
}
