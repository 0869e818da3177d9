//! Where each derivation sits in the build tree, from the derivation graph: under the nearest
//! planned derivation that needs it. Nix's activity parents only nest activities (builds under
//! "builds"), and the offline builder's Nix 2.8 writes none, so the graph comes from one
//! `nix-store --query --graph <env.drv>` (its dot output, the same from Nix 2.8 to today), run
//! beside the build; its answer re-parents nodes already waiting.
//!
//! The output is the builder's: only edges between well-formed store names are read, at most
//! [`MAX_GRAPH_BYTES`] of it, and the search above each node is bounded ([`MAX_VISITS`]).

use std::collections::{HashMap, HashSet};

use crate::progress::BuildEvent;

use super::internal_json::drv_name;

/// The most of `nix-store --query --graph` read (the 334-derivation bench closure's is ~0.2 MiB).
pub const MAX_GRAPH_BYTES: usize = 32 << 20;
/// Nodes looked at, over all searches, before the rest stay where they are.
const MAX_VISITS: usize = 4_000_000;
/// Nix's store names are at most 211 bytes.
const MAX_NAME: usize = 211;
const STORE: &str = "/nix/store/";

/// The derivation graph: for each store path, the paths that refer to it (need it).
#[derive(Debug, Default, Clone)]
pub struct DrvGraph {
    referrers: HashMap<String, Vec<String>>,
    /// The derivations by name (`hello-2.12.1`), to find what a fetched output came from.
    by_name: HashMap<String, Vec<String>>,
}

/// The argv of the query for `env_drv`.
pub fn query_argv(env_drv: &str) -> [&str; 4] {
    ["nix-store", "--query", "--graph", env_drv]
}

/// A store base name Nix could have written (`<32 chars>-<name>`), else `None`.
fn store_name(id: &str) -> Option<&str> {
    let ok = id.len() <= MAX_NAME
        && id.len() > 33
        && id.as_bytes()[32] == b'-'
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b));
    ok.then_some(id)
}

/// The first `"quoted"` id at the start of `s` and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('"')?;
    let end = s.find('"')?;
    Some((&s[..end], &s[end + 1..]))
}

impl DrvGraph {
    /// Reads `nix-store --query --graph`'s dot: `"dep" -> "user" [color = …];` lines are edges
    /// (`user` needs `dep`); node lines and anything malformed are skipped.
    pub fn from_dot(text: &str) -> DrvGraph {
        let mut graph = DrvGraph::default();
        let mut seen = HashSet::new();
        for line in text.lines() {
            let Some((from, rest)) = quoted(line.trim_start()) else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix("->") else {
                continue;
            };
            let Some((to, _)) = quoted(rest.trim_start()) else {
                continue;
            };
            let (Some(from), Some(to)) = (store_name(from), store_name(to)) else {
                continue;
            };
            if from == to || !seen.insert((from.to_string(), to.to_string())) {
                continue;
            }
            for id in [from, to] {
                if let Some(base) = id.strip_suffix(".drv") {
                    let path = format!("{STORE}{id}");
                    let list = graph.by_name.entry(drv_name(base)).or_default();
                    if !list.contains(&path) {
                        list.push(path);
                    }
                }
            }
            graph
                .referrers
                .entry(format!("{STORE}{from}"))
                .or_default()
                .push(format!("{STORE}{to}"));
        }
        for list in graph.by_name.values_mut() {
            list.sort();
        }
        graph
    }

    /// Where each planned derivation (`drvs`) and fetch (`fetches`, output paths) goes: an
    /// [`BuildEvent::Under`] the nearest planned derivation that needs it, the first by name
    /// (then path) when several are as near. Nothing for those whose nearest is `env_drv` (the
    /// environment is the tree's root) or that nothing planned needs. A fetch is placed as its
    /// derivation would be (found by its name, or its name less an output suffix like `-dev`).
    pub fn placements(
        &self,
        env_drv: &str,
        drvs: &[String],
        fetches: &[String],
    ) -> Vec<BuildEvent> {
        let planned: HashSet<&str> = drvs.iter().map(String::as_str).collect();
        let mut budget = MAX_VISITS;
        let mut out = Vec::new();
        let mut place = |path: &str, from: &str, budget: &mut usize| {
            if let Some(parent) = self.nearest(from, &planned, budget) {
                if parent != env_drv && parent != path {
                    out.push(BuildEvent::Under {
                        path: path.to_string(),
                        parent: parent.to_string(),
                    });
                }
            }
        };
        for drv in drvs {
            place(drv, drv, &mut budget);
        }
        for fetch in fetches {
            if let Some(drv) = self.deriver_of(fetch) {
                place(fetch, drv, &mut budget);
            }
        }
        out
    }

    /// The derivation a fetched output most likely came from, by name.
    fn deriver_of(&self, output: &str) -> Option<&str> {
        let name = drv_name(output);
        let first = |n: &str| self.by_name.get(n).and_then(|l| l.first());
        first(&name)
            .or_else(|| first(name.rsplit_once('-')?.0))
            .map(String::as_str)
    }

    /// The nearest planned path among those that need `from` (breadth first), first by name.
    fn nearest<'a>(
        &'a self,
        from: &str,
        planned: &HashSet<&str>,
        budget: &mut usize,
    ) -> Option<&'a str> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut level: Vec<&str> = self
            .referrers
            .get(from)?
            .iter()
            .map(String::as_str)
            .collect();
        while !level.is_empty() {
            let mut hits: Vec<&str> = level
                .iter()
                .copied()
                .filter(|p| planned.contains(p))
                .collect();
            if !hits.is_empty() {
                hits.sort_by_key(|p| (drv_name(p), *p));
                return hits.first().copied();
            }
            let mut next = Vec::new();
            for p in level {
                if !seen.insert(p) {
                    continue;
                }
                *budget = budget.checked_sub(1)?;
                if let Some(up) = self.referrers.get(p) {
                    next.extend(up.iter().map(String::as_str).filter(|u| !seen.contains(u)));
                }
            }
            next.sort_unstable();
            next.dedup();
            level = next;
        }
        None
    }
}

/// Watches the events of one `nix-build` for its plan: the derivations and fetches Nix listed,
/// and the environment's derivation among them.
#[derive(Debug, Default)]
pub struct PlanWatch {
    env_name: String,
    env_drv: Option<String>,
    pub drvs: Vec<String>,
    pub fetches: Vec<String>,
    asked: bool,
}

impl PlanWatch {
    /// Watches for the environment derivation named `env_name` (`biar-env`).
    pub fn new(env_name: &str) -> PlanWatch {
        PlanWatch {
            env_name: env_name.to_string(),
            ..PlanWatch::default()
        }
    }

    /// Sees each event in order; the environment's derivation once, when the plan is complete
    /// (Nix printed its lists and moved on: the first event after them that is not a message).
    pub fn see(&mut self, event: &BuildEvent) -> Option<String> {
        if self.asked {
            return None;
        }
        if let BuildEvent::Planned { path, fetch, .. } = event {
            if *fetch {
                self.fetches.push(path.clone());
            } else {
                if self.env_drv.is_none()
                    && path.ends_with(".drv")
                    && drv_name(path) == self.env_name
                {
                    self.env_drv = Some(path.clone());
                }
                self.drvs.push(path.clone());
            }
            return None;
        }
        // Nix's lists arrive as messages too (each line one), and a build list may be followed
        // by a fetch list: only what Nix does next ends the plan.
        if matches!(event, BuildEvent::Message { .. } | BuildEvent::Log { .. }) {
            return None;
        }
        let env = self.env_drv.clone()?;
        self.asked = true;
        Some(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from the offline builder (Nix 2.8.0): the environment of `hello` and a sleeper.
    const NIX_2_8: &str = include_str!("../../../../tests/fixtures/nix/drv-graph-nix-2.8.dot");

    fn p(base: &str) -> String {
        format!("{STORE}{base}")
    }

    const ENV: &str = "k9jh0ni7hnxwbwck44h55p4lp1rsik10-biar-env.drv";
    const HELLO: &str = "mpjzy432ga90f085ll5r9bz382xdv3jf-hello-2.12.1.drv";
    const SHELL: &str = "6caspmiizbdp5zsmai429awmxlk8q04m-shell-1.0.drv";
    const BUSYBOX: &str = "4wg2vbvgmfn4z1vlpnysaszjva5ss6d7-busybox-1.35.0.drv";
    const SLEEPER: &str = "z41z1rny4f986xcjjy0ia3a3panbvz8b-sleeper-0s.drv";

    fn under(path: &str, parent: &str) -> BuildEvent {
        BuildEvent::Under {
            path: p(path),
            parent: p(parent),
        }
    }

    #[test]
    fn the_plan_is_complete_at_the_first_other_event() {
        let planned = |base: &str, fetch| BuildEvent::Planned {
            path: p(base),
            name: drv_name(base),
            fetch,
            estimate: None,
        };
        let message = BuildEvent::Message {
            level: 3,
            text: "these paths will be fetched".into(),
        };
        let mut w = PlanWatch::new("biar-env");
        assert_eq!(w.see(&planned(ENV, false)), None);
        assert_eq!(w.see(&message), None);
        assert_eq!(w.see(&planned(HELLO, false)), None);
        assert_eq!(w.see(&message), None);
        assert_eq!(
            w.see(&planned(
                "qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0",
                true
            )),
            None
        );
        let started = BuildEvent::DerivationStarted {
            drv: p(HELLO),
            name: "hello-2.12.1".into(),
        };
        assert_eq!(w.see(&started), Some(p(ENV)));
        assert_eq!(w.drvs, [p(ENV), p(HELLO)]);
        assert_eq!(w.fetches.len(), 1);
        // Once only; and never without the environment in the plan.
        assert_eq!(w.see(&started), None);
        let mut w = PlanWatch::new("biar-env");
        w.see(&planned(HELLO, false));
        assert_eq!(w.see(&started), None);
    }

    #[test]
    fn nix_2_8_graph_output_is_read_as_edges() {
        let g = DrvGraph::from_dot(NIX_2_8);
        assert_eq!(g.referrers[&p(SHELL)], [p(HELLO)]);
        assert_eq!(g.referrers[&p(BUSYBOX)], [p(SHELL)]);
        assert_eq!(g.referrers[&p(HELLO)], [p(ENV)]);
        // A source (no .drv) is needed by every derivation but is no derivation by name.
        let src = p("r9zgkzc5zab416qddj283jlsvp18ydzr-busybox-static");
        assert_eq!(g.referrers[&src].len(), 5);
        assert!(g.by_name.contains_key("hello-2.12.1"));
        assert!(!g.by_name.contains_key("busybox-static"));
    }

    #[test]
    fn each_planned_derivation_goes_under_the_nearest_planned_one_needing_it() {
        let g = DrvGraph::from_dot(NIX_2_8);
        let all: Vec<String> = [ENV, HELLO, SHELL, BUSYBOX, SLEEPER].map(p).to_vec();
        assert_eq!(
            g.placements(&p(ENV), &all, &[]),
            [under(SHELL, HELLO), under(BUSYBOX, SHELL)]
        );
        // shell already built: busybox goes under the nearest planned one above it, hello.
        let some: Vec<String> = [ENV, HELLO, BUSYBOX].map(p).to_vec();
        assert_eq!(g.placements(&p(ENV), &some, &[]), [under(BUSYBOX, HELLO)]);
    }

    #[test]
    fn a_fetched_output_goes_where_its_derivation_would() {
        let g = DrvGraph::from_dot(NIX_2_8);
        let drvs: Vec<String> = [ENV, HELLO].map(p).to_vec();
        let fetches = [
            p("qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0"),
            p("smc6m7p2qzm4171l0hc99prqpck5yj2i-shell-1.0-dev"),
            p("00000000000000000000000000000000-unknown-1.0"),
        ];
        assert_eq!(
            g.placements(&p(ENV), &drvs, &fetches),
            [
                BuildEvent::Under {
                    path: fetches[0].clone(),
                    parent: p(HELLO)
                },
                BuildEvent::Under {
                    path: fetches[1].clone(),
                    parent: p(HELLO)
                },
            ]
        );
    }

    #[test]
    fn of_several_needing_it_the_first_by_name_is_the_parent() {
        let dot = format!(
            "\"{a}\" -> \"{z}\" [color = \"red\"];\n\"{a}\" -> \"{b}\" [color = \"red\"];\n",
            a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-lib-1.0.drv",
            z = "00000000000000000000000000000000-zeta-1.0.drv",
            b = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-beta-1.0.drv",
        );
        let g = DrvGraph::from_dot(&dot);
        let drvs: Vec<String> = [
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-lib-1.0.drv",
            "00000000000000000000000000000000-zeta-1.0.drv",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-beta-1.0.drv",
        ]
        .map(p)
        .to_vec();
        assert_eq!(
            g.placements("", &drvs, &[]),
            [under(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-lib-1.0.drv",
                "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-beta-1.0.drv"
            )]
        );
    }

    #[test]
    fn hostile_or_malformed_lines_are_skipped() {
        let good = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-lib-1.0.drv";
        let long = format!("{}-{}", "c".repeat(32), "x".repeat(300));
        let dot = format!(
            "digraph G {{\n\
             \"{good}\" -> \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-x\x1b]52;c;AAAA\x07.drv\";\n\
             \"{good}\" -> \"../../etc/passwd\";\n\
             \"{good}\" -> \"{long}\";\n\
             \"{good}\" -> \n\
             \"{good}\" \"{good}\";\n\
             \"{good}\" -> \"{good}\";\n\
             \"unterminated\n\
             }}\n"
        );
        let g = DrvGraph::from_dot(&dot);
        assert!(g.referrers.is_empty(), "{g:?}");
        assert!(DrvGraph::from_dot("").referrers.is_empty());
    }

    #[test]
    fn the_bench_closure_nests_every_derivation_and_folds_into_a_deep_tree() {
        // Recorded from the builder: the graph of the 334-derivation bench closure's environment
        // (tests/fixtures/pkgs/closure-gen.nix), all of it planned.
        let dot = include_str!("../../../../tests/fixtures/nix/drv-graph-bench-closure.dot");
        let g = DrvGraph::from_dot(dot);
        let mut drvs: Vec<String> = g.by_name.values().flatten().cloned().collect();
        drvs.sort();
        assert_eq!(drvs.len(), 335);
        let env = drvs
            .iter()
            .find(|d| drv_name(d) == "biar-env")
            .unwrap()
            .clone();
        let placed = g.placements(&env, &drvs, &[]);
        // All but the environment and the one package it lists go under another derivation.
        assert_eq!(placed.len(), 333);
        assert_eq!(placed, g.placements(&env, &drvs, &[]), "deterministic");
        let mut tree = crate::progress::BuildTree::new();
        for d in &drvs {
            let event = BuildEvent::Planned {
                path: d.clone(),
                name: drv_name(d),
                fetch: false,
                estimate: None,
            };
            tree.on(&event, std::time::Duration::ZERO);
        }
        for e in &placed {
            tree.on(e, std::time::Duration::ZERO);
        }
        let rows = tree.rows();
        assert_eq!(rows.len(), 336);
        let deepest = rows.iter().map(|r| r.depth).max().unwrap();
        assert!(deepest > 5, "{deepest}");
        // Each node sits under one that needs it.
        for r in &rows[1..] {
            let node = tree.node(r.node);
            let parent = tree.node(node.parent.unwrap());
            if !parent.path.is_empty() {
                assert!(
                    g.referrers[&node.path].contains(&parent.path),
                    "{}",
                    node.name
                );
            }
        }
    }

    #[test]
    fn the_search_is_bounded() {
        // A long chain: each needs the next; only the top is planned.
        let name = |i: usize| format!("{i:032}-n{i}.drv");
        let dot: String = (0..2000)
            .map(|i| format!("\"{}\" -> \"{}\";\n", name(i), name(i + 1)))
            .collect();
        let g = DrvGraph::from_dot(&dot);
        let drvs = vec![p(&name(0)), p(&name(2000))];
        assert_eq!(g.placements("", &drvs, &[]), [under(&name(0), &name(2000))]);
        let mut budget = 10;
        assert_eq!(
            g.nearest(
                &p(&name(0)),
                &drvs.iter().map(String::as_str).collect(),
                &mut budget
            ),
            None
        );
    }
}
