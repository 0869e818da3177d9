//! Attribute paths such as `ripgrep`, `python312Packages.numpy` or `emacsPackages."ghub+"`.

use std::fmt;

use serde::{Serialize, Serializer};

use super::NixError;

/// Words Nix reserves: an unquoted attribute name cannot be one of them.
const KEYWORDS: &[&str] = &[
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
];

/// A dotted attribute path, one name per segment (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrPath {
    segments: Vec<String>,
}

impl AttrPath {
    /// Parses what a user typed: segments separated by `.`, each a Nix identifier
    /// (`[A-Za-z_][A-Za-z0-9_'-]*`, not a keyword) or a double-quoted name without `"`, `\` or
    /// `${`. Anything else (`hello ]; x`, `a..b`, `"x${y}"`) is rejected, so an attribute can
    /// never inject Nix syntax into a file.
    pub fn parse(input: &str) -> Result<AttrPath, NixError> {
        let bad = |reason: &str| NixError::BadAttr {
            attr: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut segments = Vec::new();
        let mut rest = input;
        loop {
            let (segment, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| bad("a quoted name is not closed"))?;
                let name = &quoted[..end];
                if name.is_empty() {
                    return Err(bad("a quoted name is empty"));
                }
                if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
                    return Err(bad(&format!(
                        "a package name cannot hold {c:?} (letters, digits and `_ + . ' -` only)"
                    )));
                }
                (name.to_string(), &quoted[end + 1..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                let name = &rest[..end];
                if name.is_empty() {
                    return Err(bad("it has an empty segment (check the dots)"));
                }
                if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
                    return Err(bad(&format!(
                        "a package name cannot hold {c:?} (letters, digits and `_ + . ' -` only)"
                    )));
                }
                if !is_identifier(name) {
                    return Err(bad(&format!(
                        "`{name}` needs quotes in Nix (unquoted names start with a letter or `_` \
                         and hold only letters, digits, `_`, `'` and `-`): write \"{name}\""
                    )));
                }
                if KEYWORDS.contains(&name) {
                    return Err(bad(&format!("`{name}` is a Nix keyword")));
                }
                (name.to_string(), &rest[end..])
            };
            segments.push(segment);
            if after.is_empty() {
                break;
            }
            rest = after
                .strip_prefix('.')
                .ok_or_else(|| bad("a quoted name must be followed by `.` or the end"))?;
            if rest.is_empty() {
                return Err(bad("it ends with a dot"));
            }
        }
        Ok(AttrPath { segments })
    }

    /// Builds a path from names already known to be valid attribute names (e.g. read from a
    /// parsed file). Names that need quotes are quoted when displayed.
    pub fn from_segments(segments: Vec<String>) -> AttrPath {
        AttrPath { segments }
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The path without a leading `prefix.` segment (e.g. `pkgs.jq` → `jq`), when it has one and
    /// something follows it.
    pub fn strip_prefix(&self, prefix: &str) -> Option<AttrPath> {
        if self.segments.len() > 1 && self.segments[0] == prefix {
            Some(AttrPath {
                segments: self.segments[1..].to_vec(),
            })
        } else {
            None
        }
    }

    /// True when the first name needs quotes (`"a.b"`, `"7zip"`, `"if"`): written alone, a
    /// quoted name in a list is a string, not an attribute, so it must follow the package set's
    /// name (`pkgs."a.b"`).
    pub fn needs_head(&self) -> bool {
        self.segments
            .first()
            .is_some_and(|s| !is_identifier(s) || KEYWORDS.contains(&s.as_str()))
    }

    /// `prefix.` + this path.
    pub fn with_prefix(&self, prefix: &str) -> AttrPath {
        let mut segments = vec![prefix.to_string()];
        segments.extend(self.segments.iter().cloned());
        AttrPath { segments }
    }
}

/// Characters biar-tui accepts in a package name (nixpkgs' names use no others): quoting lets
/// `+` and leading digits through, never anything that could end the string or the list.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '.' | '\'' | '-')
}

/// A name Nix accepts unquoted in an attribute path.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
}

impl fmt::Display for AttrPath {
    /// The Nix source form: `a.b`, quoting names that need it (`emacsPackages."ghub+"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if is_identifier(s) && !KEYWORDS.contains(&s.as_str()) {
                f.write_str(s)?;
            } else {
                write!(f, "\"{s}\"")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for AttrPath {
    type Err = NixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttrPath::parse(s)
    }
}

impl Serialize for AttrPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_dotted_paths_parse() {
        assert_eq!(AttrPath::parse("ripgrep").unwrap().segments(), ["ripgrep"]);
        let p = AttrPath::parse("python312Packages.numpy").unwrap();
        assert_eq!(p.segments(), ["python312Packages", "numpy"]);
        assert_eq!(p.to_string(), "python312Packages.numpy");
        assert!(AttrPath::parse("_1password-gui").is_ok());
        assert!(AttrPath::parse("gnome2.GConf").is_ok());
        assert!(AttrPath::parse("ocamlPackages.ppx_deriving'").is_ok());
    }

    #[test]
    fn quoted_names_round_trip() {
        let p = AttrPath::parse("emacsPackages.\"ghub+\"").unwrap();
        assert_eq!(p.segments(), ["emacsPackages", "ghub+"]);
        assert_eq!(p.to_string(), "emacsPackages.\"ghub+\"");
        assert_eq!(
            AttrPath::from_segments(vec!["x".into(), "if".into()]).to_string(),
            "x.\"if\""
        );
    }

    #[test]
    fn injections_and_malformed_paths_are_rejected() {
        for bad in [
            "",
            "hello ]; x",
            "hello ]",
            "a..b",
            ".a",
            "a.",
            "1abc",
            "-x",
            "a b",
            "a;b",
            "\"x${y}\"",
            "\"a\\\"b\"",
            "\"hello ]; x\"",
            "\"a b\"",
            "\"a;b\"",
            "\"unclosed",
            "\"a\"b",
            "if",
            "pkgs.with",
            "a\nb",
            "emacsPackages.ghub+",
        ] {
            let err = AttrPath::parse(bad).unwrap_err();
            assert!(
                matches!(err, NixError::BadAttr { .. }),
                "{bad:?} gave {err}"
            );
            assert_eq!(err.category(), crate::Category::BadInput);
        }
    }

    proptest::proptest! {
        #[test]
        fn display_parses_back_to_the_same_path(
            segments in proptest::collection::vec("[a-zA-Z_+.0-9-]{1,8}", 1..4)
        ) {
            let segments: Vec<String> = segments
                .into_iter()
                .filter(|s| !s.contains('"'))
                .collect();
            proptest::prop_assume!(!segments.is_empty());
            let p = AttrPath::from_segments(segments);
            let back = AttrPath::parse(&p.to_string()).unwrap();
            proptest::prop_assert_eq!(back, p);
        }
    }

    #[test]
    fn a_quoted_first_name_needs_the_package_set_in_front() {
        for (input, needs) in [
            ("\"a.b\"", true),
            ("\"7zip\"", true),
            ("\"if\"", true),
            ("\"hello\"", false),
            ("emacsPackages.\"ghub+\"", false),
        ] {
            assert_eq!(
                AttrPath::parse(input).unwrap().needs_head(),
                needs,
                "{input}"
            );
        }
    }

    #[test]
    fn prefixes() {
        let p = AttrPath::parse("pkgs.jq").unwrap();
        assert_eq!(p.strip_prefix("pkgs").unwrap().to_string(), "jq");
        assert!(AttrPath::parse("pkgs")
            .unwrap()
            .strip_prefix("pkgs")
            .is_none());
        assert_eq!(
            AttrPath::parse("jq")
                .unwrap()
                .with_prefix("pkgs")
                .to_string(),
            "pkgs.jq"
        );
    }
}
