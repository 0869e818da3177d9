//! Measures how much a layer plan moves when the closure is edited: a package added or removed.
//! An edit gives new hashes to the paths that reference what changed (as a rebuild would), so the
//! comparison separates what any plan must re-send (layers holding new or changed paths) from what
//! the plan's regrouping adds. Used by the `layer_plans` example and the plan's stability tests.

use std::collections::HashSet;

use super::follow::{plan_following, LayerRecord};
use super::plan::{plan_cochange, LayerPlan};
use crate::nixbuild::{ClosureGraph, StorePathInfo};

/// What re-planning after an edit costs, comparing the plan before with the plan after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replan {
    /// Bytes of the layers after the edit whose exact path set was no layer before: what a registry
    /// receives.
    pub pushed: u64,
    /// Bytes of the layers after the edit whose path set, by name (hashes ignored), was no layer
    /// before: the plan's own regrouping, on top of content that changed.
    pub regrouped: u64,
    /// Layers after the edit that were regrouped (by name).
    pub regrouped_layers: usize,
    /// Bytes of the layers after the edit that hold a new path: re-sent even by a plan that does not
    /// move (the layers of the new path and of its referrers).
    pub floor: u64,
    /// Bottom layers identical before and after: what a Docker engine keeps.
    pub kept_layers: usize,
    /// Bytes of the layers above those: what a Docker engine receives (a layer's identity
    /// includes every layer below it).
    pub engine: u64,
    /// Store layers after the edit.
    pub layers: usize,
}

/// Compares the plans of a closure before and after an edit.
pub fn replan(before: &LayerPlan, after: &LayerPlan, old_graph: &ClosureGraph) -> Replan {
    let old_paths: HashSet<&str> = old_graph.paths.iter().map(|p| p.path.as_str()).collect();
    let exact: HashSet<&Vec<String>> = before.layers.iter().map(|l| &l.paths).collect();
    let named: HashSet<Vec<&str>> = before.layers.iter().map(|l| by_name(&l.paths)).collect();
    let mut r = Replan {
        layers: after.layers.len(),
        ..Replan::default()
    };
    for l in &after.layers {
        if !exact.contains(&l.paths) {
            r.pushed += l.nar_size;
        }
        if !named.contains(&by_name(&l.paths)) {
            r.regrouped += l.nar_size;
            r.regrouped_layers += 1;
        }
        if l.paths.iter().any(|p| !old_paths.contains(p.as_str())) {
            r.floor += l.nar_size;
        }
    }
    r.kept_layers = before
        .layers
        .iter()
        .zip(&after.layers)
        .take_while(|(a, b)| a.paths == b.paths)
        .count();
    r.engine = after.layers[r.kept_layers..]
        .iter()
        .map(|l| l.nar_size)
        .sum();
    r
}

fn by_name(paths: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = paths.iter().map(|p| name(p)).collect();
    v.sort_unstable();
    v
}

/// The part of a store path after its hash.
fn name(path: &str) -> &str {
    let base = path.rsplit_once('/').map_or(path, |(_, b)| b);
    base.split_once('-').map_or(base, |(_, n)| n)
}

/// `graph` plus a new path `name` of `size` bytes that references `reference` and is referenced
/// by every root, the roots getting new hashes. Returns the new graph and its new bytes.
pub fn with_added(
    graph: &ClosureGraph,
    name: &str,
    size: u64,
    reference: &str,
) -> (ClosureGraph, u64) {
    let added = format!("/nix/store/{}-{name}", "0".repeat(32));
    let mut paths = graph.paths.clone();
    for p in &mut paths {
        if graph.roots.contains(&p.path) {
            p.references.push(added.clone());
        }
    }
    paths.push(StorePathInfo {
        path: added.clone(),
        nar_size: size,
        nar_hash: String::new(),
        closure_size: None,
        references: vec![added.clone(), reference.to_string()],
    });
    rehashed(graph, paths, &[added])
}

/// `graph` without `path` (no path may be left referencing it; its referrers lose the reference and
/// get new hashes, with theirs). Paths only it kept in the closure go too.
pub fn without(graph: &ClosureGraph, path: &str) -> (ClosureGraph, u64) {
    let mut paths: Vec<StorePathInfo> = graph
        .paths
        .iter()
        .filter(|p| p.path != path)
        .cloned()
        .collect();
    let mut referrers = Vec::new();
    for p in &mut paths {
        if p.references.iter().any(|r| r == path) {
            p.references.retain(|r| r != path);
            referrers.push(p.path.clone());
        }
    }
    // Keep what the roots still reach.
    let mut reach: HashSet<String> = HashSet::new();
    let mut todo: Vec<String> = graph.roots.clone();
    while let Some(p) = todo.pop() {
        if reach.insert(p.clone()) {
            if let Some(info) = paths.iter().find(|i| i.path == p) {
                todo.extend(info.references.iter().cloned());
            }
        }
    }
    paths.retain(|p| reach.contains(&p.path));
    rehashed(graph, paths, &referrers)
}

/// Gives `changed` and every path referencing them new hashes; returns the graph and the bytes of
/// the paths that are new (not in `old`).
pub(crate) fn rehashed(
    old: &ClosureGraph,
    mut paths: Vec<StorePathInfo>,
    changed: &[String],
) -> (ClosureGraph, u64) {
    let mut hit: HashSet<String> = changed.iter().cloned().collect();
    loop {
        let more: Vec<String> = paths
            .iter()
            .filter(|p| !hit.contains(&p.path))
            .filter(|p| p.references.iter().any(|r| hit.contains(r)))
            .map(|p| p.path.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        hit.extend(more);
    }
    let rename = |p: &str| -> String {
        if !hit.contains(p) {
            return p.to_string();
        }
        // Same length, another hash.
        let (dir, base) = p.rsplit_once('/').unwrap_or(("", p));
        let (hash, name) = base.split_once('-').unwrap_or((base, ""));
        let new: String = hash
            .chars()
            .map(|c| if c == 'z' { '0' } else { 'z' })
            .collect();
        format!("{dir}/{new}-{name}")
    };
    for p in &mut paths {
        p.path = rename(&p.path);
        p.references = p.references.iter().map(|r| rename(r)).collect();
    }
    let old_paths: HashSet<&str> = old.paths.iter().map(|p| p.path.as_str()).collect();
    let new_bytes = paths
        .iter()
        .filter(|p| !old_paths.contains(p.path.as_str()))
        .map(|p| p.nar_size)
        .sum();
    let json = serde_json::to_string(&paths).expect("serializable");
    let g = ClosureGraph::from_export_json(&json).expect("valid graph");
    (g, new_bytes)
}

/// One simulated edit of a closure.
#[derive(Debug, Clone)]
// The unit tests count edits; the `layer_plans` example (feature `research`) reads them.
#[cfg_attr(not(feature = "research"), allow(dead_code))]
pub struct Edit {
    pub what: String,
    pub graph: ClosureGraph,
    pub new_bytes: u64,
}

/// The sizes an added package cycles through (0.1 to 5 MB).
const ADDED_SIZES: [u64; 5] = [100_000, 500_000, 1_000_000, 2_000_000, 5_000_000];

/// `graph`'s paths but its roots, ordered by name (hash left out): what edits pick from.
fn paths_by_name(graph: &ClosureGraph) -> Vec<&str> {
    let mut names: Vec<&str> = graph
        .paths
        .iter()
        .map(|p| p.path.as_str())
        .filter(|p| !graph.roots.iter().any(|r| r == p))
        .collect();
    names.sort_unstable_by_key(|p| name(p));
    names
}

/// Deterministic edits of `graph`: `adds` additions of a new path (0.1 to 5 MB, sizes cycling)
/// referencing every k-th existing path (by name) and referenced by the roots; and `removes`
/// removals of every k-th leaf (a path referencing nothing else; its referrers get new hashes).
pub fn sample_edits(graph: &ClosureGraph, adds: usize, removes: usize) -> Vec<Edit> {
    let names = paths_by_name(graph);
    let sizes = ADDED_SIZES;
    let mut edits = Vec::new();
    for k in 0..adds.min(names.len()) {
        let reference = names[k * names.len() / adds.min(names.len())];
        let size = sizes[k % sizes.len()];
        let (g, new_bytes) = with_added(graph, &format!("added-{k}"), size, reference);
        edits.push(Edit {
            what: format!("add {} B -> {}", size, name(reference)),
            graph: g,
            new_bytes,
        });
    }
    let leaves: Vec<&str> = names
        .iter()
        .copied()
        .filter(|p| {
            graph
                .paths
                .iter()
                .find(|i| i.path == *p)
                .is_some_and(|i| i.references.iter().all(|r| r == p))
        })
        .collect();
    for k in 0..removes.min(leaves.len()) {
        let leaf = leaves[k * leaves.len() / removes.min(leaves.len())];
        let (g, new_bytes) = without(graph, leaf);
        edits.push(Edit {
            what: format!("remove {}", name(leaf)),
            graph: g,
            new_bytes,
        });
    }
    edits
}

/// Re-planning after an edit with today's plan (from scratch, [`plan_cochange`]) and with the plan
/// that follows the image made before the edit ([`plan_following`] of its [`LayerRecord`]).
#[derive(Debug, Clone, Copy)]
pub struct Compared {
    pub today: Replan,
    pub follow: Replan,
    /// Bytes of the layers of the image before the edit that hold a root of the closure (the
    /// environment, which every edit changes): the allowance over 2x the new bytes.
    pub env_layer: u64,
}

/// Bytes of the layers of `plan` holding one of `graph`'s roots.
fn env_layer(plan: &LayerPlan, graph: &ClosureGraph) -> u64 {
    plan.layers
        .iter()
        .filter(|l| l.paths.iter().any(|p| graph.roots.contains(p)))
        .map(|l| l.nar_size)
        .sum()
}

/// [`Compared`] for `edit` of `graph`, whose image was planned from scratch.
pub fn compare_following(graph: &ClosureGraph, edited: &ClosureGraph, max: usize) -> Compared {
    let before = plan_cochange(graph, max).expect("a valid graph");
    let record = LayerRecord::of(&before, 1);
    let today = plan_cochange(edited, max).expect("a valid graph");
    let follow = plan_following(edited, max, &record).expect("a valid graph");
    Compared {
        today: replan(&before, &today, graph),
        follow: replan(&before, &follow, graph),
        env_layer: env_layer(&before, graph),
    }
}

/// One step of [`sequence`]: what it was, the new paths' bytes, and what each plan re-sent.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "research"), allow(dead_code))]
pub struct Step {
    pub what: String,
    pub new_bytes: u64,
    pub compared: Compared,
}

/// `adds` successive additions (as [`sample_edits`]', each on the image before it), then the
/// removal of what they added, oldest first: each plan follows its own previous image.
pub fn sequence(graph: &ClosureGraph, max: usize, adds: usize) -> Vec<Step> {
    let names = paths_by_name(graph);
    let sizes = ADDED_SIZES;
    let mut g = graph.clone();
    let mut today = plan_cochange(&g, max).expect("a valid graph");
    let mut follow = today.clone();
    // The allowance stays the first image's environment layer: what it carries later is cost.
    let env = env_layer(&today, &g);
    let mut generation = 1;
    let mut steps = Vec::new();
    let mut step = |what: String, next: ClosureGraph, new_bytes: u64, g: &mut ClosureGraph| {
        let t = plan_cochange(&next, max).expect("a valid graph");
        let f = plan_following(&next, max, &LayerRecord::of(&follow, generation))
            .expect("a valid graph");
        generation += 1;
        steps.push(Step {
            what,
            new_bytes,
            compared: Compared {
                today: replan(&today, &t, g),
                follow: replan(&follow, &f, g),
                env_layer: env,
            },
        });
        (today, follow) = (t, f);
        *g = next;
    };
    for k in 0..adds {
        let reference = names[(k * 37) % names.len()];
        let size = sizes[k % sizes.len()];
        let (next, new_bytes) = with_added(&g, &format!("seq-{k}"), size, reference);
        step(format!("add seq-{k}"), next, new_bytes, &mut g);
    }
    for k in 0..adds {
        let path = g
            .paths
            .iter()
            .find(|p| name(&p.path) == format!("seq-{k}"))
            .expect("added before")
            .path
            .clone();
        let (next, new_bytes) = without(&g, &path);
        step(format!("remove seq-{k}"), next, new_bytes, &mut g);
    }
    steps
}
