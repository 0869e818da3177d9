//! nixpkgs' second names of versioned packages and package sets (`python3` is `python312`,
//! `python3Packages.numpy` is `python312Packages.numpy`, `jdk21` is `openjdk21`). A channel's
//! `packages.json` and the bundled list name each derivation once, so without these the other
//! name is unknown to search, `add` and the presets check although Nix accepts it.
//!
//! The table ships with the index (`data/nixpkgs-aliases.txt`, as of the bundled list); an index
//! gets the missing name of each pair as an entry of its own, with the other's version and
//! description.

use std::collections::BTreeMap;

use super::store::{Entry, Index};

static TABLE: &str = include_str!("../../data/nixpkgs-aliases.txt");

/// The table's equivalences, `(name, name)`.
pub fn pairs() -> Vec<(&'static str, &'static str)> {
    TABLE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.trim(), b.trim()))
        .collect()
}

/// A package set (`python3Packages`): the pair stands for every package in it.
fn is_set(name: &str) -> bool {
    name.ends_with("Packages") || name.ends_with("packages")
}

impl Index {
    /// This index with the other name of every pair where it lists only one (pairs chain:
    /// `jdk = jdk21`, `jdk21 = openjdk21`). Unchanged, and cheap, when nothing is missing; else
    /// rebuilt once.
    pub fn with_aliases(self) -> Index {
        let pairs = pairs();
        let mut added: BTreeMap<String, Entry> = BTreeMap::new();
        // Each round can make a name the next pair starts from (the table has short chains),
        // and so can the unlisted pairs: rounds after them too, so applying twice adds nothing.
        for pass in 0..2 {
            for _ in 0..4 {
                let before = added.len();
                for &(a, b) in &pairs {
                    for (have, want) in [(a, b), (b, a)] {
                        self.alias_one(have, want, &mut added);
                    }
                }
                if added.len() == before {
                    break;
                }
            }
            if pass == 0 {
                self.unlisted_pairs(&pairs, &mut added);
            }
        }
        if added.is_empty() {
            return self;
        }
        let source = self.source().clone();
        let entries: Vec<Entry> = self.entries().chain(added.into_values()).collect();
        Index::from_entries(source, entries)
    }

    fn knows_exactly(&self, name: &str, added: &BTreeMap<String, Entry>) -> bool {
        self.contains(name) || added.contains_key(name)
    }

    /// Adds `want` (or `want.X` for every `have.X` of a set) where only `have` is listed.
    fn alias_one(&self, have: &str, want: &str, added: &mut BTreeMap<String, Entry>) {
        let entry = |i: usize, attr: String| Entry {
            attr,
            pname: Some(self.pname(i).to_string()),
            version: self.version(i).map(str::to_string),
            description: self.description(i).map(str::to_string),
        };
        let mut found: Vec<Entry> = Vec::new();
        if is_set(have) {
            let prefix = format!("{have}.");
            for i in self.lower_bound(&prefix)..self.len() {
                let Some(rest) = self.attr(i).strip_prefix(&prefix) else {
                    break;
                };
                found.push(entry(i, format!("{want}.{rest}")));
            }
            for (attr, e) in added.range(prefix.clone()..) {
                let Some(rest) = attr.strip_prefix(&prefix) else {
                    break;
                };
                found.push(Entry {
                    attr: format!("{want}.{rest}"),
                    ..e.clone()
                });
            }
        } else if let Some(i) = self.position(have) {
            found.push(entry(i, want.to_string()));
        } else if let Some(e) = added.get(have) {
            found.push(Entry {
                attr: want.to_string(),
                ..e.clone()
            });
        }
        for e in found {
            if !self.knows_exactly(&e.attr, added) {
                added.insert(e.attr.clone(), e);
            }
        }
    }

    /// A nixpkgs list may name a package under neither name of its pair (the bundled list has
    /// no `python3` and no `python312`, only `python312Full`…): both names are nixpkgs', so both
    /// are known when the list has that family at all. Not for an index evaluated from the
    /// pinned set itself (nix-env), which says what that set has.
    fn unlisted_pairs(&self, pairs: &[(&str, &str)], added: &mut BTreeMap<String, Entry>) {
        if !matches!(self.source().kind.as_str(), "bundled" | "channel") {
            return;
        }
        let has_family = |name: &str| {
            let i = self.lower_bound(name);
            i < self.len() && self.attr(i).starts_with(name)
        };
        for &(a, b) in pairs {
            if is_set(a) || self.knows_exactly(a, added) || self.knows_exactly(b, added) {
                continue;
            }
            if has_family(a) || has_family(b) {
                for name in [a, b] {
                    added.insert(
                        name.to_string(),
                        Entry {
                            attr: name.to_string(),
                            ..Entry::default()
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> &'static Index {
        static IDX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
        IDX.get_or_init(|| crate::index::bundled().unwrap())
    }

    #[test]
    fn the_names_users_type_are_in_the_bundled_index() {
        let idx = bundled();
        for a in [
            "python3",
            "python312",
            "nodejs",
            "nodejs_22",
            "jdk21",
            "jdk",
            "openjdk21",
            "python3Packages.numpy",
            "python3Packages.requests",
            "python312Packages.numpy",
            "python3Packages.pandas",
        ] {
            assert!(idx.contains(a), "{a} is an entry");
        }
        // Every package of the versioned set is there under the alias too.
        let count = |prefix: &str| {
            (0..idx.len())
                .filter(|&i| idx.attr(i).starts_with(prefix))
                .count()
        };
        assert_eq!(count("python3Packages."), count("python312Packages."));
        // Applying the table again (a cache read back) adds nothing.
        let again = Index::from_entries(idx.source().clone(), idx.entries()).with_aliases();
        assert_eq!(again.len(), idx.len());
        assert!(count("python3Packages.") > 5000);
    }

    #[test]
    fn an_alias_carries_the_version_and_description_of_its_package() {
        let idx = Index::from_entries(
            crate::index::bundled::source(),
            [
                Entry {
                    attr: "python312".into(),
                    version: Some("3.12.8".into()),
                    description: Some("A high-level dynamically-typed programming language".into()),
                    ..Entry::default()
                },
                Entry {
                    attr: "python312Packages.numpy".into(),
                    pname: Some("numpy".into()),
                    version: Some("2.2.2".into()),
                    ..Entry::default()
                },
                Entry {
                    attr: "jdk".into(),
                    version: Some("21.0.5".into()),
                    ..Entry::default()
                },
            ],
        )
        .with_aliases();
        let at = |a: &str| idx.position(a).unwrap_or_else(|| panic!("{a}"));
        assert_eq!(idx.version(at("python3")), Some("3.12.8"));
        assert!(idx
            .description(at("python3"))
            .unwrap()
            .contains("high-level"));
        assert_eq!(idx.version(at("python3Packages.numpy")), Some("2.2.2"));
        // Chains: jdk = jdk21 = openjdk21.
        assert_eq!(idx.version(at("openjdk21")), Some("21.0.5"));
        assert!(idx.knows("python3Packages.numpy") && idx.knows("jdk21"));
        // Applying again changes nothing.
        let n = idx.len();
        assert_eq!(idx.with_aliases().len(), n);
    }
}
