//! "Is this attribute in the package set?" for `add`, with "did you mean" suggestions.
//!
//! Channel indexes list each package once under one attribute, without aliases: `python3`,
//! `nodejs` and `python3Packages.numpy` are absent although Nix accepts them (they are
//! `python312`, `nodejs_22`, `python312Packages.numpy`). So an attribute also counts as known
//! when a top-level attribute is it plus a version suffix, or when the same package exists in a
//! package set whose name differs only by version digits.

use super::store::{last_segment, Index};

/// An attribute the index does not know, with close ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttr {
    pub attr: String,
    pub suggestions: Vec<String>,
}

fn strip_version(set: &str) -> String {
    set.chars()
        .filter(|c| !c.is_ascii_digit() && *c != '_')
        .collect()
}

impl Index {
    /// Whether `attr` names a package of this index, counting the aliases described above.
    pub fn knows(&self, attr: &str) -> bool {
        if attr.is_empty() {
            return false;
        }
        if self.contains(attr) {
            return true;
        }
        if !attr.contains('.') {
            // Entries are sorted: the ones starting with `attr` follow its insertion point.
            let start = self.lower_bound(attr);
            return (start..self.len())
                .map(|i| self.attr(i))
                .take_while(|a| a.starts_with(attr))
                .any(|a| {
                    let rest = &a.as_bytes()[attr.len()..];
                    !a.contains('.') && super::search::is_version_suffix(rest)
                });
        }
        let (set, name) = attr.rsplit_once('.').expect("has a dot");
        let want = strip_version(set);
        (0..self.len()).any(|i| {
            let a = self.attr(i);
            last_segment(a) == name
                && a.rsplit_once('.')
                    .is_some_and(|(s, _)| s != set && strip_version(s) == want)
        })
    }

    /// The attributes of `attrs` this index does not know, each with up to three suggestions.
    pub fn unknown(&self, attrs: &[String]) -> Vec<UnknownAttr> {
        attrs
            .iter()
            .filter(|a| !self.knows(a))
            .map(|a| UnknownAttr {
                attr: a.clone(),
                suggestions: self.suggest(a, 3),
            })
            .collect()
    }
}

impl std::fmt::Display for UnknownAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not in the package index", self.attr)?;
        if !self.suggestions.is_empty() {
            write!(f, "; did you mean {}?", self.suggestions.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn bundled() -> &'static Index {
        static IDX: OnceLock<Index> = OnceLock::new();
        IDX.get_or_init(|| crate::index::bundled().unwrap())
    }

    #[test]
    fn known_attributes_and_aliases() {
        let idx = bundled();
        for a in [
            "ripgrep",
            "haskellPackages.lens",
            "python3",
            "nodejs",
            "python3Packages.numpy",
            "python312Packages.numpy",
            "gcc",
        ] {
            assert!(idx.knows(a), "{a}");
        }
        for a in [
            "ripgrpe",
            "",
            "python3Packages.nosuchthing",
            "nosuchpkg",
            "nodePackages.numpy",
        ] {
            assert!(!idx.knows(a), "{a}");
        }
    }

    #[test]
    fn suggestions_for_misspellings() {
        let idx = bundled();
        let u = idx.unknown(&["ripgrpe".into(), "ripgrep".into(), "numpyy".into()]);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].suggestions[0], "ripgrep");
        assert!(
            u[0].to_string().contains("did you mean ripgrep"),
            "{}",
            u[0]
        );
        assert!(
            u[1].suggestions.iter().any(|s| s.ends_with(".numpy")),
            "{:?}",
            u[1]
        );
    }
}
