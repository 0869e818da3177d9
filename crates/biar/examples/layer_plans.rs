//! Compares layer plans on a recorded closure: popularity (nixpkgs) vs dominator groups (Nixery).
//! For every store path, "change it" (it and every path referencing it get new hashes) and count
//! the bytes a push must send (changed layers) and a Docker engine must receive (every layer from
//! the lowest changed one up). Usage: `cargo run -p biar --example layer_plans -- CLOSURE.json [MAX]`.

use biar::build::ClosureGraph;
use biar::image::plan::{change_cost, plan_with, LayerPlan, Strategy};

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .expect("usage: layer_plans CLOSURE.json [MAX_LAYERS [PATH_PART]]");
    let max: usize = args
        .next()
        .map(|m| m.parse().expect("a number"))
        .unwrap_or(100);
    let focus = args.next();
    let graph = ClosureGraph::from_export_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let total = graph.total_nar_size() as f64;
    let mib = |b: f64| b / 1048576.0;
    println!(
        "{file}: {} paths, {:.1} MiB, maxLayers {max}",
        graph.paths.len(),
        mib(total)
    );
    println!("mean over every path changed (with its referrers) / over every leaf changed; ratio = sent / changed paths' size");
    println!("plan        layers  largest MiB  push MiB  engine MiB  leaf push MiB  leaf engine MiB  leaf push ratio  leaf engine ratio  leaves push<=2x");
    for (name, s) in [
        ("popularity", Strategy::Popularity),
        ("pop-sized", Strategy::PopularitySized),
        ("co-change", Strategy::CoChange),
        ("dominator", Strategy::Dominator),
    ] {
        let p = plan_with(&graph, max, s).unwrap();
        report(name, &graph, &p, &mib);
        if let Some(f) = &focus {
            let path = graph
                .paths
                .iter()
                .find(|p| p.path.contains(f.as_str()))
                .expect("a path");
            let (c, a, b) = change_cost(&graph, &p, &path.path);
            println!(
                "    change {f}: changed paths {:.1} MiB, push {:.1} MiB ({:.1}x), engine {:.1} MiB ({:.1}x)",
                mib(c as f64), mib(a as f64), a as f64 / c as f64, mib(b as f64), b as f64 / c as f64
            );
        }
    }
}

fn report(name: &str, graph: &ClosureGraph, p: &LayerPlan, mib: &dyn Fn(f64) -> f64) {
    let largest = p.layers.iter().map(|l| l.nar_size).max().unwrap_or(0);
    let n = graph.paths.len() as f64;
    let (mut push, mut engine) = (0f64, 0f64);
    // Leaves: paths referencing nothing else, the "one small leaf package" of the benchmark.
    let (mut lpush, mut lengine, mut leaves) = (0f64, 0f64, 0f64);
    let (mut rpush, mut rengine, mut good) = (0f64, 0f64, 0);
    for path in &graph.paths {
        let (c, a, b) = change_cost(graph, p, &path.path);
        push += a as f64;
        engine += b as f64;
        if path.references.iter().all(|r| *r == path.path) {
            lpush += a as f64;
            lengine += b as f64;
            leaves += 1.0;
            rpush += a as f64 / c as f64;
            rengine += b as f64 / c as f64;
            if a <= 2 * c {
                good += 1;
            }
        }
    }
    println!(
        "{name:<11} {:>6}  {:>11.1}  {:>8.1}  {:>10.1}  {:>13.1}  {:>15.1}  {:>15.1}  {:>17.1}  {good}/{leaves}",
        p.layers.len() + 1,
        mib(largest as f64),
        mib(push / n),
        mib(engine / n),
        mib(lpush / leaves),
        mib(lengine / leaves),
        rpush / leaves,
        rengine / leaves
    );
}
