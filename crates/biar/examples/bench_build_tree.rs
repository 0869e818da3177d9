//! The build tree's cost on a build the size of the real 334-path graph
//! (`tests/data/closure-ankisyncd.json`): every path a derivation, planned, built with 300 log
//! lines each and finished, as Nix's `internal-json` would say it. Times the parser alone (the
//! baseline: what every build already pays), the parser with the `Tally`, and with the
//! `BuildTree` too; then one frame's worth of tree rows (`rows_within`) and the ETA. Run by
//! `scripts/bench-build-tree.sh` in release; prints figures and ratios.

use std::time::{Duration, Instant};

use biar::nixbuild::internal_json::LogParser;
use biar::nixbuild::ClosureGraph;
use biar::progress::{BuildTree, Tally};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// The stderr of a build of `drvs`, one after another, `lines` log lines each.
fn recorded(drvs: &[String], lines: usize) -> Vec<String> {
    let mut out = vec![format!(
        r#"@nix {{"action":"msg","level":3,"msg":"these {} derivations will be built:"}}"#,
        drvs.len()
    )];
    for d in drvs {
        out.push(format!(
            r#"@nix {{"action":"msg","level":3,"msg":"  {d}"}}"#
        ));
    }
    out.push(r#"@nix {"action":"start","id":1,"level":0,"text":"","type":104}"#.into());
    for (i, d) in drvs.iter().enumerate() {
        let id = 100 + i;
        out.push(format!(
            r#"@nix {{"action":"start","fields":["{d}","",1,1],"id":{id},"level":3,"text":"building '{d}'","type":105}}"#
        ));
        out.push(format!(
            r#"@nix {{"action":"result","fields":["buildPhase"],"id":{id},"type":104}}"#
        ));
        for l in 0..lines {
            out.push(format!(
                r#"@nix {{"action":"result","fields":["\u001b[32mcc\u001b[0m -O2 -c src/file{l}.c -o build/file{l}.o"],"id":{id},"type":101}}"#
            ));
        }
        out.push(format!(
            r#"@nix {{"action":"result","fields":[{},{},0,0],"id":1,"type":105}}"#,
            i + 1,
            drvs.len()
        ));
        out.push(format!(r#"@nix {{"action":"stop","id":{id}}}"#));
    }
    out.push(r#"@nix {"action":"stop","id":1}"#.into());
    out
}

fn main() {
    let path = format!(
        "{}/tests/data/closure-ankisyncd.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = std::fs::read_to_string(path).expect("the recorded graph");
    let graph = ClosureGraph::from_export_json(&json).unwrap();
    let drvs: Vec<String> = graph
        .paths
        .iter()
        .map(|p| format!("{}.drv", p.path))
        .collect();
    let lines = recorded(&drvs, 300);
    let runs = 9;
    println!(
        "build of {} derivations, {} stderr lines ({:.1} MB)",
        drvs.len(),
        lines.len(),
        lines.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1e6
    );

    let events: Vec<_> = {
        let mut p = LogParser::new();
        lines.iter().flat_map(|l| p.feed(l)).collect()
    };
    let parse = time(runs, || {
        let mut p = LogParser::new();
        for l in &lines {
            std::hint::black_box(p.feed(l));
        }
    });
    let tally = time(runs, || {
        let mut t = Tally::default();
        for e in &events {
            t.on(e);
        }
        std::hint::black_box(t);
    });
    let tree = time(runs, || {
        let mut t = BuildTree::new();
        for (i, e) in events.iter().enumerate() {
            t.on(e, Duration::from_millis(i as u64));
        }
        std::hint::black_box(t);
    });
    println!(
        "events {}: parse {:.1} ms (baseline), tally {:.1} ms ({:.2}x of parse), tree {:.1} ms ({:.2}x of parse), {:.0} ns an event",
        events.len(),
        parse.as_secs_f64() * 1e3,
        tally.as_secs_f64() * 1e3,
        tally.as_secs_f64() / parse.as_secs_f64(),
        tree.as_secs_f64() * 1e3,
        tree.as_secs_f64() / parse.as_secs_f64(),
        tree.as_secs_nanos_f64() / events.len() as f64,
    );

    // One frame: the rows a 40-row tree pane shows, their lines, and the ETA, mid-build.
    let mut t = BuildTree::new();
    for (i, e) in events.iter().take(events.len() / 2).enumerate() {
        t.on(e, Duration::from_millis(i as u64));
    }
    let frame = time(101, || {
        let (rows, _) = t.rows_within(40);
        for r in &rows {
            std::hint::black_box(t.line(r.node, r.depth));
        }
        std::hint::black_box(t.eta());
    });
    println!(
        "frame (40 of {} rows, ETA): {:.3} ms, {:.1}% of a 33 ms frame",
        t.len() + 1,
        frame.as_secs_f64() * 1e3,
        frame.as_secs_f64() / 0.033 * 100.0
    );
}

trait Nanos {
    fn as_secs_nanos_f64(&self) -> f64;
}

impl Nanos for Duration {
    fn as_secs_nanos_f64(&self) -> f64 {
        self.as_secs_f64() * 1e9
    }
}
