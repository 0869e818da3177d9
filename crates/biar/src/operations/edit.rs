//! Editing the project: packages added to or removed from a package file (in place, comments and
//! layout kept), presets toggled. The CLI's `add`/`remove`/`toggle` and the TUI call these; they
//! only word the result.
//!
//! Blocking (file reads and an atomic write under the project's edit lock): call from
//! `spawn_blocking`.

use std::path::Path;

use crate::config::Project;
use crate::index::UnknownAttr;
use crate::nixexpr::AttrPath;

use super::Error;

/// How [`add_packages`] treats names the package index does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexCheck {
    /// Bad input, nothing changed (`add`).
    Refuse,
    /// Added anyway, listed in [`Added::unknown_forced`] (`add --force`).
    Warn,
    /// Not checked: the names come from the index itself (the TUI's search results).
    Skip,
}

/// What [`add_packages`] did.
#[derive(Debug)]
pub struct Added {
    /// The userConfig entry that was edited (`user.nix`).
    pub file: String,
    pub added: Vec<AttrPath>,
    pub already_present: Vec<AttrPath>,
    /// Names the index does not know, added anyway because the caller forced it.
    pub unknown_forced: Vec<UnknownAttr>,
    /// Where the names were checked (`bundled`, a channel…), when they were.
    pub index: Option<String>,
    /// The names could not be checked (no index): the edit went on, here is why.
    pub unchecked: Option<String>,
}

/// What [`remove_packages`] did.
#[derive(Debug)]
pub struct Removed {
    pub file: String,
    pub removed: Vec<AttrPath>,
    /// Names that are not in the file, each with the closest one that is, if any.
    pub not_found: Vec<(AttrPath, Option<String>)>,
}

/// What [`toggle_preset`] did.
#[derive(Debug)]
pub struct Toggled {
    /// The preset's name (`python`).
    pub name: String,
    /// On after the toggle.
    pub on: bool,
    /// Its userConfig entry (`presets/python.nix`).
    pub entry: String,
}

/// Adds `attrs` to the package file `file` (default `user.nix`). Every name is checked against
/// the project's package index before any file is read or written, as `check` says (unknown
/// names are bad input, [`Error::UnknownPackages`], with [`IndexCheck::Refuse`]). A Python package goes into the file's own
/// `withPackages` list for that Python when it has one (see `nixexpr`).
pub fn add_packages(
    dir: &Path,
    file: Option<&str>,
    attrs: &[AttrPath],
    check: IndexCheck,
) -> Result<Added, Error> {
    let project = Project::load(dir)?;
    let checked = match check {
        IndexCheck::Skip => Check::Skipped,
        IndexCheck::Refuse | IndexCheck::Warn => check_known(&project, attrs),
    };
    let (unknown_forced, index, unchecked) = match checked {
        Check::Skipped => (Vec::new(), None, None),
        Check::Known { index } => (Vec::new(), Some(index), None),
        Check::Unknown { unknown, index } if check == IndexCheck::Warn => {
            (unknown, Some(index), None)
        }
        Check::Unknown { unknown, index } => {
            return Err(Error::UnknownPackages { unknown, index });
        }
        Check::Unchecked(reason) => (Vec::new(), None, Some(reason)),
    };
    let (entry, _, outcome) = Project::edit_package_file(dir, file, |f| f.add(attrs))?;
    Ok(Added {
        file: entry,
        added: outcome.added,
        already_present: outcome.already_present,
        unknown_forced,
        index,
        unchecked,
    })
}

/// Removes `attrs` from the package file `file` (default `user.nix`), wherever the file names
/// them (a plain entry or a `withPackages` list).
pub fn remove_packages(
    dir: &Path,
    file: Option<&str>,
    attrs: &[AttrPath],
) -> Result<Removed, Error> {
    let (entry, edited, outcome) = Project::edit_package_file(dir, file, |f| f.remove(attrs))?;
    let not_found = outcome
        .not_found
        .into_iter()
        .map(|missing| {
            let closest = edited.closest_package(&missing).map(|c| c.attr.to_string());
            (missing, closest)
        })
        .collect();
    Ok(Removed {
        file: entry,
        removed: outcome.removed,
        not_found,
    })
}

/// Turns the preset `name` (`python`, `python.nix` or `presets/python.nix`) on or off in
/// `config.json`'s userConfig.
pub fn toggle_preset(dir: &Path, name: &str) -> Result<Toggled, Error> {
    let project = Project::load(dir)?;
    let on = crate::presets::toggle(&project, name)?;
    let name = name.trim_end_matches(".nix").trim_start_matches("presets/");
    Ok(Toggled {
        name: name.to_string(),
        on,
        entry: crate::presets::entry_for(name),
    })
}

enum Check {
    Skipped,
    Known {
        index: String,
    },
    Unknown {
        unknown: Vec<UnknownAttr>,
        index: String,
    },
    /// No index to check against: a convenience check must not stop an edit.
    Unchecked(String),
}

fn check_known(project: &Project, attrs: &[AttrPath]) -> Check {
    // The index holds plain dotted paths (`emacsPackages.ghub+`), not Nix's quoted form;
    // `pkgs.jq` means `jq`.
    let plain: Vec<String> = attrs
        .iter()
        .map(|a| a.strip_prefix("pkgs").unwrap_or_else(|| a.clone()))
        .map(|a| a.segments().join("."))
        .collect();
    match crate::index::load_for_search(&project.root) {
        Ok(loaded) => {
            let index = loaded.index.source().to_string();
            let unknown = loaded.index.unknown(&plain);
            if unknown.is_empty() {
                Check::Known { index }
            } else {
                Check::Unknown { unknown, index }
            }
        }
        Err(e) => Check::Unchecked(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.json"),
            r#"{"nixpkgs": {"path": "./pkgs"}, "baseConfig": "base.nix", "userConfig": ["user.nix"]}"#,
        )
        .unwrap();
        std::fs::create_dir(tmp.path().join("pkgs")).unwrap();
        std::fs::write(
            tmp.path().join("base.nix"),
            "{ pkgs }: with pkgs; [ busybox ]\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("user.nix"),
            "{ pkgs }: with pkgs; [\n  # mine\n  jq\n]\n",
        )
        .unwrap();
        tmp
    }

    fn attrs(names: &[&str]) -> Vec<AttrPath> {
        names.iter().map(|n| AttrPath::parse(n).unwrap()).collect()
    }

    #[test]
    fn an_unknown_name_changes_nothing_unless_forced() {
        let tmp = project();
        let before = std::fs::read(tmp.path().join("user.nix")).unwrap();
        let e = add_packages(
            tmp.path(),
            None,
            &attrs(&["ripgrep", "ripgrepp"]),
            IndexCheck::Refuse,
        )
        .unwrap_err();
        assert!(matches!(e, Error::UnknownPackages { .. }), "{e}");
        assert!(e.to_string().contains("ripgrepp"), "{e}");
        assert_eq!(e.category(), crate::category::Category::BadInput);
        assert_eq!(std::fs::read(tmp.path().join("user.nix")).unwrap(), before);

        let added =
            add_packages(tmp.path(), None, &attrs(&["ripgrepp"]), IndexCheck::Warn).unwrap();
        assert_eq!(added.unknown_forced.len(), 1);
        assert_eq!(added.file, "user.nix");
        let text = std::fs::read_to_string(tmp.path().join("user.nix")).unwrap();
        assert!(
            text.contains("# mine") && text.contains("ripgrepp"),
            "{text}"
        );
    }

    #[test]
    fn add_then_remove_round_trips_and_names_what_is_missing() {
        let tmp = project();
        let before = std::fs::read_to_string(tmp.path().join("user.nix")).unwrap();
        let added = add_packages(
            tmp.path(),
            None,
            &attrs(&["ripgrep", "jq"]),
            IndexCheck::Refuse,
        )
        .unwrap();
        assert_eq!(added.added, attrs(&["ripgrep"]));
        assert_eq!(added.already_present, attrs(&["jq"]));
        let removed = remove_packages(tmp.path(), None, &attrs(&["ripgrep", "jqq"])).unwrap();
        assert_eq!(removed.removed, attrs(&["ripgrep"]));
        assert_eq!(removed.not_found.len(), 1);
        assert_eq!(removed.not_found[0].1.as_deref(), Some("jq"));
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("user.nix")).unwrap(),
            before
        );
    }
}
