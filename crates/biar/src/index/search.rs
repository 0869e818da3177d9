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

use super::rank_key::{take_smallest, FuzzyKey, TierKey};
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
    /// The last query's name candidates (every name match of a query extending it is among
    /// them).
    names: Option<Names>,
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
        let extends = |text: &str| !text.is_empty() && q.text.starts_with(text);
        let (names_in, descs_in) = if self.narrowing {
            (
                self.names.take().filter(|n| extends(&n.text)),
                self.descs.take().filter(|(text, _)| extends(text)),
            )
        } else {
            (None, None)
        };
        let out = run(
            &self.index,
            &mut self.matcher,
            &q,
            limit,
            names_in.as_ref(),
            descs_in.as_ref().map(|c| c.1.as_slice()),
            self.threads,
        );
        self.names = out.names;
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
    names: Option<Names>,
    descs: Option<Vec<u32>>,
}

/// One query's name candidates: every entry whose attribute holds each term as a subsequence,
/// split into those in a cheap tier and the subsequence-only ones.
struct Names {
    /// The normalised query.
    text: String,
    terms: Vec<String>,
    cheap: Vec<u32>,
    /// Subsequence-only entries, each with where the leftmost subsequence match of the last
    /// term ends: the next keystroke resumes the match there instead of starting over.
    fuzzy: Vec<(u32, u16)>,
}

impl Names {
    /// What the last term grew by, when `q` only extends this query's last term (same terms
    /// before it): then a subsequence-only entry stays one exactly when the extension matches
    /// after the stored end (a term that is not a substring does not become one by growing).
    fn extension<'q>(&self, q: &'q Query) -> Option<&'q [u8]> {
        let n = self.terms.len();
        if n == 0 || q.terms.len() != n {
            return None;
        }
        let same = self.terms[..n - 1]
            .iter()
            .zip(&q.terms)
            .all(|(a, b)| *a == b.text);
        let last = q.terms[n - 1].text.as_bytes();
        (same && last.starts_with(self.terms[n - 1].as_bytes()))
            .then(|| &last[self.terms[n - 1].len()..])
    }
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
    let attr = &index.attrs.text.as_bytes()[index.attrs.range(i)];
    let mut found = None;
    if let &[c] = t {
        // One character (the first keystroke, over every entry): a plain loop beats setting up
        // a substring search per entry.
        for (pos, &b) in lower.iter().enumerate() {
            if b == c {
                if is_boundary(attr, pos) {
                    return Some((2, 0));
                }
                found = Some((3, 0));
            }
        }
        return found;
    }
    for pos in term.finder.find_iter(lower) {
        if is_boundary(attr, pos) {
            return Some((2, 0));
        }
        found.get_or_insert((3, 0));
    }
    found
}

/// Where the leftmost (greedy) match of `needle` as a subsequence of `hay[from..]` ends.
#[inline]
fn subsequence_end(needle: &[u8], hay: &[u8], from: usize) -> Option<usize> {
    let mut p = from;
    for &c in needle {
        p += memchr::memchr(c, hay.get(p..)?)? + 1;
    }
    Some(p)
}

/// Candidates at least this many are classified on two threads.
const PARALLEL_MIN: usize = 40_000;

#[derive(Default)]
struct Pass {
    /// Sort keys inside a tier: depth, then a sub-rank, then length, then path (entries are
    /// sorted).
    tiers: [Vec<TierKey>; TIERS],
    /// Subsequence-only matches, with the end of the last term's leftmost match.
    fuzzy: Vec<(u32, u16)>,
    /// The entries in `tiers`.
    cheap: Vec<u32>,
}

impl Pass {
    fn extend(&mut self, other: Pass) {
        for (t, o) in self.tiers.iter_mut().zip(other.tiers) {
            t.extend(o);
        }
        self.fuzzy.extend(other.fuzzy);
        self.cheap.extend(other.cheap);
    }
}

/// Sorts entries into the cheap tiers (sort keys) and subsequence-only matches.
fn classify(index: &Index, q: &Query, ids: impl Iterator<Item = u32>, p: &mut Pass) {
    let last = q.terms.last().map_or(&[][..], |t| t.text.as_bytes());
    // Most candidates of a short query match: no regrowing (and copying) on the way.
    p.cheap.reserve(ids.size_hint().0);
    'entries: for i in ids {
        let iu = i as usize;
        let f = index.facts[iu];
        if f.mask & q.mask != q.mask {
            continue;
        }
        let lower = &index.lower[index.attrs.range(iu)];
        let mut worst = (0usize, 0u8);
        let mut subseq_only = false;
        let mut last_end = None;
        for (k, term) in q.terms.iter().enumerate() {
            match cheap_tier(index, iu, lower, term) {
                Some(t) => worst = worst.max(t),
                None => {
                    let Some(end) = subsequence_end(term.text.as_bytes(), lower, 0) else {
                        continue 'entries;
                    };
                    if k + 1 == q.terms.len() {
                        last_end = Some(end);
                    }
                    subseq_only = true;
                }
            }
        }
        if subseq_only {
            // Names are far shorter than 64 kB; a longer one just never resumes.
            let end = last_end
                .or_else(|| subsequence_end(last, lower, 0))
                .unwrap_or(0);
            p.fuzzy.push((i, end.min(u16::MAX as usize) as u16));
        } else {
            p.cheap.push(i);
            let (tier, sub) = worst;
            let len = lower.len();
            // Versioned variants: newest (longest, then last in order) first.
            let k = if sub == 1 {
                TierKey::newest_first(f.depth, len, i)
            } else {
                TierKey::new(f.depth, sub, len, i)
            };
            p.tiers[tier].push(k);
        }
    }
}

/// The subsequence-only entries of the previous query that stay so: the last term's extension
/// `ext` must match after where its match ended.
fn resume_fuzzy(index: &Index, q: &Query, prev: &[(u32, u16)], ext: &[u8], p: &mut Pass) {
    let last = q.terms.last().map_or(&[][..], |t| t.text.as_bytes());
    let last_text = q.terms.last().map_or("", |t| t.text.as_str());
    for &(i, end) in prev {
        // The one cheap tier that is not a substring of the name: the package name equal to the
        // term. Such an entry is classified afresh, as a one-off search of the query would.
        let pname = index.pnames.get(i as usize);
        if !pname.is_empty() && pname.eq_ignore_ascii_case(last_text) {
            classify(index, q, std::iter::once(i), p);
            continue;
        }
        let lower = &index.lower[index.attrs.range(i as usize)];
        let resumed = if end == u16::MAX {
            // An entry too long to carry its end (never a real name): match afresh.
            subsequence_end(last, lower, 0)
        } else {
            subsequence_end(ext, lower, end as usize)
        };
        if let Some(e) = resumed {
            p.fuzzy.push((i, e.min(u16::MAX as usize) as u16));
        }
    }
}

/// Above this many fuzzy candidates, rank with the greedy scorer first.
const GREEDY_ABOVE: usize = 2_000;

/// Sort keys (best first) of the entries matching every term fuzzily, by nucleo score summed
/// over the terms, then depth, then length.
fn score_fuzzy(
    index: &Index,
    matcher: &mut Matcher,
    q: &Query,
    ids: &[(u32, u16)],
    greedy: bool,
) -> Vec<FuzzyKey> {
    let mut scored = Vec::with_capacity(ids.len());
    let mut buf = Vec::new();
    // ASCII terms are pre-ranked on the lowercased bytes, with no UTF-32 view per candidate.
    let bytes = greedy && q.terms.iter().all(|t| t.text.is_ascii());
    let last = q.terms.len().saturating_sub(1);
    'entries: for &(i, end) in ids {
        let attr = index.attrs.get(i as usize);
        let mut total = 0u32;
        if bytes {
            let lower = &index.lower[index.attrs.range(i as usize)];
            for (k, term) in q.terms.iter().enumerate() {
                // Classifying found where the last term's leftmost match ends (MAX: unknown).
                let end = (k == last && end != u16::MAX).then_some(end as usize);
                match greedy_score(term.text.as_bytes(), lower, attr.as_bytes(), end) {
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
        scored.push(FuzzyKey::new(total, f.depth, attr.len(), i));
    }
    scored
}

/// A linear pre-rank in the spirit of nucleo's greedy scorer, on the lowercased bytes with no
/// conversion per candidate: the leftmost match tightened from its end, then a point per matched
/// character, a bonus at word boundaries (double on the first character) and for runs, and a
/// penalty per gap. It only picks which candidates nucleo's optimal scorer re-scores.
#[inline]
fn greedy_score(needle: &[u8], lower: &[u8], attr: &[u8], end: Option<usize>) -> Option<u16> {
    let n = needle.len();
    if n == 0 {
        return Some(0);
    }
    let end = match end {
        Some(e) => e,
        None => subsequence_end(needle, lower, 0)?,
    };
    // Tighten: match the needle backwards from the end.
    let mut start = end;
    for &c in needle.iter().rev() {
        start = lower[..start].iter().rposition(|&b| b == c)?;
    }
    let mut score: i32 = 0;
    let mut prev: Option<usize> = None;
    let mut from = start;
    for (j, &c) in needle.iter().enumerate() {
        let p = from + lower[from..end].iter().position(|&b| b == c)?;
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
        from = p + 1;
    }
    Some(score.max(0) as u16)
}

/// One search: the cheap tiers (exact, prefix, word boundary, substring), then typos, fuzzy
/// matches and descriptions while there is room, each after the ones before.
/// Where several hits are one package in versions (`numpy`, `numpy_1`, `numpy_2` of one set,
/// all `pname` numpy), the version decides: they take the places the ranking gave the group,
/// newest first. Hits without a version, or alone, keep their place.
fn newest_first_among_namesakes(index: &Index, hits: &mut [SearchHit]) {
    let group = |h: &SearchHit| -> Option<(String, String)> {
        h.version.as_ref()?;
        let set = h.attr.rsplit_once('.').map_or("", |(s, _)| s).to_string();
        Some((set, index.pname(h.entry).to_string()))
    };
    let keys: Vec<Option<(String, String)>> = hits.iter().map(group).collect();
    let mut done = vec![false; hits.len()];
    for i in 0..hits.len() {
        let Some(key) = &keys[i] else { continue };
        if done[i] {
            continue;
        }
        let places: Vec<usize> = (i..hits.len())
            .filter(|&j| keys[j].as_ref() == Some(key))
            .collect();
        places.iter().for_each(|&j| done[j] = true);
        if places.len() < 2 {
            continue;
        }
        let mut members: Vec<SearchHit> = places.iter().map(|&j| hits[j].clone()).collect();
        // Stable: equal versions keep the ranking's order.
        members.sort_by(|a, b| compare_versions(b.version.as_deref(), a.version.as_deref()));
        for (&j, m) in places.iter().zip(members) {
            hits[j] = m;
        }
    }
}

/// `2.10.1` after `2.9`: numeric parts compared as numbers, others as text.
fn compare_versions(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-', '_', '+'])
            .map(|p| (p.parse::<u64>().unwrap_or(0), p.to_string()))
            .collect()
    };
    parts(a.unwrap_or("")).cmp(&parts(b.unwrap_or("")))
}

#[cfg(test)]
mod namesake_tests {
    use super::*;
    use crate::index::store::Entry;

    #[test]
    fn the_newest_version_of_one_package_comes_first() {
        let e = |attr: &str, version: &str| Entry {
            attr: attr.into(),
            pname: Some("numpy".into()),
            version: Some(version.into()),
            description: Some("Scientific tools for Python".into()),
        };
        let idx = Index::from_entries(
            crate::index::channel_source("https://channels.invalid/packages.json"),
            [
                e("python312Packages.numpy", "2.2.2"),
                e("python312Packages.numpy_1", "1.26.4"),
                e("python312Packages.numpy_2", "2.10.0"),
                e("python313Packages.numpy", "2.2.2"),
            ],
        );
        let attrs: Vec<String> = idx
            .search("numpy", 10)
            .into_iter()
            .map(|h| h.attr)
            .collect();
        // Within python312Packages: 2.10.0, 2.2.2, 1.26.4; the other set's numpy keeps its place.
        let in_312: Vec<&str> = attrs
            .iter()
            .filter(|a| a.starts_with("python312Packages."))
            .map(String::as_str)
            .collect();
        assert_eq!(
            in_312,
            vec![
                "python312Packages.numpy_2",
                "python312Packages.numpy",
                "python312Packages.numpy_1"
            ]
        );
        assert_eq!(attrs.len(), 4);
        assert!(compare_versions(Some("2.10"), Some("2.9")).is_gt());
    }
}

fn run(
    index: &Index,
    matcher: &mut Matcher,
    q: &Query,
    limit: usize,
    names_in: Option<&Names>,
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

    let Pass {
        mut tiers,
        fuzzy,
        cheap,
    } = classify_candidates(index, q, names_in, threads);
    let mut chosen = Chosen::with_capacity(limit);
    chosen.take_tiers(&mut tiers, limit);
    chosen.take_typos(index, q, limit);
    chosen.take_fuzzy(index, matcher, q, &fuzzy, limit);
    let descs_out = chosen.take_descriptions(index, q, descs_in, limit);

    let mut hits: Vec<SearchHit> = chosen
        .0
        .into_iter()
        .map(|(i, kind, score)| {
            let matched = positions(index, matcher, q, i as usize, kind);
            hit(index, i as usize, kind, score, matched)
        })
        .collect();
    newest_first_among_namesakes(index, &mut hits);
    RunOut {
        hits,
        names: Some(Names {
            text: q.text.clone(),
            terms: q.terms.iter().map(|t| t.text.clone()).collect(),
            cheap,
            fuzzy,
        }),
        descs: descs_out,
    }
}

/// Pass 1: classify the candidates into the cheap tiers; keep subsequence-only matches aside.
/// When the query only grew its last term, the previous subsequence-only matches just resume
/// their match. A big candidate set can be split over two threads (`Searcher::threads`).
fn classify_candidates(index: &Index, q: &Query, names_in: Option<&Names>, threads: usize) -> Pass {
    let mut pass = Pass::default();
    let joined: Vec<u32>;
    let ids: &[u32] = match names_in {
        Some(prev) => match prev.extension(q) {
            Some(ext) => {
                resume_fuzzy(index, q, &prev.fuzzy, ext, &mut pass);
                &prev.cheap
            }
            None => {
                joined = prev
                    .cheap
                    .iter()
                    .copied()
                    .chain(prev.fuzzy.iter().map(|f| f.0))
                    .collect();
                &joined
            }
        },
        None => {
            joined = (0..index.len() as u32).collect();
            &joined
        }
    };
    if threads > 1 && ids.len() >= PARALLEL_MIN {
        let (a, b) = ids.split_at(ids.len() / 2);
        let pa = std::thread::scope(|s| {
            let h = s.spawn(|| {
                let mut pa = Pass::default();
                classify(index, q, a.iter().copied(), &mut pa);
                pa
            });
            classify(index, q, b.iter().copied(), &mut pass);
            h.join().expect("search thread")
        });
        pass.extend(pa);
    } else {
        classify(index, q, ids.iter().copied(), &mut pass);
    }
    pass
}

/// The hits so far, best first: (entry, kind, score).
struct Chosen(Vec<(u32, MatchKind, u32)>);

impl Chosen {
    fn with_capacity(limit: usize) -> Chosen {
        Chosen(Vec::with_capacity(limit))
    }

    fn room(&self, limit: usize) -> usize {
        limit - self.0.len()
    }

    /// The cheap tiers in order, each sorted by its keys.
    fn take_tiers(&mut self, tiers: &mut [Vec<TierKey>; TIERS], limit: usize) {
        const KINDS: [MatchKind; TIERS] = [
            MatchKind::Exact,
            MatchKind::Prefix,
            MatchKind::WordBoundary,
            MatchKind::Substring,
        ];
        for (t, keys) in tiers.iter_mut().enumerate() {
            let need = self.room(limit);
            if need == 0 {
                break;
            }
            take_smallest(keys, need);
            for &k in keys.iter().take(need) {
                self.0.push((k.entry(), KINDS[t], (1000 - 100 * t) as u32));
            }
        }
    }

    /// Typo: the last segment within one or two edits, for one-word queries that found too
    /// little. A dotted query (`haskellPackages.lenz`) must name the set exactly; only the name
    /// may be off.
    fn take_typos(&mut self, index: &Index, q: &Query, limit: usize) {
        if self.room(limit) == 0 || q.terms.len() != 1 {
            return;
        }
        let term = &q.terms[0];
        let (qset, qname) = match term.text.rsplit_once('.') {
            Some((set, name)) => (Some(set.as_bytes()), name),
            None => (None, term.text.as_str()),
        };
        if qname.chars().count() < 5 {
            return;
        }
        let taken: HashSet<u32> = self.0.iter().map(|c| c.0).collect();
        let maxd = if qname.len() <= 6 { 1 } else { 2 };
        let mut typos = super::typo::typo_keys(index, qset, qname, maxd, &taken);
        let need = self.room(limit);
        take_smallest(&mut typos, need);
        for &k in typos.iter().take(need) {
            self.0.push((k.entry(), MatchKind::Typo, 10 - k.distance()));
        }
    }

    /// Fuzzy: score only when the cheap tiers left room. Many candidates are first ranked with
    /// nucleo's linear greedy scorer, and only the best few re-scored with its optimal one.
    fn take_fuzzy(
        &mut self,
        index: &Index,
        matcher: &mut Matcher,
        q: &Query,
        fuzzy: &[(u32, u16)],
        limit: usize,
    ) {
        if self.room(limit) == 0 || fuzzy.is_empty() {
            return;
        }
        // Fuzzy candidates are never in the cheap tiers, so only typo hits can repeat here: a
        // sorted list of the few taken ids is cheaper than hashing tens of thousands of ids.
        let mut taken: Vec<u32> = self
            .0
            .iter()
            .filter(|c| c.1 == MatchKind::Typo)
            .map(|c| c.0)
            .collect();
        taken.sort_unstable();
        let filtered: Vec<(u32, u16)>;
        let cands: &[(u32, u16)] = if taken.is_empty() {
            fuzzy
        } else {
            filtered = fuzzy
                .iter()
                .copied()
                .filter(|f| taken.binary_search(&f.0).is_err())
                .collect();
            &filtered
        };
        let need = self.room(limit);
        let greedy = cands.len() > GREEDY_ABOVE;
        let mut scored = score_fuzzy(index, matcher, q, cands, greedy);
        if greedy {
            take_smallest(&mut scored, (need * 4).max(100));
            let best: Vec<(u32, u16)> = scored
                .iter()
                .take((need * 4).max(100))
                .map(|&k| (k.entry(), u16::MAX))
                .collect();
            scored = score_fuzzy(index, matcher, q, &best, false);
        }
        take_smallest(&mut scored, need);
        for &k in scored.iter().take(need) {
            self.0.push((k.entry(), MatchKind::Fuzzy, k.score()));
        }
    }

    /// Description: every term in the description (or the name), after all name matches.
    /// Returns the entries that matched (the next keystroke's candidates), `None` if not asked.
    fn take_descriptions(
        &mut self,
        index: &Index,
        q: &Query,
        descs_in: Option<&[u32]>,
        limit: usize,
    ) -> Option<Vec<u32>> {
        if self.room(limit) == 0 || index.desc_lower.is_blank() {
            return None;
        }
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
        let taken: HashSet<u32> = self.0.iter().map(|c| c.0).collect();
        let mut keys: Vec<TierKey> = matches
            .iter()
            .filter(|i| !taken.contains(i))
            .map(|&i| {
                let f = index.facts[i as usize];
                TierKey::new(f.depth, 0, index.attrs.range(i as usize).len(), i)
            })
            .collect();
        let need = self.room(limit);
        take_smallest(&mut keys, need);
        for &k in keys.iter().take(need) {
            self.0.push((k.entry(), MatchKind::Description, 1));
        }
        Some(matches)
    }
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

    #[test]
    fn a_typed_pname_ranks_as_when_pasted() {
        // `xmxaxkxe`'s package name is `make`: a subsequence of the attribute while typed, equal
        // once complete; typing must reach the same ranking as a one-off search.
        let idx = Arc::new(Index::from_entries(
            SourceInfo {
                kind: "test".into(),
                origin: "t".into(),
            },
            [("xmxaxkxe", "make"), ("mkdocs", ""), ("cmake", "")].map(|(a, p)| Entry {
                attr: a.to_string(),
                pname: Some(p.to_string()).filter(|p| !p.is_empty()),
                ..Entry::default()
            }),
        ));
        let mut s = Searcher::new(idx.clone());
        for q in ["m", "ma", "mak", "make", "mak", "xm"] {
            assert_eq!(s.search(q, 10), idx.search(q, 10), "query {q:?}");
        }
    }

    fn top(idx: &Index, q: &str, n: usize) -> Vec<String> {
        idx.search(q, n).into_iter().map(|h| h.attr).collect()
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
