//! The ranking rules of `docs/search.md`, checked on the bundled 124,693 real names: a table of
//! queries and the results users expect at the top.

use std::sync::{Arc, OnceLock};

use super::{MatchKind, Searcher};
use crate::index::Index;

fn bundled() -> &'static Arc<Index> {
    static IDX: OnceLock<Arc<Index>> = OnceLock::new();
    IDX.get_or_init(|| Arc::new(super::bundled().unwrap()))
}

/// (query, expected first results in order)
const TABLE: &[(&str, &[&str])] = &[
    // Exact top-level before the same name nested.
    (
        "ripgrep",
        &["ripgrep", "emacsPackages.ripgrep", "ripgrep-all"],
    ),
    ("rustc", &["rustc", "rustcat", "rustc-demangle"]),
    (
        "lens",
        &[
            "lens",
            "idrisPackages.lens",
            "ocamlPackages.lens",
            "haskellPackages.lens",
        ],
    ),
    // No top-level `nodejs` in packages.json, but the alias table knows it (`nodejs_22`): it
    // first, then the versioned attributes, newest first, then the nested exact names, then
    // prefixes (top-level before nested).
    (
        "nodejs",
        &[
            "nodejs",
            "nodejs_23",
            "nodejs_22",
            "nodejs_20",
            "nodejs_18",
            "elmPackages.nodejs",
        ],
    ),
    ("nodejs_20", &["nodejs_20", "nodejs_22"]),
    (
        "python3",
        &[
            // `python3` and `python312` from the alias table (the list has neither).
            "python3",
            "python314",
            "python313",
            "python312",
            "python311",
            "python310",
        ],
    ),
    (
        "numpy",
        // The default Python's set by its alias first: the name a user's file would use.
        &["python3Packages.numpy", "python312Packages.numpy"],
    ),
    (
        "haskellPackages.lens",
        &["haskellPackages.lens", "haskellPackages.lenses"],
    ),
    // Case does not matter; surrounding blanks neither.
    ("  RipGrep ", &["ripgrep"]),
    // A misspelling finds the package by edit distance.
    ("ripgrpe", &["ripgrep", "emacsPackages.ripgrep"]),
    // No `grep` attribute (it is `gnugrep`): prefixes, top-level first.
    ("grep", &["grepm", "grepcidr", "rPackages.greport"]),
    // Two words: both must match.
    ("python313 numpy", &["python313Packages.numpy"]),
];

#[test]
fn ranking_table() {
    let idx = bundled();
    for (q, want) in TABLE {
        let got: Vec<String> = idx
            .search(q, want.len())
            .into_iter()
            .map(|h| h.attr)
            .collect();
        assert_eq!(&got, want, "query {q:?}");
    }
}

#[test]
fn tiers_never_go_backwards() {
    let idx = bundled();
    for q in ["py", "lens", "nodejs", "gcc", "git", "ripgr", "xyz", "qt6"] {
        let hits = idx.search(q, 200);
        let kinds: Vec<MatchKind> = hits.iter().map(|h| h.kind).collect();
        assert!(
            kinds.windows(2).all(|w| w[0] <= w[1]),
            "query {q:?}: {kinds:?}"
        );
        // Within a tier (other than versioned exact and fuzzy), shallower paths come first.
        for w in hits.windows(2) {
            if w[0].kind == w[1].kind
                && w[0].kind >= MatchKind::Prefix
                && w[0].kind <= MatchKind::Substring
            {
                let d = |a: &str| a.matches('.').count();
                assert!(
                    d(&w[0].attr) <= d(&w[1].attr),
                    "query {q:?}: {} then {}",
                    w[0].attr,
                    w[1].attr
                );
            }
        }
    }
}

#[test]
fn word_boundary_before_substring() {
    let hits = bundled().search("grep", 400);
    let pos = |a: &str| hits.iter().position(|h| h.attr == a).unwrap();
    assert_eq!(hits[pos("ast-grep")].kind, MatchKind::WordBoundary);
    assert_eq!(hits[pos("gnugrep")].kind, MatchKind::Substring);
    assert!(pos("ast-grep") < pos("gnugrep"));
}

#[test]
fn no_match_odd_and_empty_queries() {
    let idx = bundled();
    assert!(idx.search("qqqqzzzzxxxx", 20).is_empty());
    assert!(idx.search(&"ab".repeat(5000), 20).is_empty());
    assert!(idx.search("[a-z]+.*(", 20).is_empty());
    assert!(idx.search("ñ", 20).is_empty());
    let pop = idx.search("", 5);
    assert_eq!(pop.len(), 5);
    assert_eq!(pop[0].attr, "git");
    assert!(pop.iter().all(|h| h.kind == MatchKind::Popular));
    assert!(idx.search("x", 0).is_empty());
    assert_eq!(idx.search("", usize::MAX).len(), idx.len());
}

#[test]
fn highlights_point_at_the_match() {
    let idx = bundled();
    let h = &idx.search("lens", 4)[3];
    assert_eq!(h.attr, "haskellPackages.lens");
    assert_eq!(h.matched, vec![16, 17, 18, 19]);
    let h = &idx.search("rpgrp", 1)[0];
    let picked: String = h
        .matched
        .iter()
        .map(|&i| h.attr.as_bytes()[i] as char)
        .collect();
    assert_eq!(picked.to_lowercase(), "rpgrp");
}

#[test]
fn typing_char_by_char_matches_one_off_searches() {
    let idx = bundled();
    let mut s = Searcher::new(idx.clone());
    // Two threads: the split scan must agree with the one-thread one-off search.
    s.threads = 2;
    for q in [
        "haskellPackages.lens",
        "nodejs_20",
        "pyhton3",
        "zzzq",
        "hpkgslens",
    ] {
        for end in (1..=q.len()).chain((1..q.len()).rev()) {
            let part = &q[..end];
            assert_eq!(s.search(part, 20), idx.search(part, 20), "query {part:?}");
        }
    }
}

#[test]
fn resumed_fuzzy_matches_agree_with_one_off_searches() {
    let idx = bundled();
    let mut s = Searcher::new(idx.clone());
    // The last word grows (one character or a paste of several), words are added, the query
    // shrinks: each keystroke must find what a one-off search finds.
    let typed: &[&[&str]] = &[
        &["hpk", "hpkgs", "hpkgs l", "hpkgs lns", "hpkgs lnsx"],
        &["pyt nmp", "pyt nmpy", "pyt nmpy3", "pyt nmpy31"],
        &["hpkgsl", "hpkgsle", "hpkgs", "hpkgslens"],
        &["rgp", "rgpal", "rgpall"],
    ];
    for keystrokes in typed {
        for q in *keystrokes {
            assert_eq!(s.search(q, 50), idx.search(q, 50), "query {q:?}");
        }
    }
}
