//! The build tree's events from Nix's activities (for [`LogParser`](super::internal_json::LogParser)):
//! what Nix plans to build and fetch (its "will be built" / "will be fetched" lists), where each
//! build or fetch sits (the activity parent chain, when Nix gives one), and the bytes of each
//! path's fetch.
//!
//! Nix before 2.24 writes no `parent` in `internal-json`: its downloads then belong to the fetch
//! that started last and has none yet (Nix starts the NAR download right after the copy), and
//! its unpacked bytes to the path its copy names.

use std::collections::HashMap;

use crate::progress::BuildEvent;

use super::internal_json::drv_name;

const ACT_COPY_PATH: u64 = 100;
const ACT_FILE_TRANSFER: u64 = 101;
const ACT_BUILDS: u64 = 104;
const ACT_BUILD: u64 = 105;
const ACT_SUBSTITUTE: u64 = 108;
/// A `Fetching` event per path at most every this many bytes.
const FETCH_STEP: u64 = 256 << 10;
/// Parent chains longer than this are not followed (Nix's are a few deep).
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone)]
struct Act {
    typ: u64,
    /// The store path a build, fetch or copy is about.
    path: Option<String>,
    parent: u64,
}

#[derive(Debug, Default)]
struct Fetch {
    /// A download is counted for it: its copy's unpacked bytes are not.
    downloading: bool,
    bytes: u64,
    expected: u64,
    sent: (u64, u64),
}

#[derive(Debug, Default)]
pub struct TreeEvents {
    acts: HashMap<u64, Act>,
    /// The path each running download or copy counts for.
    counts_for: HashMap<u64, String>,
    fetches: HashMap<String, Fetch>,
    /// Fetches running, oldest first.
    fetching: Vec<String>,
    /// Inside Nix's list of what it will build (`Some(false)`) or fetch (`Some(true)`).
    listing: Option<bool>,
    /// Builds began: a list now would be a builder's forgery (Nix prints its lists first).
    building: bool,
}

impl TreeEvents {
    /// A message from Nix: its lists of planned builds and fetches become `Planned` events.
    pub fn message(&mut self, text: &str) -> Vec<BuildEvent> {
        if self.building {
            return Vec::new();
        }
        let head = text.trim_end();
        if head.ends_with("will be built:") {
            self.listing = Some(false);
            return Vec::new();
        }
        if head.starts_with("these ") && head.contains(" will be fetched")
            || head.starts_with("this path will be fetched")
        {
            self.listing = Some(true);
            return Vec::new();
        }
        match (self.listing, text.strip_prefix("  /nix/store/")) {
            (Some(fetch), Some(_)) => {
                let path = text.trim().to_string();
                vec![BuildEvent::Planned {
                    name: drv_name(&path),
                    path,
                    fetch,
                    estimate: None,
                }]
            }
            _ => {
                self.listing = None;
                Vec::new()
            }
        }
    }

    pub fn start(
        &mut self,
        id: u64,
        typ: u64,
        parent: u64,
        field0: Option<String>,
    ) -> Vec<BuildEvent> {
        if matches!(typ, ACT_BUILDS | ACT_BUILD | ACT_SUBSTITUTE) {
            self.building = true;
            self.listing = None;
        }
        let path = matches!(typ, ACT_BUILD | ACT_SUBSTITUTE | ACT_COPY_PATH)
            .then_some(field0.clone())
            .flatten();
        self.acts.insert(
            id,
            Act {
                typ,
                path: path.clone(),
                parent,
            },
        );
        let mut events = Vec::new();
        match typ {
            ACT_BUILD | ACT_SUBSTITUTE => {
                let Some(path) = path else {
                    return events;
                };
                if let Some(above) = self.node_above(parent) {
                    if above != path {
                        events.push(BuildEvent::Under {
                            path: path.clone(),
                            parent: above,
                        });
                    }
                }
                if typ == ACT_SUBSTITUTE {
                    self.fetches.insert(path.clone(), Fetch::default());
                    self.fetching.push(path);
                }
            }
            ACT_COPY_PATH => {
                if let Some(path) = path {
                    self.counts_for.insert(id, path);
                }
            }
            ACT_FILE_TRANSFER => {
                let url = field0.unwrap_or_default();
                let for_path = if parent != 0 {
                    self.node_above(parent)
                } else if url.ends_with(".narinfo") || url.ends_with("nix-cache-info") {
                    None
                } else {
                    // No parent: the newest fetch without a download of its own.
                    self.fetching
                        .iter()
                        .rev()
                        .find(|p| self.fetches.get(*p).is_some_and(|f| !f.downloading))
                        .cloned()
                };
                if let Some(path) = for_path {
                    if let Some(f) = self.fetches.get_mut(&path) {
                        f.downloading = true;
                        f.bytes = 0;
                        self.counts_for.insert(id, path);
                    }
                }
            }
            _ => {}
        }
        events
    }

    /// A `resProgress` on activity `id`: bytes of a download or copy.
    pub fn progress(&mut self, id: u64, done: u64, expected: u64) -> Vec<BuildEvent> {
        let Some(path) = self.counts_for.get(&id).cloned() else {
            return Vec::new();
        };
        let download = self
            .acts
            .get(&id)
            .is_some_and(|a| a.typ == ACT_FILE_TRANSFER);
        let Some(f) = self.fetches.get_mut(&path) else {
            return Vec::new();
        };
        if f.downloading != download {
            return Vec::new();
        }
        f.bytes = done;
        f.expected = expected;
        fetching_event(&path, f, false).into_iter().collect()
    }

    pub fn stop(&mut self, id: u64) -> Vec<BuildEvent> {
        let act = self.acts.remove(&id);
        let mut events = Vec::new();
        if let Some(path) = self.counts_for.remove(&id) {
            if let Some(f) = self.fetches.get_mut(&path) {
                events.extend(fetching_event(&path, f, true));
            }
        }
        if let Some(Act {
            typ: ACT_SUBSTITUTE,
            path: Some(path),
            ..
        }) = act
        {
            self.fetching.retain(|p| *p != path);
            self.fetches.remove(&path);
        }
        events
    }

    /// The build or fetch `id` is, or is under (following Nix's parents).
    fn node_above(&self, mut id: u64) -> Option<String> {
        for _ in 0..MAX_DEPTH {
            let act = self.acts.get(&id)?;
            if matches!(act.typ, ACT_BUILD | ACT_SUBSTITUTE | ACT_COPY_PATH) {
                if let Some(path) = &act.path {
                    return Some(path.clone());
                }
            }
            if act.parent == 0 {
                return None;
            }
            id = act.parent;
        }
        None
    }
}

/// A `Fetching` event when the path's bytes moved enough (or `always`, when they moved at all).
fn fetching_event(path: &str, f: &mut Fetch, always: bool) -> Option<BuildEvent> {
    let now = (f.bytes, f.expected);
    let moved = now != f.sent
        && (always
            || now.1 != f.sent.1
            || now.0 >= f.sent.0 + FETCH_STEP
            || (now.1 > 0 && now.0 >= now.1));
    if !moved {
        return None;
    }
    f.sent = now;
    Some(BuildEvent::Fetching {
        path: path.to_string(),
        bytes: now.0,
        expected: now.1,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::nixbuild::internal_json::LogParser;
    use crate::progress::{BuildEvent, BuildTree, NodeState};

    /// A recorded log (tests/fixtures/logs) through the parser into a tree, one second a line.
    fn tree_of(name: &str) -> (BuildTree, Vec<BuildEvent>) {
        let path = format!(
            "{}/../../tests/fixtures/logs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut parser = LogParser::new();
        let mut tree = BuildTree::new();
        let mut all = Vec::new();
        for (i, line) in text.lines().enumerate() {
            for event in parser.feed(line) {
                tree.on(&event, Duration::from_secs(i as u64));
                all.push(event);
            }
        }
        (tree, all)
    }

    fn lines(tree: &BuildTree) -> Vec<String> {
        tree.rows()
            .iter()
            .map(|r| tree.line(r.node, r.depth))
            .collect()
    }

    #[test]
    fn a_recorded_environment_build_is_a_tree_of_done_builds_with_times() {
        // Recorded: buildEnv of two fresh sleepers (Nix 2.x without activity parents).
        let (tree, events) = tree_of("env.stderr");
        let planned = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::Planned { fetch: false, .. }))
            .count();
        assert_eq!(planned, 3);
        assert_eq!(
            lines(&tree),
            [
                "✓ environment  done 31s",
                "  ✓ sleeper-1s  done 10s",
                "  ✓ sleeper-1s  done 10s",
                "  ✓ biar-env  done 9s",
            ]
        );
        assert_eq!(tree.durations().len(), 3);
    }

    #[test]
    fn a_recorded_failure_fails_its_node_with_its_own_log() {
        let (tree, events) = tree_of("failing.stderr");
        assert!(events.contains(&BuildEvent::DerivationFailed {
            drv: "/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv".into()
        }));
        let failed = tree.failed().unwrap();
        assert_eq!(tree.node(failed).name, "failing-1.0");
        assert_eq!(tree.node(failed).state, NodeState::Failed);
        assert_eq!(
            tree.node(failed).log.tail(2),
            [
                "compiling main.c",
                "main.c:3:1: error: expected ';' before '}' token"
            ]
        );
        assert_eq!(tree.root().state, NodeState::Failed);
        assert!(tree.durations().is_empty());
    }

    #[test]
    fn recorded_fetches_without_parents_get_their_own_download_bytes() {
        let (tree, _) = tree_of("cache-subst.stderr");
        let busybox = tree
            .find("/nix/store/qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0")
            .unwrap();
        let node = tree.node(busybox);
        assert!(node.fetch);
        assert_eq!(node.state, NodeState::Done);
        assert_eq!((node.bytes, node.bytes_expected), (879412, 879412));
        assert_eq!(tree.count(NodeState::Done), 3);
        // Fetches have no duration worth remembering as a build's.
        assert!(tree.durations().is_empty());
    }

    #[test]
    fn with_parents_downloads_follow_the_chain_and_late_lists_are_ignored() {
        // Nix 2.24's shape: `parent` on every start. The second fetch's download starts after
        // the first's copy: only the parent chain says whose bytes they are.
        let (tree, events) = tree_of("parents.stderr");
        let left = tree.find("/nix/store/1111111111111111111111111111111a-left-1.0");
        let right = tree.find("/nix/store/2222222222222222222222222222222b-right-2.0");
        let (left, right) = (tree.node(left.unwrap()), tree.node(right.unwrap()));
        assert_eq!((left.bytes, left.bytes_expected), (4000, 4000));
        assert_eq!((right.bytes, right.bytes_expected), (6000, 6000));
        // A list printed once builds ran is a builder's, not Nix's.
        assert!(tree
            .find("/nix/store/4444444444444444444444444444444d-forged-1.0.drv")
            .is_none());
        assert!(events
            .iter()
            .all(|e| !matches!(e, BuildEvent::Planned { path, .. } if path.contains("forged"))));
        assert_eq!(
            lines(&tree),
            [
                "✓ environment  done 25s",
                "  ✓ left-1.0  done 13s 3.9 KiB/3.9 KiB",
                "  ✓ right-2.0  done 16s 5.9 KiB/5.9 KiB",
                "  ✓ biar-env  done 5s",
            ]
        );
    }
}
