//! Image names as package lists: `shell/git/preset-python/python3Packages.numpy`. Every path
//! component is checked before anything runs: a package is a plain attribute path (Nix
//! identifiers joined by dots, nothing quoted), so no component can inject Nix syntax into the
//! generated configuration; `shell` is a no-op (the base always has a shell), `preset-NAME` a
//! shipped preset. Components are sorted and deduplicated: the same set, the same image.

use std::fmt;

/// At most this many components in one name (a name is a URL path; the build has to end).
pub const MAX_COMPONENTS: usize = 32;
/// At most this many bytes in one component.
pub const MAX_COMPONENT_LEN: usize = 128;

/// What a name asks for, canonical (sorted, no duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// Attribute paths of the package set, dotted (`python3Packages.numpy`).
    pub packages: Vec<String>,
    /// Shipped preset names.
    pub presets: Vec<String>,
}

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    TooMany(usize),
    Invalid {
        component: String,
        reason: String,
    },
    UnknownPreset {
        name: String,
        available: Vec<String>,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::TooMany(n) => write!(
                f,
                "the name has {n} components: at most {MAX_COMPONENTS} packages make one image"
            ),
            NameError::Invalid { component, reason } => write!(
                f,
                "{component:?} is not a package attribute path: {reason} (a component is \
                 `name` or `set.name`, letters, digits, `_`, `-`, `'`)"
            ),
            NameError::UnknownPreset { name, available } => write!(
                f,
                "no shipped preset named {name:?}; the presets are: {}",
                available
                    .iter()
                    .map(|p| format!("preset-{p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Nix reserves these: an unquoted attribute cannot be one.
const KEYWORDS: &[&str] = &[
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
];

/// `[A-Za-z_][A-Za-z0-9_'-]*`, not a keyword.
fn identifier(segment: &str) -> Result<(), String> {
    let mut chars = segment.chars();
    match chars.next() {
        None => return Err("it has an empty segment".into()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) => return Err(format!("a segment starts with {c:?}")),
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))) {
        return Err(format!("it contains {c:?}"));
    }
    if KEYWORDS.contains(&segment) {
        return Err(format!("{segment:?} is a Nix keyword"));
    }
    Ok(())
}

/// Checks one package component.
fn attribute(component: &str) -> Result<(), NameError> {
    let invalid = |reason: String| NameError::Invalid {
        component: component.to_string(),
        reason,
    };
    if component.len() > MAX_COMPONENT_LEN {
        return Err(invalid(format!(
            "it is longer than {MAX_COMPONENT_LEN} bytes"
        )));
    }
    for segment in component.split('.') {
        identifier(segment).map_err(invalid)?;
    }
    Ok(())
}

/// Parses the `<name>` of a request (the path between `/v2/` and `/manifests/`).
pub fn parse(name: &str) -> Result<ImageName, NameError> {
    let components: Vec<&str> = name.split('/').collect();
    if components.len() > MAX_COMPONENTS {
        return Err(NameError::TooMany(components.len()));
    }
    let mut packages = Vec::new();
    let mut presets = Vec::new();
    for component in components {
        if component == "shell" {
            continue;
        }
        if let Some(preset) = component.strip_prefix("preset-") {
            if biar::presets::shipped(preset).is_none() {
                return Err(NameError::UnknownPreset {
                    name: preset.to_string(),
                    available: biar::presets::SHIPPED
                        .iter()
                        .map(|(n, _)| n.to_string())
                        .collect(),
                });
            }
            presets.push(preset.to_string());
            continue;
        }
        attribute(component)?;
        packages.push(component.to_string());
    }
    packages.sort();
    packages.dedup();
    presets.sort();
    presets.dedup();
    Ok(ImageName { packages, presets })
}

impl ImageName {
    /// The canonical name (`shell/` first, as users write it): what the server shows.
    pub fn canonical(&self) -> String {
        let mut parts = vec!["shell".to_string()];
        parts.extend(self.presets.iter().map(|p| format!("preset-{p}")));
        parts.extend(self.packages.iter().cloned());
        parts.join("/")
    }

    /// The user configuration file listing the packages (each already checked by [`parse`]).
    pub fn user_nix(&self) -> String {
        let mut out =
            String::from("# Written by `biar-tui serve` from an image name.\n{ pkgs }:\n[\n");
        for p in &self.packages {
            out.push_str(&format!("  pkgs.{p}\n"));
        }
        out.push_str("]\n");
        out
    }
}

/// What a component means, given the attribute paths of the package set it matches (exactly or
/// but for case, see `biar::index::case_matches`): itself when exact or when nothing matches
/// (Nix's evaluation then refuses it, with "did you mean"), the one path it matches but for case
/// (`docker pull` allows only lower case), or `Err` with the candidates when several do.
pub fn choose(asked: &str, found: &[String]) -> Result<String, Vec<String>> {
    if found.is_empty() || found.iter().any(|f| f == asked) {
        return Ok(asked.to_string());
    }
    match found {
        [one] => Ok(one.clone()),
        many => Err(many.to_vec()),
    }
}

impl ImageName {
    /// The same name with each package replaced by what it means (`meaning`), sorted again.
    pub fn mapped(&self, meaning: impl Fn(&str) -> String) -> ImageName {
        let mut packages: Vec<String> = self.packages.iter().map(|p| meaning(p)).collect();
        packages.sort();
        packages.dedup();
        ImageName {
            packages,
            presets: self.presets.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_components_mean_the_one_attribute_they_match() {
        let found = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Exact wins even when other names differ only by case.
        assert_eq!(
            choose("hello", &found(&["hello", "Hello"])),
            Ok("hello".into())
        );
        assert_eq!(
            choose(
                "python312packages.numpy",
                &found(&["python312Packages.numpy"])
            ),
            Ok("python312Packages.numpy".into())
        );
        // Nothing matches: left to Nix, which refuses it with "did you mean".
        assert_eq!(choose("hellp", &[]), Ok("hellp".into()));
        assert_eq!(
            choose("perl", &found(&["Perl", "PERL"])),
            Err(found(&["Perl", "PERL"]))
        );
        let name = parse("shell/python312packages.numpy/hello").unwrap();
        let meant = name.mapped(|p| {
            if p == "python312packages.numpy" {
                "python312Packages.numpy".into()
            } else {
                p.to_string()
            }
        });
        assert_eq!(
            meant,
            parse("python312Packages.numpy/hello/shell").unwrap(),
            "the same image as the exact name"
        );
    }

    #[test]
    fn order_duplicates_and_shell_do_not_matter() {
        let a = parse("shell/jq/git/preset-python").unwrap();
        let b = parse("git/preset-python/jq/jq").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.packages, ["git", "jq"]);
        assert_eq!(a.presets, ["python"]);
        assert_eq!(a.canonical(), "shell/preset-python/git/jq");
        assert_eq!(parse("shell").unwrap().packages, Vec::<String>::new());
    }

    #[test]
    fn attribute_paths_are_one_component() {
        let n = parse("shell/python312Packages.numpy/nodePackages.prettier").unwrap();
        assert_eq!(
            n.packages,
            ["nodePackages.prettier", "python312Packages.numpy"]
        );
        assert!(n.user_nix().contains("  pkgs.python312Packages.numpy\n"));
    }

    #[test]
    fn nothing_but_attribute_paths_reaches_nix() {
        for bad in [
            "a;b",
            "hello ]; builtins.exec",
            "\"quoted\"",
            "a..b",
            ".a",
            "a.",
            "${x}",
            "1abc",
            "rec",
            "a.with",
            "a b",
            "a\nb",
            "",
            "a%2fb",
            "import(./x)",
        ] {
            let err = parse(&format!("shell/{bad}")).unwrap_err();
            assert!(matches!(err, NameError::Invalid { .. }), "{bad:?}: {err}");
        }
        let long = "a".repeat(MAX_COMPONENT_LEN + 1);
        assert!(parse(&long).is_err());
    }

    #[test]
    fn too_many_components_are_refused() {
        let name = vec!["hello"; MAX_COMPONENTS + 1].join("/");
        assert_eq!(parse(&name), Err(NameError::TooMany(MAX_COMPONENTS + 1)));
        assert!(parse(&vec!["hello"; MAX_COMPONENTS].join("/")).is_ok());
    }

    #[test]
    fn presets_are_the_shipped_ones() {
        let err = parse("preset-nope").unwrap_err();
        assert!(err.to_string().contains("preset-python"), "{err}");
    }
}
