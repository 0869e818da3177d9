//! What changes between two generations (or a generation and the current configuration):
//! packages added, removed and changed (old → new version), store paths added and removed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Generation;

/// One side of a diff: what a generation (or the current build) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `#3 name:tag`, `current configuration`, `nothing`.
    pub label: String,
    /// The configured packages' names (`hello-2.12.1`).
    pub packages: Vec<String>,
    /// Every store path, sorted.
    pub paths: Vec<String>,
    pub closure_size: Option<u64>,
}

impl Snapshot {
    pub fn of_generation(g: &Generation) -> Snapshot {
        Snapshot {
            label: format!(
                "#{} {}",
                g.number,
                g.remote.as_deref().unwrap_or(&g.reference)
            ),
            packages: g.packages.clone(),
            paths: g.paths.clone(),
            closure_size: g.closure_size,
        }
    }
}

/// A package whose version changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// What changes from one snapshot to another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub from: String,
    pub to: String,
    /// Names with versions (`hello-2.12.1`).
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<Changed>,
    pub paths_added: Vec<String>,
    pub paths_removed: Vec<String>,
    pub size_from: Option<u64>,
    pub size_to: Option<u64>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.paths_added.is_empty()
            && self.paths_removed.is_empty()
    }
}

/// `(pname, version)` of a derivation name, as Nix's `parseDrvName` splits it: the version
/// starts at the first `-` followed by a digit (`python3.12-numpy-2.1.3` → `python3.12-numpy`,
/// `2.1.3`); no such `-`, no version.
pub fn parse_name(name: &str) -> (&str, &str) {
    let bytes = name.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'-' && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            return (&name[..i], &name[i + 1..]);
        }
    }
    (name, "")
}

/// The changes from `from` to `to`.
pub fn diff(from: &Snapshot, to: &Snapshot) -> Diff {
    let index = |s: &Snapshot| -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &s.packages {
            let (name, version) = parse_name(p);
            m.entry(name.to_string())
                .or_default()
                .insert(version.to_string());
        }
        m
    };
    let (old, new) = (index(from), index(to));
    let mut out = Diff {
        from: from.label.clone(),
        to: to.label.clone(),
        size_from: from.closure_size,
        size_to: to.closure_size,
        ..Default::default()
    };
    let full = |name: &str, v: &str| {
        if v.is_empty() {
            name.to_string()
        } else {
            format!("{name}-{v}")
        }
    };
    for (name, versions) in &new {
        match old.get(name) {
            None => out.added.extend(versions.iter().map(|v| full(name, v))),
            Some(before) if before != versions => {
                // One version each side: a change; otherwise say what came and went.
                if before.len() == 1 && versions.len() == 1 {
                    out.changed.push(Changed {
                        name: name.clone(),
                        from: before.iter().next().cloned().unwrap_or_default(),
                        to: versions.iter().next().cloned().unwrap_or_default(),
                    });
                } else {
                    out.added
                        .extend(versions.difference(before).map(|v| full(name, v)));
                    out.removed
                        .extend(before.difference(versions).map(|v| full(name, v)));
                }
            }
            Some(_) => {}
        }
    }
    for (name, versions) in &old {
        if !new.contains_key(name) {
            out.removed.extend(versions.iter().map(|v| full(name, v)));
        }
    }
    let (a, b): (BTreeSet<&String>, BTreeSet<&String>) =
        (from.paths.iter().collect(), to.paths.iter().collect());
    out.paths_added = b.difference(&a).map(|p| p.to_string()).collect();
    out.paths_removed = a.difference(&b).map(|p| p.to_string()).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(label: &str, packages: &[&str], paths: &[&str]) -> Snapshot {
        Snapshot {
            label: label.into(),
            packages: packages.iter().map(|s| s.to_string()).collect(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            closure_size: None,
        }
    }

    #[test]
    fn names_split_like_parse_drv_name() {
        assert_eq!(parse_name("hello-2.12.1"), ("hello", "2.12.1"));
        assert_eq!(
            parse_name("python3.12-numpy-2.1.3"),
            ("python3.12-numpy", "2.1.3")
        );
        assert_eq!(parse_name("python3-3.12.7-env"), ("python3", "3.12.7-env"));
        assert_eq!(parse_name("biar-env"), ("biar-env", ""));
    }

    #[test]
    fn packages_added_removed_and_changed() {
        let a = snap(
            "#1",
            &["hello-2.12.1", "vim-9.0", "shell-1.0"],
            &["/a", "/b"],
        );
        let b = snap(
            "now",
            &["hello-2.12.1", "vim-9.1", "nvi-1.81.6"],
            &["/b", "/c"],
        );
        let d = diff(&a, &b);
        assert_eq!(d.added, ["nvi-1.81.6"]);
        assert_eq!(d.removed, ["shell-1.0"]);
        assert_eq!(
            d.changed,
            [Changed {
                name: "vim".into(),
                from: "9.0".into(),
                to: "9.1".into()
            }]
        );
        assert_eq!(d.paths_added, ["/c"]);
        assert_eq!(d.paths_removed, ["/a"]);
        assert!(!d.is_empty());
        assert!(diff(&a, &a).is_empty());
    }
}
