//! Compares layer plans on a recorded closure: popularity (nixpkgs) vs dominator groups (Nixery).
//! For every store path, "change it" (it and every path referencing it get new hashes) and count
//! the bytes a push must send (changed layers) and a Docker engine must receive (every layer from
//! the lowest changed one up). Then edits the closure (40 additions of a 0.1-5 MB path referencing
//! every k-th path and referenced by the root; 20 removals of a leaf) and counts what re-planning
//! re-sends (see `biar::image::research`). Usage:
//! `cargo run -p biar --features research --example layer_plans -- CLOSURE.json [MAX]`.

use biar::image::research::{
    change_cost, compare_following, plan_with, replan, sample_edits, sequence, Edit, LayerPlan,
    Replan, Strategy,
};
use biar::nixbuild::ClosureGraph;

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
    let strategies = [
        ("popularity", Strategy::Popularity),
        ("pop-sized", Strategy::PopularitySized),
        ("co-change", Strategy::CoChange),
        ("dominator", Strategy::Dominator),
    ];
    for (name, s) in strategies {
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
    edits(&graph, max, &strategies, &mib);
    following(&graph, max, &mib);
}

/// Today's plan (from scratch) against the plan following the previous image, after each single
/// edit of the image planned from scratch, then along a sequence of edits.
fn following(graph: &ClosureGraph, max: usize, mib: &dyn Fn(f64) -> f64) {
    println!();
    println!("following the previous image (registry = layers whose exact paths are new; engine = every layer from the lowest changed one up; ratio = sent / new paths' bytes; ok = sent <= 2 x new + the environment's layer before, env MiB)");
    println!("edits              plan      new MiB  registry MiB  engine MiB  registry ratio (mean, of sums)  engine ratio (mean, of sums)  registry ok  engine ok  layers  env MiB");
    let all = sample_edits(graph, 40, 20);
    let adds: Vec<&Edit> = all.iter().filter(|e| e.what.starts_with("add")).collect();
    let removes: Vec<&Edit> = all
        .iter()
        .filter(|e| e.what.starts_with("remove"))
        .collect();
    let rows = |label: &str, list: &[(u64, u64, Replan, Replan)]| {
        for (plan, pick) in [("today", 0), ("follow", 1)] {
            let n = list.len() as f64;
            let (mut new, mut reg, mut eng, mut rr, mut er, mut rok, mut eok, mut layers) =
                (0f64, 0f64, 0f64, 0f64, 0f64, 0, 0, 0f64);
            let mut envs = 0f64;
            for (bytes, env, today, follow) in list {
                let r = if pick == 0 { today } else { follow };
                let b = (*bytes).max(1) as f64;
                new += *bytes as f64;
                reg += r.pushed as f64;
                eng += r.engine as f64;
                rr += r.pushed as f64 / b;
                er += r.engine as f64 / b;
                rok += usize::from(r.pushed <= 2 * bytes + env);
                eok += usize::from(r.engine <= 2 * bytes + env);
                layers += r.layers as f64;
                envs += *env as f64;
            }
            println!(
                "{label:<18} {plan:<8} {:>8.2}  {:>12.1}  {:>10.1}  {:>14.1}, {:>14.1}  {:>12.1}, {:>14.1}  {rok:>8}/{n}  {eok:>6}/{n}  {:>6.1}  {:>7.2}",
                mib(new / n), mib(reg / n), mib(eng / n), rr / n, reg / new, er / n, eng / new, layers / n + 1.0, mib(envs / n)
            );
        }
    };
    let single = |list: &[&Edit]| -> Vec<(u64, u64, Replan, Replan)> {
        list.iter()
            .map(|e| {
                let c = compare_following(graph, &e.graph, max);
                (e.new_bytes, c.env_layer, c.today, c.follow)
            })
            .collect()
    };
    rows("add (single)", &single(&adds));
    rows("remove leaf", &single(&removes));
    let steps = sequence(graph, max, 20);
    let (added, removed): (Vec<_>, Vec<_>) = steps
        .iter()
        .map(|s| {
            let c = &s.compared;
            (
                s.what.starts_with("add"),
                (s.new_bytes, c.env_layer, c.today, c.follow),
            )
        })
        .partition(|(add, _)| *add);
    let strip = |v: Vec<(bool, (u64, u64, Replan, Replan))>| {
        v.into_iter().map(|(_, x)| x).collect::<Vec<_>>()
    };
    rows("add (20 in a row)", &strip(added));
    rows("remove them", &strip(removed));
}

/// Re-planning after each edit: means over the edits of each kind.
fn edits(
    graph: &ClosureGraph,
    max: usize,
    strategies: &[(&str, Strategy)],
    mib: &dyn Fn(f64) -> f64,
) {
    let all = sample_edits(graph, 40, 20);
    println!();
    println!("after an edit (means; new = bytes of new paths, floor = layers holding them, pushed = layers not sent before, regrouped = layers whose paths by name are new; ok = pushed <= 2 new + floor)");
    println!("plan        edit    new MiB  floor MiB  pushed MiB  regrouped MiB  regrouped layers  worst pushed-floor MiB  kept layers  ok");
    for (name, s) in strategies {
        let before = plan_with(graph, max, *s).unwrap();
        for (kind, list) in [
            (
                "add",
                all.iter()
                    .filter(|e| e.what.starts_with("add"))
                    .collect::<Vec<&Edit>>(),
            ),
            (
                "remove",
                all.iter()
                    .filter(|e| e.what.starts_with("remove"))
                    .collect(),
            ),
        ] {
            let n = list.len() as f64;
            let (mut new, mut floor, mut pushed, mut regrouped, mut layers, mut kept) =
                (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
            let (mut worst, mut ok) = (0u64, 0);
            for e in &list {
                let after = plan_with(&e.graph, max, *s).unwrap();
                let r = replan(&before, &after, graph);
                new += e.new_bytes as f64;
                floor += r.floor as f64;
                pushed += r.pushed as f64;
                regrouped += r.regrouped as f64;
                layers += r.regrouped_layers as f64;
                kept += r.kept_layers as f64;
                worst = worst.max(r.pushed - r.floor.min(r.pushed));
                if r.pushed <= 2 * e.new_bytes + r.floor {
                    ok += 1;
                }
            }
            println!(
                "{name:<11} {kind:<6} {:>8.2}  {:>9.1}  {:>10.1}  {:>13.1}  {:>16.1}  {:>22.1}  {:>11.1}  {ok}/{n}",
                mib(new / n), mib(floor / n), mib(pushed / n), mib(regrouped / n), layers / n, mib(worst as f64), kept / n
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
