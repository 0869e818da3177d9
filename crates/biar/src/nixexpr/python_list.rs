//! Python packages go where the file keeps its Python. Adding `python3Packages.requests` to a
//! file that has `(python312.withPackages (ps: [ … ]))` for the same Python puts `requests` (or
//! `ps.requests`, as the list writes them) into that list, so the file reads the way a person
//! would write it; otherwise the attribute is a plain entry (the build's composition makes it
//! importable either way). Removing takes it out of either place.
//!
//! This module reads text, not values: "the same Python" is decided by name, with nixpkgs'
//! alias of the pinned set (`python3` is `python312`), and a list is only edited when it is
//! written as a list literal (`ps: [ … ]`, `ps: with ps; [ … ]`).

use std::path::Path;

use rnix::{SyntaxKind, SyntaxNode};

use super::parse::parse;
use super::AttrPath;

/// nixpkgs' aliases of versioned Python sets in the pinned package set (nixos-24.11, and the
/// test package set): `python3` is `python312`.
const ALIASES: &[(&str, &str)] = &[("python3", "python312")];

/// The interpreter an interpreter name stands for after aliases (`python3` → `python312`).
fn canonical(interpreter: &str) -> Option<String> {
    let rest = interpreter.strip_prefix("python")?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == interpreter)
            .map(|(_, target)| target.to_string())
            .unwrap_or_else(|| interpreter.to_string()),
    )
}

/// `python3Packages.requests` → (`python312`, `requests`); other attributes → `None`.
pub(super) fn python_package(attr: &AttrPath) -> Option<(String, String)> {
    let [set, name] = attr.segments() else {
        return None;
    };
    let interpreter = canonical(set.strip_suffix("Packages")?)?;
    Some((interpreter, name.clone()))
}

/// The byte range of the function given to a `withPackages` of `interpreter` in `text` (the
/// `ps: with ps; [ … ]` of `python312.withPackages (ps: with ps; [ … ])`), the first one.
pub(super) fn with_packages_function(
    path: &Path,
    text: &str,
    pkgs_name: Option<&str>,
    interpreter: &str,
) -> Option<(usize, usize)> {
    let root = parse(path, text).ok()?;
    root.descendants()
        .filter(|n| n.kind() == SyntaxKind::NODE_APPLY)
        .find_map(|apply| {
            let mut kids = apply.children();
            let function = kids.next()?;
            let mut argument = kids.next()?;
            let written = select_path(&function)?;
            let mut segments = written.as_slice();
            if segments.first().map(String::as_str) == Some(pkgs_name.unwrap_or("pkgs")) {
                segments = &segments[1..];
            }
            let [python, with_packages] = segments else {
                return None;
            };
            if with_packages != "withPackages" || canonical(python).as_deref() != Some(interpreter)
            {
                return None;
            }
            while argument.kind() == SyntaxKind::NODE_PAREN {
                argument = argument.children().next()?;
            }
            (argument.kind() == SyntaxKind::NODE_LAMBDA).then(|| {
                let r = argument.text_range();
                (usize::from(r.start()), usize::from(r.end()))
            })
        })
}

/// `a.b.c` as its segments, for plain identifiers only.
fn select_path(node: &SyntaxNode) -> Option<Vec<String>> {
    match node.kind() {
        SyntaxKind::NODE_IDENT => Some(vec![node.text().to_string()]),
        SyntaxKind::NODE_SELECT => {
            let mut kids = node.children();
            let head = kids.next()?;
            if head.kind() != SyntaxKind::NODE_IDENT {
                return None;
            }
            let mut out = vec![head.text().to_string()];
            let path = kids.next()?;
            for part in path.children() {
                if part.kind() != SyntaxKind::NODE_IDENT {
                    return None;
                }
                out.push(part.text().to_string());
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_sets_after_aliases() {
        let p = |s: &str| python_package(&AttrPath::parse(s).unwrap());
        assert_eq!(
            p("python3Packages.requests"),
            Some(("python312".into(), "requests".into()))
        );
        assert_eq!(
            p("python311Packages.numpy"),
            Some(("python311".into(), "numpy".into()))
        );
        assert_eq!(p("pythonPackages.numpy"), None);
        assert_eq!(p("nodePackages.prettier"), None);
        assert_eq!(p("python3Packages.numpy.dist"), None);
    }

    #[test]
    fn the_function_of_a_matching_with_packages() {
        let text = "{ pkgs }:\nwith pkgs; [\n  (python312.withPackages (ps: with ps; [\n    numpy\n  ]))\n]\n";
        let (s, e) =
            with_packages_function(Path::new("f.nix"), text, Some("pkgs"), "python312").unwrap();
        assert_eq!(&text[s..e], "ps: with ps; [\n    numpy\n  ]");
        assert!(
            with_packages_function(Path::new("f.nix"), text, Some("pkgs"), "python311").is_none()
        );
        let text = "{ pkgs }: [ (pkgs.python3.withPackages (p: [ p.numpy ])) ]";
        let (s, e) =
            with_packages_function(Path::new("f.nix"), text, Some("pkgs"), "python312").unwrap();
        assert_eq!(&text[s..e], "p: [ p.numpy ]");
    }

    fn edit(text: &str, add: &[&str], remove: &[&str]) -> String {
        let mut f =
            super::super::PackageFile::from_text(Path::new("user.nix"), text.to_string()).unwrap();
        let attrs = |xs: &[&str]| -> Vec<AttrPath> {
            xs.iter().map(|x| AttrPath::parse(x).unwrap()).collect()
        };
        f.add(&attrs(add)).unwrap();
        f.remove(&attrs(remove)).unwrap();
        f.text().to_string()
    }

    #[test]
    fn a_python_package_joins_the_files_own_list_for_its_python() {
        let preset = "{ pkgs }:\nwith pkgs; [\n  (python312.withPackages (ps: with ps; [\n    numpy\n  ]))\n  ruff\n]\n";
        let added = edit(preset, &["python3Packages.requests"], &[]);
        assert_eq!(
            added,
            "{ pkgs }:\nwith pkgs; [\n  (python312.withPackages (ps: with ps; [\n    numpy\n    requests\n  ]))\n  ruff\n]\n"
        );
        // Remove undoes it; a package already in the list is not added twice.
        assert_eq!(edit(&added, &[], &["python3Packages.requests"]), preset);
        assert_eq!(edit(preset, &["python312Packages.numpy"], &[]), preset);
        // `ps.x` style is kept.
        assert_eq!(
            edit(
                "{ pkgs }: [ (pkgs.python3.withPackages (ps: [ ps.numpy ])) ]",
                &["python312Packages.pandas"],
                &[]
            ),
            "{ pkgs }: [ (pkgs.python3.withPackages (ps: [ ps.numpy ps.pandas ])) ]"
        );
    }

    #[test]
    fn elsewhere_a_python_package_is_a_plain_entry() {
        // Another Python's list, or none: a plain entry (the build makes it importable, or says
        // the two Pythons conflict).
        let other = "{ pkgs }:\nwith pkgs; [\n  (python311.withPackages (ps: [ ps.numpy ]))\n]\n";
        assert_eq!(
            edit(other, &["python3Packages.requests"], &[]),
            "{ pkgs }:\nwith pkgs; [\n  (python311.withPackages (ps: [ ps.numpy ]))\n  python3Packages.requests\n]\n"
        );
        assert_eq!(
            edit(
                "{ pkgs }:\nwith pkgs; [\n  hello\n  python3Packages.requests\n]\n",
                &[],
                &["python3Packages.requests"]
            ),
            "{ pkgs }:\nwith pkgs; [\n  hello\n]\n"
        );
    }
}
