//! Search benchmark on the bundled 124,693 names (run by `scripts/bench-search.sh`, in release):
//! per-keystroke latency of our engine (with and without narrowing) against full scans with
//! nucleo-matcher and fuzzy-matcher (skim v2), index load from the cache file, and the memory the
//! loaded index holds. Prints figures and ratios; `--markdown` prints the docs table too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use biar::index::{cache, Index, Searcher};
use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use nucleo_matcher::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo_matcher::{Config, Matcher, Utf32Str};

const QUERIES: &[&str] = &[
    "python3",
    "numpy",
    "ripgrep",
    "nodejs_20",
    "rustc",
    "haskellPackages.lens",
    "firefox",
    "pyhton",    // misspelling
    "qzxwvjk",   // no match
    "hpkgslens", // abbreviation (fuzzy only)
];
const LIMIT: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Stats {
    name: &'static str,
    median: Duration,
    p99: Duration,
    max: Duration,
}

/// Types every query char by char (a fresh search box per query), timing each keystroke.
fn keystrokes(name: &'static str, mut search: impl FnMut(&str, bool) -> usize) -> Stats {
    let mut times = Vec::new();
    let mut slowest: Vec<(Duration, &str)> = Vec::new();
    for _round in 0..3 {
        for q in QUERIES {
            let mut first = true;
            for end in 1..=q.len() {
                let t = Instant::now();
                std::hint::black_box(search(&q[..end], first));
                let e = t.elapsed();
                times.push(e);
                slowest.push((e, &q[..end]));
                first = false;
            }
        }
    }
    if std::env::var_os("BENCH_SLOWEST").is_some() {
        slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        let worst: Vec<String> = slowest[..8]
            .iter()
            .map(|(d, q)| format!("{q:?} {:.1}", ms(*d)))
            .collect();
        eprintln!("{name}: slowest keystrokes (ms): {}", worst.join(", "));
    }
    times.sort();
    Stats {
        name,
        median: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        max: *times.last().unwrap(),
    }
}

/// fzf-style: score every name, keep the best `LIMIT`.
fn top_by_score(scores: impl Iterator<Item = (i64, usize)>) -> usize {
    let mut v: Vec<(i64, usize)> = scores.collect();
    let n = v.len().min(LIMIT);
    if v.len() > LIMIT {
        v.select_nth_unstable_by(LIMIT - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    v[..n].sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    n
}

fn rss_kb() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One keystroke of our engine, not inlined so that callgrind can count it alone
/// (`scripts/bench-search.sh --instructions`).
#[inline(never)]
fn bench_keystroke(searcher: &mut Searcher, q: &str) -> usize {
    searcher.search(q, LIMIT).len()
}

/// `--keystrokes-only`: the 246 keystrokes once through our engine and nothing else, for
/// `valgrind --tool=callgrind --toggle-collect=*bench_keystroke* --dump-after=*bench_keystroke*`,
/// which then writes one instruction count per keystroke (repeatable on a loaded machine).
fn keystrokes_only() {
    let index = Arc::new(biar::index::bundled().expect("bundled names"));
    let mut n = 0;
    for q in QUERIES {
        let mut searcher = Searcher::new(index.clone());
        for end in 1..=q.len() {
            n += std::hint::black_box(bench_keystroke(&mut searcher, &q[..end]));
        }
    }
    println!("{n} hits");
}

fn main() {
    if std::env::args().any(|a| a == "--keystrokes-only") {
        return keystrokes_only();
    }
    let markdown = std::env::args().any(|a| a == "--markdown");
    // Load: decode the bundled list once, write its cache, then time loads from the cache file.
    let rss0 = rss_kb();
    let t = Instant::now();
    let bundled = biar::index::bundled().expect("bundled names");
    let decode = t.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let path = cache::cache_path(dir.path(), bundled.source());
    let meta = cache::CacheMeta {
        kind: "bundled".into(),
        origin: bundled.source().origin.clone(),
        ..Default::default()
    };
    cache::write(&path, &bundled, &meta).unwrap();
    let heap = bundled.heap_bytes();
    drop(bundled);
    let file_size = std::fs::metadata(&path).unwrap().len();
    let mut loads = Vec::new();
    let mut index: Option<Index> = None;
    for _ in 0..15 {
        drop(index.take());
        let t = Instant::now();
        index = Some(cache::read(&path).unwrap().unwrap().0);
        loads.push(t.elapsed());
    }
    loads.sort();
    let index = Arc::new(index.unwrap());
    let rss1 = rss_kb();
    let names: Vec<&str> = (0..index.len()).map(|i| index.attr(i)).collect();

    println!(
        "index: {} names; bundled decode (first run only) {:.1} ms",
        index.len(),
        ms(decode)
    );
    println!(
        "load from cache file ({:.1} MB, page cache warm): median {:.1} ms, max {:.1} ms",
        file_size as f64 / 1e6,
        ms(percentile(&loads, 0.5)),
        ms(*loads.last().unwrap())
    );
    println!(
        "memory: index buffers {:.1} MB; process RSS {:.1} MB (before load {:.1} MB)",
        heap as f64 / 1e6,
        rss1 as f64 / 1e3,
        rss0 as f64 / 1e3
    );

    // Engines.
    let mut searcher = Searcher::new(index.clone());
    let ours = keystrokes(
        "biar (tiers, prefilter, narrowing, 1 thread)",
        |q, first| {
            if first {
                searcher = Searcher::new(index.clone());
            }
            searcher.search(q, LIMIT).len()
        },
    );
    let mut two = Searcher::new(index.clone());
    let ours_two = keystrokes("biar, 2 threads for big scans", |q, first| {
        if first {
            two = Searcher::new(index.clone());
            two.threads = 2;
        }
        two.search(q, LIMIT).len()
    });
    let idx2 = index.clone();
    let ours_plain = keystrokes("biar, 1 thread, no narrowing", |q, _| {
        idx2.search(q, LIMIT).len()
    });
    let mut matcher = Matcher::new(Config::DEFAULT);
    let mut buf = Vec::new();
    let nucleo = keystrokes("nucleo-matcher, full scan", |q, _| {
        let atom = Atom::new(
            q,
            CaseMatching::Ignore,
            Normalization::Smart,
            AtomKind::Fuzzy,
            false,
        );
        top_by_score(names.iter().enumerate().filter_map(|(i, n)| {
            atom.score(Utf32Str::new(n, &mut buf), &mut matcher)
                .map(|s| (s as i64, i))
        }))
    });
    let skim = SkimMatcherV2::default().ignore_case();
    let skim_stats = keystrokes("fuzzy-matcher skim v2, full scan", |q, _| {
        top_by_score(
            names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| skim.fuzzy_match(n, q).map(|s| (s, i))),
        )
    });
    // Parallel full scan with nucleo on both cores (what "parallel scoring" buys).
    let nucleo_par = keystrokes("nucleo-matcher, full scan on 2 threads", |q, _| {
        let atom = Atom::new(
            q,
            CaseMatching::Ignore,
            Normalization::Smart,
            AtomKind::Fuzzy,
            false,
        );
        let half = names.len() / 2;
        let (a, b) = names.split_at(half);
        let (ra, rb) = std::thread::scope(|s| {
            let atom = &atom;
            let run = move |part: &[&str], base: usize| {
                let mut m = Matcher::new(Config::DEFAULT);
                let mut buf = Vec::new();
                let v: Vec<(i64, usize)> = part
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        atom.score(Utf32Str::new(n, &mut buf), &mut m)
                            .map(|s| (s as i64, base + i))
                    })
                    .collect();
                v
            };
            let ha = s.spawn(move || run(a, 0));
            let rb = run(b, half);
            (ha.join().unwrap(), rb)
        });
        top_by_score(ra.into_iter().chain(rb))
    });

    let all = [
        &ours,
        &ours_two,
        &ours_plain,
        &nucleo,
        &nucleo_par,
        &skim_stats,
    ];
    let keystrokes_total: usize = QUERIES.iter().map(|q| q.len()).sum::<usize>() * 3;
    println!(
        "\nper keystroke, {} keystrokes ({} queries typed char by char, 3 rounds), top {LIMIT}:",
        keystrokes_total,
        QUERIES.len()
    );
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>14}",
        "engine", "median ms", "p99 ms", "max ms", "p99 vs biar"
    );
    for s in all {
        println!(
            "{:<42} {:>10.3} {:>10.3} {:>10.3} {:>13.1}x",
            s.name,
            ms(s.median),
            ms(s.p99),
            ms(s.max),
            s.p99.as_secs_f64() / ours.p99.as_secs_f64()
        );
    }
    println!(
        "target p99 <= 5 ms: {}",
        if ours.p99 <= Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
    if markdown {
        println!("\n| engine | median ms | p99 ms | max ms | p99 vs biar |\n| --- | ---: | ---: | ---: | ---: |");
        for s in all {
            println!(
                "| {} | {:.3} | {:.3} | {:.3} | {:.1}x |",
                s.name,
                ms(s.median),
                ms(s.p99),
                ms(s.max),
                s.p99.as_secs_f64() / ours.p99.as_secs_f64()
            );
        }
    }
}
