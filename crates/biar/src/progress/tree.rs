//! The build tree: every derivation Nix builds and every path it fetches, as a tree under what
//! needs them, each with its state, times, bytes and the end of its own log; folded from the
//! same [`BuildEvent`]s as the [`Tally`](super::Tally), with the time each arrived.
//!
//! Where a node sits: under the node a [`BuildEvent::Under`] names, the latest one winning (one
//! that would make a cycle is ignored): the nearest planned derivation that needs it, from the
//! derivation graph (any Nix), or Nix's activity parent chain (Nix 2.24 and later); otherwise
//! under the environment root. Times are offsets from the start of the run given by the caller, so the fold is
//! deterministic and drawing it needs no clock.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::{plain_text, BuildEvent};

/// Lines of one derivation's log kept in memory (the oldest go first)...
pub const LOG_RING_LINES: usize = 10_000;
/// ...and bytes: a derivation printing huge lines costs at most this much.
pub const LOG_RING_BYTES: usize = 4 << 20;

/// Where a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    Waiting,
    Building,
    Substituting,
    Done,
    Failed,
}

impl NodeState {
    /// One cell: what the tree's lines start with.
    pub fn symbol(self) -> &'static str {
        match self {
            NodeState::Waiting => "·",
            NodeState::Building => "▶",
            NodeState::Substituting => "↓",
            NodeState::Done => "✓",
            NodeState::Failed => "✗",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            NodeState::Waiting => "waiting",
            NodeState::Building => "building",
            NodeState::Substituting => "fetching",
            NodeState::Done => "done",
            NodeState::Failed => "failed",
        }
    }

    pub fn running(self) -> bool {
        matches!(self, NodeState::Building | NodeState::Substituting)
    }
}

/// The last lines of a derivation's log, bounded by [`LOG_RING_LINES`] and [`LOG_RING_BYTES`].
/// Kept as the builder wrote them (most are never read) and sanitized on the way out: every
/// reader gets plain text (no colours, no control sequences).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRing {
    lines: VecDeque<String>,
    bytes: usize,
    /// Lines dropped from the front to stay in bounds.
    pub dropped: u64,
}

impl LogRing {
    pub fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > LOG_RING_LINES || self.bytes > LOG_RING_BYTES {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            self.dropped += 1;
        }
    }

    /// The kept lines, oldest first, sanitized.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.lines.iter().map(|l| plain_text(l))
    }

    /// The last `n` lines, oldest first, sanitized.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines
            .iter()
            .skip(skip)
            .map(|l| plain_text(l))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The whole kept log as text (a note first when its beginning was dropped).
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.dropped > 0 {
            out.push_str(&format!(
                "[the first {} lines were not kept]\n",
                self.dropped
            ));
        }
        for l in &self.lines {
            out.push_str(&plain_text(l));
            out.push('\n');
        }
        out
    }

    fn clear(&mut self) {
        *self = LogRing::default();
    }
}

/// A derivation built or a path fetched (or the environment, the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The derivation's or store path's full path (empty for the root).
    pub path: String,
    /// The readable name (`hello-2.12.1`: no store hash, no `.drv`).
    pub name: String,
    /// A fetch from a binary cache, not a build.
    pub fetch: bool,
    pub state: NodeState,
    /// `None` only for the root.
    pub parent: Option<usize>,
    pub started: Option<Duration>,
    pub ended: Option<Duration>,
    /// The build's phase, once its builder said.
    pub phase: Option<String>,
    /// Bytes fetched so far, of `bytes_expected` (0: not known).
    pub bytes: u64,
    pub bytes_expected: u64,
    /// How long its last build took (from the user's state folder).
    pub estimate: Option<Duration>,
    /// Its own log: kept while it builds and after it failed, freed once it built.
    pub log: LogRing,
}

impl Node {
    fn new(path: String, name: String, fetch: bool, parent: Option<usize>) -> Node {
        Node {
            path,
            name,
            fetch,
            state: NodeState::Waiting,
            parent,
            started: None,
            ended: None,
            phase: None,
            bytes: 0,
            bytes_expected: 0,
            estimate: None,
            log: LogRing::default(),
        }
    }

    /// How long it ran (or runs, at `now`); `None` before it started.
    pub fn elapsed(&self, now: Duration) -> Option<Duration> {
        let start = self.started?;
        Some(self.ended.unwrap_or(now).saturating_sub(start))
    }

    /// Bytes a second of its fetch, once it ran a moment.
    pub fn rate(&self, now: Duration) -> Option<f64> {
        let secs = self.elapsed(now)?.as_secs_f64();
        (self.bytes > 0 && secs >= 0.2).then(|| self.bytes as f64 / secs)
    }
}

/// A line of the drawn tree: which node, how deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub node: usize,
    pub depth: usize,
}

/// What is left, in time: the sum of the known durations of the derivations still to build (and
/// what remains of those building), and how many have none known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eta {
    pub known: Duration,
    pub unknown: usize,
    pub remaining: usize,
}

impl std::fmt::Display for Eta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.remaining, self.unknown) {
            (0, _) => f.write_str("ETA 0s"),
            (r, u) if u == r => f.write_str("ETA unknown"),
            (_, 0) => write!(f, "ETA {}", duration(self.known)),
            (_, u) => write!(f, "ETA {} + {u} unknown", duration(self.known)),
        }
    }
}

/// The tree of one run. Node 0 is the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTree {
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    /// The time of the newest event or tick.
    now: Duration,
}

impl Default for BuildTree {
    fn default() -> BuildTree {
        BuildTree::new()
    }
}

impl BuildTree {
    pub fn new() -> BuildTree {
        BuildTree {
            nodes: vec![Node::new(String::new(), "environment".into(), false, None)],
            index: HashMap::new(),
            now: Duration::ZERO,
        }
    }

    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn find(&self, path: &str) -> Option<usize> {
        self.index.get(path).copied()
    }

    /// Every node but the root.
    pub fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    /// Time passes with no event (for elapsed times of what runs).
    pub fn tick(&mut self, at: Duration) {
        self.now = self.now.max(at);
    }

    /// Adds `event`, which arrived `at` into the run; returns the nodes whose state changed (the
    /// root's own state included, as node 0).
    pub fn on(&mut self, event: &BuildEvent, at: Duration) -> Vec<usize> {
        self.tick(at);
        let at = self.now;
        let mut changed = Vec::new();
        match event {
            BuildEvent::Planned {
                path,
                name,
                fetch,
                estimate,
            } => {
                let i = self.node_for(path, name, *fetch);
                if let Some(secs) = estimate.filter(|s| s.is_finite() && *s >= 0.0) {
                    self.nodes[i].estimate = Some(Duration::from_secs_f64(secs));
                }
                changed.push(i);
            }
            BuildEvent::DerivationStarted { drv, name } => {
                let i = self.node_for(drv, name, false);
                self.start(i, NodeState::Building, at, &mut changed);
            }
            BuildEvent::SubstituteStarted { path, name, .. } => {
                let i = self.node_for(path, name, true);
                self.start(i, NodeState::Substituting, at, &mut changed);
            }
            BuildEvent::Under { path, parent } => {
                if let (Some(i), Some(p)) = (self.find(path), self.find(parent)) {
                    if !self.is_under(p, i) {
                        self.nodes[i].parent = Some(p);
                    }
                }
            }
            BuildEvent::Phase { drv, phase } => {
                if let Some(i) = self.find(drv) {
                    self.nodes[i].phase = Some(phase.clone());
                }
            }
            BuildEvent::Fetching {
                path,
                bytes,
                expected,
            } => {
                if let Some(i) = self.find(path) {
                    self.nodes[i].bytes = *bytes;
                    self.nodes[i].bytes_expected = *expected;
                }
            }
            BuildEvent::Log {
                drv: Some(drv),
                line,
            } => {
                if let Some(i) = self.find(drv) {
                    if self.nodes[i].state != NodeState::Done {
                        self.nodes[i].log.push(line.clone());
                    }
                }
            }
            BuildEvent::DerivationFailed { drv } => {
                if let Some(i) = self.find(drv) {
                    self.end(i, NodeState::Failed, at, &mut changed);
                }
            }
            BuildEvent::DerivationStopped { drv } => {
                // Not built after all: it waits again, and its time says nothing.
                if let Some(i) = self.find(drv) {
                    let node = &mut self.nodes[i];
                    if node.state.running() {
                        (node.state, node.started, node.ended) = (NodeState::Waiting, None, None);
                        node.phase = None;
                        changed.push(i);
                    }
                }
            }
            BuildEvent::DerivationFinished { drv: path }
            | BuildEvent::SubstituteFinished { path } => {
                if let Some(i) = self.find(path) {
                    if self.nodes[i].state.running() {
                        self.end(i, NodeState::Done, at, &mut changed);
                        // Nobody asks for a good build's log: only failures keep theirs.
                        self.nodes[i].log.clear();
                    }
                }
            }
            _ => {}
        }
        // The root follows its nodes' states: only a change can move it (logs are most events).
        if !changed.is_empty() && self.update_root(at) {
            changed.push(0);
        }
        changed
    }

    fn node_for(&mut self, path: &str, name: &str, fetch: bool) -> usize {
        if let Some(i) = self.find(path) {
            return i;
        }
        let i = self.nodes.len();
        // A builder can start activities of its own: their names are its text.
        self.nodes.push(Node::new(
            path.to_string(),
            plain_text(name),
            fetch,
            Some(0),
        ));
        self.index.insert(path.to_string(), i);
        i
    }

    fn start(&mut self, i: usize, state: NodeState, at: Duration, changed: &mut Vec<usize>) {
        let node = &mut self.nodes[i];
        node.state = state;
        node.started = Some(at);
        node.ended = None;
        node.log.clear();
        changed.push(i);
    }

    fn end(&mut self, i: usize, state: NodeState, at: Duration, changed: &mut Vec<usize>) {
        let node = &mut self.nodes[i];
        if node.state == state {
            return;
        }
        node.state = state;
        node.ended = Some(at);
        changed.push(i);
    }

    /// `node` is `ancestor` or below it.
    fn is_under(&self, mut node: usize, ancestor: usize) -> bool {
        loop {
            if node == ancestor {
                return true;
            }
            match self.nodes[node].parent {
                Some(p) => node = p,
                None => return false,
            }
        }
    }

    /// The root's state follows its nodes: failed if one failed, building while one runs, done
    /// once all are. Returns whether it changed.
    fn update_root(&mut self, at: Duration) -> bool {
        let nodes = &self.nodes[1..];
        let state = if nodes.iter().any(|n| n.state == NodeState::Failed) {
            NodeState::Failed
        } else if nodes.iter().any(|n| n.state.running()) {
            NodeState::Building
        } else if !nodes.is_empty() && nodes.iter().all(|n| n.state == NodeState::Done) {
            NodeState::Done
        } else if nodes.iter().any(|n| n.started.is_some()) {
            NodeState::Building
        } else {
            NodeState::Waiting
        };
        let root = &mut self.nodes[0];
        if root.started.is_none() && state != NodeState::Waiting {
            root.started = Some(at);
        }
        if root.state == state {
            return false;
        }
        root.state = state;
        root.ended = matches!(state, NodeState::Done | NodeState::Failed).then_some(at);
        true
    }

    /// The tree in drawing order (depth first, children in the order Nix named them).
    pub fn rows(&self) -> Vec<Row> {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate().skip(1) {
            children[n.parent.unwrap_or(0)].push(i);
        }
        let mut rows = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![(0, 0)];
        while let Some((node, depth)) = stack.pop() {
            rows.push(Row { node, depth });
            for &c in children[node].iter().rev() {
                stack.push((c, depth + 1));
            }
        }
        rows
    }

    /// At most `height` rows for a view that small: the root, then failed, running, waiting and
    /// done nodes in that order of preference, kept in drawing order; and how many were left out.
    pub fn rows_within(&self, height: usize) -> (Vec<Row>, usize) {
        let rows = self.rows();
        if rows.len() <= height {
            return (rows, 0);
        }
        let rank = |r: &Row| match self.nodes[r.node].state {
            _ if r.node == 0 => 0,
            NodeState::Failed => 1,
            NodeState::Building | NodeState::Substituting => 2,
            NodeState::Waiting => 3,
            NodeState::Done => 4,
        };
        let mut order: Vec<usize> = (0..rows.len()).collect();
        // Among done nodes the newest are the ones to see.
        order.sort_by_key(|&k| {
            let r = &rows[k];
            let newest_first = std::cmp::Reverse(self.nodes[r.node].ended);
            (rank(r), newest_first, k)
        });
        let mut keep: Vec<usize> = order.into_iter().take(height).collect();
        keep.sort_unstable();
        let left_out = rows.len() - keep.len();
        (keep.into_iter().map(|k| rows[k]).collect(), left_out)
    }

    /// How deep node `i` sits (the root is 0).
    pub fn depth(&self, mut i: usize) -> usize {
        let mut depth = 0;
        while let Some(p) = self.nodes[i].parent {
            depth += 1;
            i = p;
        }
        depth
    }

    /// How long what remains should take, from earlier builds of the same names.
    pub fn eta(&self) -> Eta {
        let mut eta = Eta::default();
        for n in self.nodes.iter().skip(1).filter(|n| !n.fetch) {
            let left = match n.state {
                NodeState::Waiting => n.estimate,
                NodeState::Building => n
                    .estimate
                    .map(|e| e.saturating_sub(n.elapsed(self.now).unwrap_or_default())),
                _ => continue,
            };
            eta.remaining += 1;
            match left {
                Some(d) => eta.known += d,
                None => eta.unknown += 1,
            }
        }
        eta
    }

    /// The first derivation that failed.
    pub fn failed(&self) -> Option<usize> {
        (1..self.nodes.len()).find(|&i| self.nodes[i].state == NodeState::Failed)
    }

    /// The derivations built successfully and how long each took (for the next ETA).
    pub fn durations(&self) -> Vec<(String, Duration)> {
        self.nodes
            .iter()
            .skip(1)
            .filter(|n| !n.fetch && n.state == NodeState::Done)
            .filter_map(|n| Some((n.name.clone(), n.elapsed(self.now)?)))
            .collect()
    }

    /// Counts of nodes per state (the root left out).
    pub fn count(&self, state: NodeState) -> usize {
        self.nodes[1..].iter().filter(|n| n.state == state).count()
    }

    /// `✓ hello-2.12.1  done 3s`, `↓ busybox  fetching 2s 1.2 MiB/3.0 MiB 600.0 KiB/s`: one
    /// node as a line of plain text (names are store names, phases already plain), indented by
    /// `depth`.
    pub fn line(&self, i: usize, depth: usize) -> String {
        let n = &self.nodes[i];
        let mut s = format!(
            "{}{} {}  {}",
            "  ".repeat(depth),
            n.state.symbol(),
            n.name,
            n.state.word()
        );
        if let Some(e) = n.elapsed(self.now) {
            s.push(' ');
            s.push_str(&duration(e));
        }
        if let (NodeState::Building, Some(p)) = (n.state, &n.phase) {
            s.push_str(&format!(" ({p})"));
        }
        if n.bytes > 0 {
            s.push(' ');
            s.push_str(&bytes(n.bytes));
            if n.bytes_expected > 0 {
                s.push('/');
                s.push_str(&bytes(n.bytes_expected));
            }
            if let (true, Some(r)) = (n.state.running(), n.rate(self.now)) {
                s.push_str(&format!(" {}/s", bytes(r as u64)));
            }
        }
        s
    }
}

/// `0s`, `42s`, `3m05s`, `1h02m`: whole seconds, so a redraw does not flicker.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// 1536 → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.0.drv";
    const B: &str = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b-2.0.drv";
    const P: &str = "/nix/store/pppppppppppppppppppppppppppppppp-busybox-1.35.0";

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn planned(path: &str, name: &str, fetch: bool, estimate: Option<f64>) -> BuildEvent {
        BuildEvent::Planned {
            path: path.into(),
            name: name.into(),
            fetch,
            estimate,
        }
    }

    fn started(drv: &str, name: &str) -> BuildEvent {
        BuildEvent::DerivationStarted {
            drv: drv.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_run_folds_into_states_times_and_an_eta() {
        let mut t = BuildTree::new();
        t.on(&planned(A, "a-1.0", false, Some(10.0)), s(0));
        t.on(&planned(B, "b-2.0", false, None), s(0));
        t.on(&planned(P, "busybox-1.35.0", true, None), s(0));
        assert_eq!(t.root().state, NodeState::Waiting);
        assert_eq!(
            t.eta(),
            Eta {
                known: s(10),
                unknown: 1,
                remaining: 2
            }
        );
        assert_eq!(t.eta().to_string(), "ETA 10s + 1 unknown");

        let changed = t.on(
            &BuildEvent::SubstituteStarted {
                path: P.into(),
                name: "busybox-1.35.0".into(),
                cache: "http://c".into(),
            },
            s(1),
        );
        assert_eq!(changed, [3, 0]);
        t.on(
            &BuildEvent::Fetching {
                path: P.into(),
                bytes: 2048,
                expected: 4096,
            },
            s(3),
        );
        assert_eq!(
            t.line(3, 1),
            "  ↓ busybox-1.35.0  fetching 2s 2.0 KiB/4.0 KiB 1.0 KiB/s"
        );
        t.on(&BuildEvent::SubstituteFinished { path: P.into() }, s(3));
        t.on(&started(A, "a-1.0"), s(3));
        t.on(
            &BuildEvent::Phase {
                drv: A.into(),
                phase: "buildPhase".into(),
            },
            s(4),
        );
        t.tick(s(7));
        assert_eq!(t.line(1, 1), "  ▶ a-1.0  building 4s (buildPhase)");
        // 10s known, 4s of it gone.
        assert_eq!(t.eta().known, s(6));
        t.on(&BuildEvent::DerivationFinished { drv: A.into() }, s(12));
        t.on(&started(B, "b-2.0"), s(12));
        t.on(&BuildEvent::DerivationFinished { drv: B.into() }, s(14));
        assert_eq!(t.root().state, NodeState::Done);
        assert_eq!(t.eta().to_string(), "ETA 0s");
        assert_eq!(
            t.durations(),
            [("a-1.0".to_string(), s(9)), ("b-2.0".to_string(), s(2))]
        );
        let lines: Vec<String> = t.rows().iter().map(|r| t.line(r.node, r.depth)).collect();
        assert_eq!(
            lines,
            [
                "✓ environment  done 13s",
                "  ✓ a-1.0  done 9s",
                "  ✓ b-2.0  done 2s",
                "  ✓ busybox-1.35.0  done 2s 2.0 KiB/4.0 KiB",
            ]
        );
    }

    #[test]
    fn parents_nest_and_cannot_make_a_cycle() {
        let mut t = BuildTree::new();
        t.on(&started(A, "a-1.0"), s(0));
        t.on(&started(B, "b-2.0"), s(0));
        t.on(
            &BuildEvent::Under {
                path: B.into(),
                parent: A.into(),
            },
            s(0),
        );
        // A forged or confused parent that would loop is ignored.
        t.on(
            &BuildEvent::Under {
                path: A.into(),
                parent: B.into(),
            },
            s(0),
        );
        let rows: Vec<(usize, usize)> = t.rows().iter().map(|r| (r.node, r.depth)).collect();
        assert_eq!(rows, [(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn the_derivation_graph_arriving_later_moves_waiting_and_placed_nodes() {
        // The graph is asked beside the build: its `Under`s come after the plan, and after any
        // parent Nix's activities gave, and move those nodes.
        let c = "/nix/store/cccccccccccccccccccccccccccccccc-c-3.0.drv";
        let mut t = BuildTree::new();
        t.on(&planned(A, "a-1.0", false, None), s(0));
        t.on(&planned(B, "b-2.0", false, None), s(0));
        t.on(&planned(c, "c-3.0", false, None), s(0));
        let under = |path: &str, parent: &str| BuildEvent::Under {
            path: path.into(),
            parent: parent.into(),
        };
        t.on(&under(c, A), s(0));
        assert_eq!(t.depth(3), 2);
        t.on(&started(c, "c-3.0"), s(1));
        t.on(&under(c, B), s(1));
        t.on(&under(B, A), s(1));
        let lines: Vec<String> = t.rows().iter().map(|r| t.line(r.node, r.depth)).collect();
        assert_eq!(
            lines,
            [
                "▶ environment  building 0s",
                "  · a-1.0  waiting",
                "    · b-2.0  waiting",
                "      ▶ c-3.0  building 0s",
            ]
        );
        // An edge naming a node not in the tree changes nothing.
        t.on(&under("/nix/store/x", A), s(1));
        t.on(&under(c, "/nix/store/x"), s(1));
        assert_eq!(t.depth(3), 3);
    }

    #[test]
    fn a_failure_keeps_its_log_and_a_good_build_frees_its_own() {
        let mut t = BuildTree::new();
        let log = |drv: &str, line: &str| BuildEvent::Log {
            drv: Some(drv.into()),
            line: line.into(),
        };
        t.on(&started(A, "a-1.0"), s(0));
        t.on(&started(B, "b-2.0"), s(0));
        t.on(&log(A, "fine"), s(1));
        t.on(
            &log(B, "\x1b[31merror:\x1b[0m bad\x1b]52;c;ZXZpbA==\x07"),
            s(1),
        );
        t.on(&BuildEvent::DerivationFinished { drv: A.into() }, s(2));
        assert!(t.node(1).log.is_empty());
        t.on(&BuildEvent::DerivationFailed { drv: B.into() }, s(2));
        t.on(&BuildEvent::DerivationFinished { drv: B.into() }, s(2));
        assert_eq!(t.node(2).state, NodeState::Failed);
        assert_eq!(t.failed(), Some(2));
        assert_eq!(t.node(2).log.tail(5), ["error: bad"]);
        assert_eq!(t.root().state, NodeState::Failed);
        // Only the good build's time is worth remembering.
        assert_eq!(t.durations(), [("a-1.0".to_string(), s(2))]);
        // One Nix gave up on waits again, with no time.
        const C: &str = "/nix/store/cccccccccccccccccccccccccccccccc-c-1.0.drv";
        t.on(&started(C, "c-1.0"), s(2));
        assert_eq!(
            t.on(&BuildEvent::DerivationStopped { drv: C.into() }, s(3)),
            [3]
        );
        assert_eq!(t.node(3).state, NodeState::Waiting);
        assert_eq!(t.node(3).elapsed(s(3)), None);
        assert_eq!(t.durations().len(), 1);
    }

    #[test]
    fn the_log_ring_is_bounded_in_lines_and_bytes() {
        let mut ring = LogRing::default();
        for i in 0..LOG_RING_LINES + 5 {
            ring.push(format!("{i}"));
        }
        assert_eq!(ring.len(), LOG_RING_LINES);
        assert_eq!(ring.dropped, 5);
        assert_eq!(ring.lines().next().as_deref(), Some("5"));
        let mut ring = LogRing::default();
        let big = "x".repeat(1 << 20);
        for _ in 0..10 {
            ring.push(big.clone());
        }
        assert_eq!(ring.len(), 4);
        assert!(ring
            .text()
            .starts_with("[the first 6 lines were not kept]\n"));
    }

    #[test]
    fn a_small_view_keeps_failed_and_running_nodes() {
        let mut t = BuildTree::new();
        for i in 0..20 {
            let path = format!("/nix/store/{i:032}-p{i}.drv");
            t.on(&planned(&path, &format!("p{i}"), false, None), s(0));
            if i < 15 {
                t.on(&started(&path, &format!("p{i}")), s(i));
                t.on(&BuildEvent::DerivationFinished { drv: path }, s(i + 1));
            }
        }
        let p17 = format!("/nix/store/{:032}-p17.drv", 17);
        t.on(&started(&p17, "p17"), s(20));
        let (rows, left_out) = t.rows_within(5);
        let names: Vec<&str> = rows.iter().map(|r| t.node(r.node).name.as_str()).collect();
        assert_eq!(names, ["environment", "p15", "p16", "p17", "p18"]);
        assert_eq!(left_out, 16);
    }

    #[test]
    fn a_name_is_plain_text() {
        let mut t = BuildTree::new();
        t.on(&started(A, "a\x1b]52;c;ZXZpbA==\x07\x1b[2J-1.0"), s(0));
        assert_eq!(t.node(1).name, "a-1.0");
    }

    #[test]
    fn durations_read_whole_seconds() {
        assert_eq!(duration(s(0)), "0s");
        assert_eq!(duration(s(185)), "3m05s");
        assert_eq!(duration(s(3720)), "1h02m");
    }
}
