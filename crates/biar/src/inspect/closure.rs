//! The closure as the explorer sees it: every path with its own NAR size, its closure size (as
//! `nix path-info -S` counts it) and its *added* size (what removing it would save: the paths
//! only it keeps alive), why a path is there, and the layer each path lands in.
//!
//! Added size is the size of a path's subtree in the dominator tree of the graph rooted at the
//! environment: a path `d` disappears with `u` exactly when every chain from the root to `d`
//! passes through `u`. A path shared with another package is never counted. Dominators on a DAG
//! take one pass in topological order (Cooper-Harvey-Kennedy intersection); closure sizes are
//! bitsets ORed in reverse topological order: both are milliseconds for real closures.

use std::collections::HashMap;

use serde::Serialize;

use super::InspectError;
use crate::image::LayerPlan;
use crate::nixbuild::ClosureGraph;

/// One store path with its sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathRow {
    /// `/nix/store/<hash>-<name>`.
    pub path: String,
    /// `<name>` (`hello-2.12.1`).
    pub name: String,
    /// Its own NAR size (`nix path-info -s`).
    pub nar_size: u64,
    /// Its closure's NAR size (`nix path-info -S`).
    pub closure_size: u64,
    /// What removing it would save: the NAR size of the paths only it keeps alive (itself too).
    /// For a configured package, what removing it from the configuration saves: nothing when
    /// another path references it too.
    pub added_size: u64,
    /// A package the configuration lists (the environment references it directly).
    pub package: bool,
    /// The store layer it lands in (0 = bottom), when a plan was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
}

/// A sort order of the explorer and `closure --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortKey {
    /// Largest added size first (what to remove first).
    #[default]
    Added,
    Closure,
    Own,
    Name,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Added,
        SortKey::Closure,
        SortKey::Own,
        SortKey::Name,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Added => "added",
            SortKey::Closure => "closure",
            SortKey::Own => "own",
            SortKey::Name => "name",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.label() == s)
    }

    /// The next key (the explorer's sort key cycles).
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// Sorts rows by `key`: sizes largest first, names A→Z; ties by name then path, so the order is
/// the same on every machine.
pub fn sort_rows(rows: &mut [PathRow], key: SortKey) {
    rows.sort_by(|a, b| {
        let by = match key {
            SortKey::Added => b.added_size.cmp(&a.added_size),
            SortKey::Closure => b.closure_size.cmp(&a.closure_size),
            SortKey::Own => b.nar_size.cmp(&a.nar_size),
            SortKey::Name => std::cmp::Ordering::Equal,
        };
        by.then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.path.cmp(&b.path))
    });
}

/// One store layer of the plan with its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerRow {
    /// 0 = the bottom layer.
    pub index: usize,
    pub paths: usize,
    /// The NAR size of its paths.
    pub nar_size: u64,
    /// The layer's tar size, when the layer cache knows it (an earlier build made it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Its largest path's name (what the layer is mostly).
    pub largest: String,
}

/// The closure graph indexed for questions: built once, then every answer is a lookup.
#[derive(Debug, Clone)]
pub struct ClosureModel {
    /// The environment (the root every chain starts from).
    pub env_path: String,
    /// Every path, in the graph's order.
    pub rows: Vec<PathRow>,
    /// Indices into `rows` of the packages, in the environment's reference order.
    pub packages: Vec<usize>,
    /// `refs[i]`: the indices path `i` references (itself left out).
    refs: Vec<Vec<u32>>,
    /// Path → index.
    by_path: HashMap<String, usize>,
    /// The root's index.
    root: usize,
    /// The layer plan's rows, bottom first (empty without a plan).
    pub layers: Vec<LayerRow>,
}

/// `<name>` of `/nix/store/<hash>-<name>` (the whole text when it is not a store path).
pub fn store_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.split_once('-') {
        Some((hash, name)) if hash.len() == 32 => name,
        _ => base,
    }
}

impl ClosureModel {
    /// Indexes `graph`, rooted at `env_path` (which must be one of its paths; every path not
    /// reachable from it is left out, as it is not in the image). A reference to a path missing
    /// from the graph, or a cycle, is refused.
    pub fn new(graph: &ClosureGraph, env_path: &str) -> Result<ClosureModel, InspectError> {
        let all: HashMap<&str, usize> = graph
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.path.as_str(), i))
            .collect();
        let Some(&root_all) = all.get(env_path) else {
            return Err(InspectError::Graph(format!(
                "the environment {env_path} is not in its closure graph"
            )));
        };
        // Keep the paths reachable from the environment, in the graph's order.
        let mut keep = vec![false; graph.paths.len()];
        let mut todo = vec![root_all];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut keep[i], true) {
                continue;
            }
            for r in &graph.paths[i].references {
                let Some(&j) = all.get(r.as_str()) else {
                    return Err(InspectError::Graph(format!(
                        "{} references {r}, which is not in the closure graph",
                        graph.paths[i].path
                    )));
                };
                if !keep[j] {
                    todo.push(j);
                }
            }
        }
        let kept: Vec<usize> = (0..graph.paths.len()).filter(|&i| keep[i]).collect();
        let by_path: HashMap<String, usize> = kept
            .iter()
            .enumerate()
            .map(|(k, &i)| (graph.paths[i].path.clone(), k))
            .collect();
        let refs: Vec<Vec<u32>> = kept
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let mut rs: Vec<u32> = graph.paths[i]
                    .references
                    .iter()
                    .map(|r| by_path[r.as_str()] as u32)
                    .filter(|&j| j as usize != k)
                    .collect();
                rs.sort_unstable();
                rs.dedup();
                rs
            })
            .collect();
        let root = by_path[env_path];
        let nar: Vec<u64> = kept.iter().map(|&i| graph.paths[i].nar_size).collect();
        let order = topological(&refs, root).ok_or_else(|| {
            InspectError::Graph("the closure graph has a reference cycle".to_string())
        })?;
        let closure = closure_sizes(&refs, &nar, &order);
        let mut added = added_sizes(&refs, &nar, &order, root);
        let packages: Vec<usize> = refs[root].iter().map(|&j| j as usize).collect();
        // A configured package another path also references stays when it leaves the list:
        // removing it saves nothing.
        let mut referenced = vec![false; refs.len()];
        for (i, rs) in refs.iter().enumerate() {
            if i != root {
                for &j in rs {
                    referenced[j as usize] = true;
                }
            }
        }
        for &p in &packages {
            if referenced[p] {
                added[p] = 0;
            }
        }
        let mut rows: Vec<PathRow> = kept
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let path = graph.paths[i].path.clone();
                PathRow {
                    name: store_name(&path).to_string(),
                    path,
                    nar_size: nar[k],
                    closure_size: closure[k],
                    added_size: added[k],
                    package: false,
                    layer: None,
                }
            })
            .collect();
        for &p in &packages {
            rows[p].package = true;
        }
        Ok(ClosureModel {
            env_path: env_path.to_string(),
            rows,
            packages,
            refs,
            by_path,
            root,
            layers: Vec::new(),
        })
    }

    /// Notes which layer of `plan` each path lands in, and each layer's size (`tar_size(i)`: the
    /// layer cache's size of layer `i`, when known).
    pub fn with_layers(
        mut self,
        plan: &LayerPlan,
        tar_size: impl Fn(usize) -> Option<u64>,
    ) -> ClosureModel {
        self.layers = plan
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let largest = l
                    .paths
                    .iter()
                    .filter_map(|p| self.by_path.get(p))
                    .max_by_key(|&&k| (self.rows[k].nar_size, std::cmp::Reverse(k)))
                    .map(|&k| self.rows[k].name.clone())
                    .unwrap_or_default();
                for p in &l.paths {
                    if let Some(&k) = self.by_path.get(p) {
                        self.rows[k].layer = Some(i);
                    }
                }
                LayerRow {
                    index: i,
                    paths: l.paths.len(),
                    nar_size: l.nar_size,
                    size: tar_size(i),
                    largest,
                }
            })
            .collect();
        self
    }

    /// The environment's row.
    pub fn root(&self) -> &PathRow {
        &self.rows[self.root]
    }

    /// The NAR size of the whole closure.
    pub fn total_size(&self) -> u64 {
        self.root().closure_size
    }

    /// The packages' rows sorted by `key`.
    pub fn package_rows(&self, key: SortKey) -> Vec<PathRow> {
        let mut rows: Vec<PathRow> = self
            .packages
            .iter()
            .map(|&i| self.rows[i].clone())
            .collect();
        sort_rows(&mut rows, key);
        rows
    }

    /// Every path's row sorted by `key`.
    pub fn path_rows(&self, key: SortKey) -> Vec<PathRow> {
        let mut rows = self.rows.clone();
        sort_rows(&mut rows, key);
        rows
    }

    /// The row of `query`: a store path, a name (`hello-2.12.1`), a package name without its
    /// version (`hello`), or an attribute path whose last part is one (`python3Packages.numpy`).
    /// Packages win over other paths of the same name; `None` when nothing matches.
    pub fn find(&self, query: &str) -> Option<&PathRow> {
        let q = query.trim();
        if let Some(&i) = self.by_path.get(q.trim_end_matches('/')) {
            return Some(&self.rows[i]);
        }
        let last = q.rsplit('.').next().unwrap_or(q);
        // Exact names first, then `name-<version>`; packages before other paths, then by name.
        let candidates = |name: &str| {
            let mut hits: Vec<&PathRow> = self
                .rows
                .iter()
                .filter(|r| {
                    r.name == name
                        || r.name
                            .strip_prefix(name)
                            .and_then(|rest| rest.strip_prefix('-'))
                            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                })
                .collect();
            hits.sort_by(|a, b| {
                b.package
                    .cmp(&a.package)
                    .then_with(|| (a.name != name).cmp(&(b.name != name)))
                    .then_with(|| a.name.cmp(&b.name))
                    .then_with(|| a.path.cmp(&b.path))
            });
            hits.first().copied()
        };
        candidates(q).or_else(|| candidates(last))
    }

    /// Why `query` is in the closure: the shortest reference chain from the environment through a
    /// configured package down to it (as `nix why-depends` shows one), root first.
    pub fn why(&self, query: &str) -> Result<Vec<&PathRow>, InspectError> {
        let target = self
            .find(query)
            .and_then(|r| self.by_path.get(&r.path).copied())
            .ok_or_else(|| InspectError::NotInClosure {
                query: query.to_string(),
            })?;
        // Breadth first from the root: the first chain found is a shortest one.
        let mut parent = vec![usize::MAX; self.rows.len()];
        parent[self.root] = self.root;
        let mut queue = std::collections::VecDeque::from([self.root]);
        while let Some(i) = queue.pop_front() {
            if i == target {
                break;
            }
            for &j in &self.refs[i] {
                let j = j as usize;
                if parent[j] == usize::MAX {
                    parent[j] = i;
                    queue.push_back(j);
                }
            }
        }
        let mut chain = vec![target];
        let mut at = target;
        while at != self.root {
            at = parent[at];
            chain.push(at);
        }
        chain.reverse();
        Ok(chain.into_iter().map(|i| &self.rows[i]).collect())
    }

    /// The closure as a Graphviz digraph: a node per path labelled with its name and own size,
    /// the configured packages boxed, an edge per reference.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph closure {\n  rankdir=LR;\n  node [shape=ellipse];\n");
        for (i, r) in self.rows.iter().enumerate() {
            let shape = if i == self.root {
                ", shape=doubleoctagon"
            } else if r.package {
                ", shape=box, style=bold"
            } else {
                ""
            };
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{}\"{shape}];\n",
                dot_escape(&r.path),
                dot_escape(&r.name),
                human_bytes(r.nar_size)
            ));
        }
        for (i, rs) in self.refs.iter().enumerate() {
            for &j in rs {
                out.push_str(&format!(
                    "  \"{}\" -> \"{}\";\n",
                    dot_escape(&self.rows[i].path),
                    dot_escape(&self.rows[j as usize].path)
                ));
            }
        }
        out.push_str("}\n");
        out
    }
}

fn dot_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// `1.2 MiB`-style sizes, as the CLI and the TUI print them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The nodes reachable from `root`, parents before children; `None` on a cycle.
fn topological(refs: &[Vec<u32>], root: usize) -> Option<Vec<usize>> {
    let n = refs.len();
    let mut indegree = vec![0usize; n];
    for rs in refs {
        for &j in rs {
            indegree[j as usize] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &j in &refs[i] {
            let j = j as usize;
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(j);
            }
        }
    }
    // Every node is reachable from the root (the model keeps only those), so the root is the only
    // one without referrers and comes first.
    (order.len() == n && order.first() == Some(&root)).then_some(order)
}

/// Each node's closure NAR size: bitsets ORed children first.
fn closure_sizes(refs: &[Vec<u32>], nar: &[u64], order: &[usize]) -> Vec<u64> {
    let n = refs.len();
    let words = n.div_ceil(64);
    let mut sets = vec![0u64; n * words];
    let mut sizes = vec![0u64; n];
    for &i in order.iter().rev() {
        let (own_start, _) = (i * words, 0);
        sets[own_start + i / 64] |= 1 << (i % 64);
        for &j in &refs[i] {
            let j = j as usize;
            for w in 0..words {
                let bit = sets[j * words + w];
                sets[own_start + w] |= bit;
            }
        }
        let mut total = 0;
        for w in 0..words {
            let mut bits = sets[own_start + w];
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                total += nar[w * 64 + b];
                bits &= bits - 1;
            }
        }
        sizes[i] = total;
    }
    sizes
}

/// Each node's dominator-subtree NAR size, the tree rooted at `root`.
fn added_sizes(refs: &[Vec<u32>], nar: &[u64], order: &[usize], root: usize) -> Vec<u64> {
    let n = refs.len();
    let mut rank = vec![0usize; n];
    for (k, &i) in order.iter().enumerate() {
        rank[i] = k;
    }
    let mut parents = vec![Vec::new(); n];
    for (i, rs) in refs.iter().enumerate() {
        for &j in rs {
            parents[j as usize].push(i);
        }
    }
    let mut idom = vec![usize::MAX; n];
    idom[root] = root;
    for &v in order.iter().skip(1) {
        let mut d = usize::MAX;
        for &p in &parents[v] {
            d = if d == usize::MAX {
                p
            } else {
                let (mut a, mut b) = (d, p);
                while a != b {
                    while rank[a] > rank[b] {
                        a = idom[a];
                    }
                    while rank[b] > rank[a] {
                        b = idom[b];
                    }
                }
                a
            };
        }
        idom[v] = d;
    }
    let mut added = nar.to_vec();
    // Children come after their dominator in topological order: sum bottom up.
    for &v in order.iter().rev() {
        if v != root {
            added[idom[v]] += added[v];
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nixbuild::StorePathInfo;

    fn p(name: &str) -> String {
        format!("/nix/store/{:0>32}-{name}", name.len())
    }

    fn graph(nodes: &[(&str, u64, &[&str])]) -> ClosureGraph {
        ClosureGraph {
            roots: vec![p(nodes[0].0)],
            paths: nodes
                .iter()
                .map(|(name, size, refs)| StorePathInfo {
                    path: p(name),
                    nar_size: *size,
                    nar_hash: String::new(),
                    closure_size: None,
                    references: std::iter::once(p(name))
                        .chain(refs.iter().map(|r| p(r)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// env → {python, numpy, hello}; numpy → python (shared); python → {openssl, glibc};
    /// hello → glibc; numpy → blas (only numpy keeps it).
    fn shared() -> ClosureGraph {
        graph(&[
            ("biar-env", 1, &["python-3.12", "numpy-2.0", "hello-2.12"]),
            ("python-3.12", 100, &["openssl-3.0", "glibc-2.40"]),
            ("numpy-2.0", 50, &["python-3.12", "blas-0.3"]),
            ("hello-2.12", 10, &["glibc-2.40"]),
            ("openssl-3.0", 20, &["glibc-2.40"]),
            ("glibc-2.40", 30, &[]),
            ("blas-0.3", 40, &["glibc-2.40"]),
        ])
    }

    fn row<'a>(m: &'a ClosureModel, name: &str) -> &'a PathRow {
        m.rows.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn added_size_counts_only_what_the_package_alone_keeps_alive() {
        let m = ClosureModel::new(&shared(), &p("biar-env")).unwrap();
        // numpy alone keeps itself and blas; python is also configured, glibc shared by all.
        assert_eq!(row(&m, "numpy-2.0").added_size, 50 + 40);
        // python is referenced by numpy too: removing it from the list saves nothing.
        assert_eq!(row(&m, "python-3.12").added_size, 0);
        // openssl hangs off python alone: it goes with python (as a path, not a package).
        assert_eq!(row(&m, "openssl-3.0").added_size, 20);
        assert_eq!(row(&m, "hello-2.12").added_size, 10);
        assert_eq!(row(&m, "glibc-2.40").added_size, 30);
        assert_eq!(row(&m, "biar-env").added_size, 251);
        // Closure sizes as `nix path-info -S` counts them.
        assert_eq!(row(&m, "numpy-2.0").closure_size, 50 + 40 + 100 + 20 + 30);
        assert_eq!(row(&m, "hello-2.12").closure_size, 40);
        assert_eq!(m.total_size(), 251);
        let names: Vec<&str> = m
            .packages
            .iter()
            .map(|&i| m.rows[i].name.as_str())
            .collect();
        assert_eq!(names, ["python-3.12", "numpy-2.0", "hello-2.12"]);
    }

    #[test]
    fn a_diamond_is_dominated_by_its_top_only() {
        // env → a → {b, c} → d: d is a's alone (both ways go through a), not b's or c's.
        let m = ClosureModel::new(
            &graph(&[
                ("biar-env", 0, &["a-1"]),
                ("a-1", 1, &["b-1", "c-1"]),
                ("b-1", 2, &["d-1"]),
                ("c-1", 4, &["d-1"]),
                ("d-1", 8, &[]),
            ]),
            &p("biar-env"),
        )
        .unwrap();
        assert_eq!(row(&m, "a-1").added_size, 15);
        assert_eq!(row(&m, "b-1").added_size, 2);
        assert_eq!(row(&m, "c-1").added_size, 4);
        assert_eq!(row(&m, "a-1").closure_size, 15);
    }

    #[test]
    fn sorting_by_each_key() {
        let m = ClosureModel::new(&shared(), &p("biar-env")).unwrap();
        let names = |k| -> Vec<String> { m.package_rows(k).into_iter().map(|r| r.name).collect() };
        assert_eq!(
            names(SortKey::Added),
            ["numpy-2.0", "hello-2.12", "python-3.12"]
        );
        assert_eq!(
            names(SortKey::Closure),
            ["numpy-2.0", "python-3.12", "hello-2.12"]
        );
        assert_eq!(
            names(SortKey::Name),
            ["hello-2.12", "numpy-2.0", "python-3.12"]
        );
        assert_eq!(SortKey::Name.next(), SortKey::Added);
    }

    #[test]
    fn why_gives_a_shortest_chain_from_the_environment() {
        let m = ClosureModel::new(&shared(), &p("biar-env")).unwrap();
        let chain: Vec<&str> = m
            .why("blas")
            .unwrap()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(chain, ["biar-env", "numpy-2.0", "blas-0.3"]);
        let chain: Vec<&str> = m
            .why(&p("openssl-3.0"))
            .unwrap()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(chain, ["biar-env", "python-3.12", "openssl-3.0"]);
        // An attribute path names its last part.
        assert_eq!(m.why("python3Packages.numpy").unwrap().len(), 2);
        match m.why("perl") {
            Err(InspectError::NotInClosure { query }) => assert_eq!(query, "perl"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layers_and_dot() {
        let g = shared();
        let plan = crate::image::plan_with(&g, 3, Default::default()).unwrap();
        let m = ClosureModel::new(&g, &p("biar-env"))
            .unwrap()
            .with_layers(&plan, |i| (i == 0).then_some(4096));
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers.iter().map(|l| l.nar_size).sum::<u64>(), 251);
        assert_eq!(m.layers[0].size, Some(4096));
        assert!(m.rows.iter().all(|r| r.layer.is_some()));
        let dot = m.dot();
        assert!(dot.starts_with("digraph closure {"));
        assert_eq!(dot.matches(" -> ").count(), 10);
    }

    #[test]
    fn the_real_334_path_graph() {
        let path = format!(
            "{}/tests/data/closure-ankisyncd.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let g = ClosureGraph::from_export_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        let m = ClosureModel::new(&g, &g.roots[0]).unwrap();
        assert_eq!(m.rows.len(), 334);
        // exportReferencesGraph recorded each path's closure size: ours agree.
        for info in &g.paths {
            if let Some(expected) = info.closure_size {
                assert_eq!(
                    m.find(&info.path).unwrap().closure_size,
                    expected,
                    "{}",
                    info.path
                );
            }
        }
        assert_eq!(m.total_size(), g.total_nar_size());
    }
}
