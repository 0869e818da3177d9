//! The closure explorer's model on the real 334-path graph (`tests/data/closure-ankisyncd.json`,
//! 1.04 GiB): opening it (parse, index, closure and added sizes, layer plan) and each sort the
//! explorer offers, against a baseline in the same process (parsing the JSON alone, and one
//! `nix path-info -S`-style closure walk per path with a hash set, the naive way). Run by
//! `scripts/bench-explorer.sh` in release; prints figures and ratios.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use biar::image::{plan_with, Strategy};
use biar::inspect::{ClosureModel, SortKey};
use biar::nixbuild::ClosureGraph;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let path = format!(
        "{}/tests/data/closure-ankisyncd.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = std::fs::read_to_string(path).expect("the recorded graph");
    let runs = 50;
    let graph = ClosureGraph::from_export_json(&json).unwrap();
    let root = graph.roots[0].clone();

    let parse = time(runs, || ClosureGraph::from_export_json(&json).unwrap());
    let model = time(runs, || ClosureModel::new(&graph, &root).unwrap());
    let plan = time(runs, || {
        plan_with(&graph, 100, Strategy::default()).unwrap()
    });
    let open = time(runs, || {
        let g = ClosureGraph::from_export_json(&json).unwrap();
        let plan = plan_with(&g, 100, Strategy::default()).unwrap();
        ClosureModel::new(&g, &root)
            .unwrap()
            .with_layers(&plan, |_| None)
    });
    // The naive way to closure sizes: a walk with a hash set per path.
    let naive = time(5, || {
        let by: std::collections::HashMap<&str, &biar::nixbuild::StorePathInfo> =
            graph.paths.iter().map(|p| (p.path.as_str(), p)).collect();
        graph
            .paths
            .iter()
            .map(|p| {
                let mut seen = HashSet::new();
                let mut todo = vec![p.path.as_str()];
                let mut total = 0;
                while let Some(q) = todo.pop() {
                    if seen.insert(q) {
                        total += by[q].nar_size;
                        todo.extend(by[q].references.iter().map(String::as_str));
                    }
                }
                total
            })
            .collect::<Vec<u64>>()
    });
    let m = ClosureModel::new(&graph, &root).unwrap();
    println!(
        "graph: {} paths, {:.2} GiB",
        m.rows.len(),
        m.total_size() as f64 / (1u64 << 30) as f64
    );
    println!("parse JSON (baseline)          {:>9.3} ms", ms(parse));
    println!(
        "model (closure + added sizes)  {:>9.3} ms  ({:.1}x the parse)",
        ms(model),
        ms(model) / ms(parse)
    );
    println!("layer plan (co-change, 100)    {:>9.3} ms", ms(plan));
    println!(
        "open = parse + plan + model    {:>9.3} ms  (budget 100 ms: {:.0}x under)",
        ms(open),
        100.0 / ms(open)
    );
    println!(
        "naive closure sizes (baseline) {:>9.3} ms  (model is {:.1}x faster, with added sizes too)",
        ms(naive),
        ms(naive) / ms(model)
    );
    for key in SortKey::ALL {
        let all = time(runs, || m.path_rows(key));
        let packages = time(runs, || m.package_rows(key));
        println!(
            "sort by {:<8} all {} paths {:>7.3} ms, packages {:>7.3} ms",
            key.label(),
            m.rows.len(),
            ms(all),
            ms(packages)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
