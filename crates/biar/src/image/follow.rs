//! A layer plan that follows the previous image of the same name, so that adding a package sends
//! about the new paths' bytes and removing one re-sends the layers that held its paths.
//!
//! Every image records its store layers (label `biar.layers`, [`LayerRecord`]): per layer the
//! names of its store paths (the part after the hash, so a rebuild that gives paths new hashes
//! still matches) and a short key of its exact path set (so the next plan knows, without reading
//! anything, which layers it would send again). The next plan of the same image name:
//!
//! - keeps each recorded layer, in the recorded order, with the paths of the new closure whose
//!   names it recorded (a path with a new hash stays where its name was: its layer changes, as it
//!   must, and nothing else moves); layers left empty go;
//! - puts the paths no recorded layer names (what was added) in one new layer, just below the top
//!   layer when that holds the closure's root (the environment, which every edit changes), else on
//!   top: an Engine identifies a layer with everything below it, so new layers must go above the
//!   previous stack, and below the environment so that the next edit does not carry them again;
//! - while there are more layers than `maxLayers` allows, merges the two neighbours whose merge
//!   costs least: the bytes it sends now (to a registry: layers whose exact paths are new; to an
//!   Engine: every layer from the lowest changed one up) plus [`HORIZON`] times what it adds to an
//!   average later rebuild (each layer re-sent once per change in its closure, as the co-change
//!   plan weighs merges). Merging a new layer into the environment's is free now but makes every
//!   later edit re-send it; merging two small untouched layers costs their bytes once;
//! - re-plans from scratch ([`plan_cochange`]) when that costs less by the same measure (most
//!   paths new: another environment, not an edit of this one).
//!
//! A pure function of (closure, record): every tie is broken by position or name, never by
//! hash, so any machine that sees the same previous image plans the same layers.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::plan::{check_max_layers, closure_bitsets, index, plan_cochange, topological};
use super::plan::{LayerPlan, PlannedLayer};
use super::ImageError;
use crate::nixbuild::ClosureGraph;

/// The config label that records an image's store layers ([`LayerRecord`] as JSON).
pub const LABEL_LAYERS: &str = "biar.layers";

/// How many later rebuilds a merge's extra cost is weighed over, against the bytes it sends now.
/// Measured on the real 334-path closure (`layer_plans`, docs/image.md): up to 5, every single
/// addition sends at most 2x its bytes (plus the environment's layer); above, some merge two
/// untouched layers instead, and a run of additions carries less from one edit to the next.
pub const HORIZON: u128 = 5;

/// The store layers of an image as its config records them, bottom first; what the next plan of
/// the same image name follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// 1 for an image planned from scratch, the previous image's plus one for one that followed it:
    /// the newest image of a name is the one with the highest generation.
    pub generation: u64,
    pub layers: Vec<RecordedLayer>,
}

/// One recorded layer: serialized as `[key, name, name…]` to keep the label small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedLayer {
    /// [`layer_key`] of its exact store paths.
    pub key: String,
    /// Its store paths' names (after the hash), sorted.
    pub names: Vec<String>,
}

impl Serialize for RecordedLayer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let all: Vec<&str> = std::iter::once(self.key.as_str())
            .chain(self.names.iter().map(String::as_str))
            .collect();
        all.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecordedLayer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut all: Vec<String> = Vec::deserialize(d)?;
        if all.is_empty() {
            return Err(serde::de::Error::custom("a recorded layer needs its key"));
        }
        let key = all.remove(0);
        Ok(RecordedLayer { key, names: all })
    }
}

impl LayerRecord {
    /// The record of `plan`, the `generation`-th of its image name.
    pub fn of(plan: &LayerPlan, generation: u64) -> LayerRecord {
        LayerRecord {
            generation,
            layers: plan
                .layers
                .iter()
                .map(|l| {
                    let mut names: Vec<String> =
                        l.paths.iter().map(|p| name(p).to_string()).collect();
                    names.sort();
                    RecordedLayer {
                        key: layer_key(&l.paths),
                        names,
                    }
                })
                .collect(),
        }
    }

    /// The generation of an image planned after `previous` (1 without one). A record is read
    /// from an image someone else may have pushed: its number never overflows ours.
    pub fn next_generation(previous: Option<&LayerRecord>) -> u64 {
        previous.map_or(1, |p| p.generation.saturating_add(1))
    }

    /// The label's value.
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).expect("a record serializes")
    }

    /// A record read back from an image's labels; `None` when it has none or it is malformed
    /// (the image was then made another way: plan from scratch).
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<LayerRecord> {
        serde_json::from_str(labels.get(LABEL_LAYERS)?).ok()
    }
}

/// A short key of a layer's exact store paths (sorted): equal keys, the same layer bytes.
pub fn layer_key(paths: &[String]) -> String {
    let mut sorted: Vec<&str> = paths.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for p in sorted {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..6])
}

/// The part of a store path after its hash (`/nix/store/<hash>-<name>` → `<name>`).
pub fn name(path: &str) -> &str {
    let base = path.rsplit_once('/').map_or(path, |(_, b)| b);
    base.split_once('-').map_or(base, |(_, n)| n)
}

/// The plan of `graph` following `previous` (see the module's documentation), with at most
/// `max_layers` layers, the root layer included.
pub fn plan_following(
    graph: &ClosureGraph,
    max_layers: usize,
    previous: &LayerRecord,
) -> Result<LayerPlan, ImageError> {
    check_max_layers(max_layers)?;
    let ix = index(graph)?;
    let order = topological(&ix)?;
    let closure = closure_bitsets(&ix, &order);
    let n = ix.names.len();
    let size_of: HashMap<&str, u64> = graph
        .paths
        .iter()
        .map(|p| (p.path.as_str(), p.nar_size))
        .collect();
    // Name → the lowest recorded layer naming it.
    let mut recorded: HashMap<&str, usize> = HashMap::new();
    for (k, l) in previous.layers.iter().enumerate() {
        for nm in &l.names {
            recorded.entry(nm.as_str()).or_insert(k);
        }
    }
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); previous.layers.len()];
    let mut added: Vec<usize> = Vec::new();
    for (i, path) in ix.names.iter().enumerate() {
        match recorded.get(name(path)) {
            Some(&k) => kept[k].push(i),
            None => added.push(i),
        }
    }
    let referenced: HashSet<usize> = ix.refs.iter().flatten().copied().collect();
    let holds_root = |members: &[usize]| members.iter().any(|i| !referenced.contains(i));
    let mut stack: Vec<Vec<usize>> = kept.into_iter().filter(|m| !m.is_empty()).collect();
    if !added.is_empty() {
        let at = match stack.last() {
            Some(top) if holds_root(top) => stack.len() - 1,
            _ => stack.len(),
        };
        stack.insert(at, added);
    }
    let words = n.div_ceil(64);
    let group = |members: Vec<usize>| -> Group {
        let mut changes = vec![0u64; words];
        let mut size = 0u128;
        for &i in &members {
            size += size_of[ix.names[i]] as u128;
            for (w, c) in changes.iter_mut().zip(&closure[i]) {
                *w |= c;
            }
        }
        let paths: Vec<String> = members.iter().map(|&i| ix.names[i].to_string()).collect();
        Group {
            key: layer_key(&paths),
            members,
            size,
            changes,
        }
    };
    let cost = Cost {
        previous: previous.layers.iter().map(|l| l.key.as_str()).collect(),
        n: n.max(1) as u128,
    };
    let mut stack: Vec<Group> = stack.into_iter().map(group).collect();
    while stack.len() > max_layers - 1 {
        // The pair (k, k + 1) whose merge leaves the cheapest stack; ties: the lowest.
        let mut best: Option<(u128, usize)> = None;
        for k in 0..stack.len() - 1 {
            let mut trial: Vec<&Group> = stack.iter().collect();
            let merged = merge(&stack[k], &stack[k + 1], &group);
            trial.splice(k..k + 2, std::iter::once(&merged));
            let c = cost.of(&trial);
            if best.is_none_or(|(b, _)| c < b) {
                best = Some((c, k));
            }
        }
        let (_, k) = best.expect("at least two layers");
        let upper = stack.remove(k + 1);
        let lower = std::mem::replace(&mut stack[k], group(Vec::new()));
        stack[k] = merge(&lower, &upper, &group);
    }
    // Another environment rather than an edit of this one: the plan from scratch costs less.
    let fresh = plan_cochange(graph, max_layers)?;
    let at: HashMap<&str, usize> = ix.names.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let fresh_groups: Vec<Group> = fresh
        .layers
        .iter()
        .map(|l| group(l.paths.iter().map(|p| at[p.as_str()]).collect()))
        .collect();
    if cost.of(&fresh_groups.iter().collect::<Vec<_>>())
        < cost.of(&stack.iter().collect::<Vec<_>>())
    {
        return Ok(fresh);
    }
    Ok(LayerPlan {
        layers: stack
            .into_iter()
            .map(|g| {
                let mut paths: Vec<String> =
                    g.members.iter().map(|&i| ix.names[i].to_string()).collect();
                paths.sort();
                let nar_size = paths.iter().map(|p| size_of[p.as_str()]).sum();
                PlannedLayer { paths, nar_size }
            })
            .collect(),
    })
}

/// A layer being planned: its paths (indices in name order), size, the changes that re-send it
/// (the union of its paths' closures) and the key of its exact paths.
struct Group {
    members: Vec<usize>,
    size: u128,
    changes: Vec<u64>,
    key: String,
}

fn merge(a: &Group, b: &Group, group: &impl Fn(Vec<usize>) -> Group) -> Group {
    let mut members = a.members.clone();
    members.extend(&b.members);
    members.sort_unstable();
    group(members)
}

/// What a stack costs: bytes sent now to a registry and to an Engine, plus [`HORIZON`] average
/// later rebuilds (each layer re-sent for every change in its closure, averaged over the paths).
struct Cost<'a> {
    /// The previous image's layer keys, bottom first.
    previous: Vec<&'a str>,
    n: u128,
}

impl Cost<'_> {
    fn of(&self, stack: &[&Group]) -> u128 {
        let had: HashSet<&str> = self.previous.iter().copied().collect();
        let registry: u128 = stack
            .iter()
            .filter(|g| !had.contains(g.key.as_str()))
            .map(|g| g.size)
            .sum();
        let same = stack
            .iter()
            .zip(&self.previous)
            .take_while(|(g, k)| g.key == **k)
            .count();
        let engine: u128 = stack[same..].iter().map(|g| g.size).sum();
        let later: u128 = stack
            .iter()
            .map(|g| {
                g.size
                    * g.changes
                        .iter()
                        .map(|w| w.count_ones() as u128)
                        .sum::<u128>()
            })
            .sum::<u128>()
            / self.n;
        registry + engine + HORIZON * later
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::plan_edits::{compare_following, replan, sequence, with_added, without};

    fn data(name: &str) -> ClosureGraph {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        ClosureGraph::from_export_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_hostile_generation_number_does_not_overflow() {
        let huge = LayerRecord {
            generation: u64::MAX,
            layers: Vec::new(),
        };
        assert_eq!(LayerRecord::next_generation(Some(&huge)), u64::MAX);
        assert_eq!(LayerRecord::next_generation(None), 1);
    }

    #[test]
    fn a_record_round_trips_through_its_label() {
        let g = data("closure-hello.json");
        let plan = plan_cochange(&g, 100).unwrap();
        let record = LayerRecord::of(&plan, 3);
        assert_eq!(record.layers.len(), 5);
        assert!(record.layers.iter().all(|l| l.names.len() == 1));
        let labels = HashMap::from([(LABEL_LAYERS.to_string(), record.to_label())]);
        assert_eq!(LayerRecord::from_labels(&labels), Some(record));
        let bad = HashMap::from([(LABEL_LAYERS.to_string(), "[[]]".to_string())]);
        assert_eq!(LayerRecord::from_labels(&bad), None);
        assert_eq!(LayerRecord::from_labels(&HashMap::new()), None);
    }

    fn glibc(g: &ClosureGraph) -> String {
        let p = g.paths.iter().find(|p| p.path.ends_with("-glibc-2.32-35"));
        p.unwrap().path.clone()
    }

    #[test]
    fn the_plan_is_a_function_of_the_closure_and_the_record() {
        let g = data("closure-ankisyncd.json");
        let record = LayerRecord::of(&plan_cochange(&g, 100).unwrap(), 1);
        let (g2, _) = with_added(&g, "added-1.0", 2_000_000, &glibc(&g));
        let a = plan_following(&g2, 100, &record).unwrap();
        let mut shuffled = g2.clone();
        shuffled.paths.reverse();
        for p in &mut shuffled.paths {
            p.references.reverse();
        }
        assert_eq!(plan_following(&shuffled, 100, &record).unwrap(), a);
        assert_eq!(plan_following(&g2, 100, &record).unwrap(), a);
        // A record read back from its label plans the same.
        let labels = HashMap::from([(LABEL_LAYERS.to_string(), record.to_label())]);
        let read = LayerRecord::from_labels(&labels).unwrap();
        assert_eq!(plan_following(&g2, 100, &read).unwrap(), a);
    }

    #[test]
    fn an_addition_keeps_the_layers_and_goes_on_top() {
        let g = data("closure-ankisyncd.json");
        let before = plan_cochange(&g, 100).unwrap();
        let record = LayerRecord::of(&before, 1);
        let (g2, new_bytes) = with_added(&g, "added-1.0", 2_000_000, &glibc(&g));
        let after = plan_following(&g2, 100, &record).unwrap();
        assert!(after.layers.len() < 100, "maxLayers counts the root layer");
        assert_eq!(after.paths().count(), 335);
        let r = replan(&before, &after, &g);
        // Everything below the new paths is the previous image's, layer for layer.
        let added = after
            .layers
            .iter()
            .position(|l| l.paths.iter().any(|p| p.ends_with("-added-1.0")))
            .unwrap();
        assert!(r.kept_layers >= added.min(before.layers.len() - 1), "{r:?}");
        assert!(
            added >= after.layers.len() - 2,
            "new paths go on top: {added}"
        );
        // A registry and an Engine receive about the new bytes (the target: 2x).
        assert!(r.pushed <= 2 * new_bytes, "{r:?} for {new_bytes}");
        assert!(r.engine <= 2 * new_bytes, "{r:?} for {new_bytes}");
        // Today's plan, for comparison, re-groups (docs/image.md).
        let today = replan(&before, &plan_cochange(&g2, 100).unwrap(), &g);
        assert!(today.engine > r.engine, "{today:?}");
    }

    #[test]
    fn new_hashes_alone_keep_every_layer_by_name() {
        let g = data("closure-ankisyncd.json");
        let before = plan_cochange(&g, 100).unwrap();
        let leaf = g
            .paths
            .iter()
            .find(|p| p.path.ends_with("python3.8-pyOpenSSL-20.0.0"))
            .unwrap();
        let (g2, _) = crate::image::plan_edits::rehashed(
            &g,
            g.paths.clone(),
            std::slice::from_ref(&leaf.path),
        );
        let after = plan_following(&g2, 100, &LayerRecord::of(&before, 1)).unwrap();
        let names = |p: &LayerPlan| LayerRecord::of(p, 1).layers.into_iter().map(|l| l.names);
        assert!(names(&before).eq(names(&after)));
    }

    #[test]
    fn a_removal_resends_only_the_layers_that_held_its_paths() {
        let g = data("closure-ankisyncd.json");
        let record = LayerRecord::of(&plan_cochange(&g, 100).unwrap(), 1);
        let (g2, _) = with_added(&g, "added-1.0", 2_000_000, &glibc(&g));
        let with = plan_following(&g2, 100, &record).unwrap();
        let added = g2
            .paths
            .iter()
            .find(|p| p.path.ends_with("-added-1.0"))
            .unwrap();
        let (g3, _) = without(&g2, &added.path);
        let after = plan_following(&g3, 100, &LayerRecord::of(&with, 2)).unwrap();
        let r = replan(&with, &after, &g2);
        // Every layer sent again held the removed path, or holds a path it changed (the root).
        let held: Vec<&PlannedLayer> = with
            .layers
            .iter()
            .filter(|l| l.paths.contains(&added.path))
            .collect();
        assert_eq!(held.len(), 1);
        let old: HashSet<&str> = g2.paths.iter().map(|p| p.path.as_str()).collect();
        let mut resent = 0;
        for l in &after.layers {
            if with.layers.iter().any(|w| w.paths == l.paths) {
                continue;
            }
            resent += l.nar_size;
            let rehashed = l.paths.iter().any(|p| !old.contains(p.as_str()));
            let was_held = l.paths.iter().all(|p| held[0].paths.contains(p));
            assert!(rehashed || was_held, "{:?}", l.paths);
        }
        assert_eq!(r.pushed, resent);
        assert!(r.layers <= with.layers.len(), "{r:?}");
    }

    #[test]
    fn max_layers_is_kept_along_many_additions() {
        let g = data("closure-ankisyncd.json");
        for max in [2, 10, 100] {
            let mut plan = plan_cochange(&g, max).unwrap();
            let mut g = g.clone();
            for k in 0..6 {
                let (next, _) = with_added(&g, &format!("added-{k}"), 100_000, &glibc(&g));
                plan = plan_following(&next, max, &LayerRecord::of(&plan, k + 1)).unwrap();
                assert!(plan.layers.len() < max, "max {max}: {}", plan.layers.len());
                assert_eq!(plan.paths().count(), next.paths.len());
                g = next;
            }
        }
    }

    #[test]
    fn another_environment_is_planned_from_scratch() {
        let anki = data("closure-ankisyncd.json");
        let hello = data("closure-hello.json");
        let record = LayerRecord::of(&plan_cochange(&hello, 100).unwrap(), 1);
        assert_eq!(
            plan_following(&anki, 100, &record).unwrap(),
            plan_cochange(&anki, 100).unwrap()
        );
    }

    #[test]
    fn the_simulation_compares_both_plans() {
        let g = data("closure-hello.json");
        let glibc = g.paths.iter().find(|p| p.path.ends_with("-glibc-2.33-59"));
        let (g2, _) = with_added(&g, "added-1.0", 1000, &glibc.unwrap().path);
        let c = compare_following(&g, &g2, 100);
        assert!(c.follow.pushed <= c.today.pushed, "{c:?}");
        assert!(c.env_layer > 0);
        let steps = sequence(&g, 4, 2);
        assert_eq!(steps.len(), 4);
        assert!(
            steps.iter().all(|s| s.compared.follow.layers < 4),
            "{steps:?}"
        );
    }
}
