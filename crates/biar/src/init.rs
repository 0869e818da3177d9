//! A new environment project: `config.json`, `base.nix`, `user.nix`, `workdir/` and the chosen
//! shipped presets, written only where nothing is (an existing project, or any file in the way,
//! is bad input and nothing is written).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::category::Category;
use crate::presets::{entry_for, shipped, SHIPPED};

/// The pinned nixpkgs of a new project unless told otherwise: the same tarball as `example/`.
pub const DEFAULT_NIXPKGS_URL: &str =
    "https://github.com/NixOS/nixpkgs/archive/8b27c1239e5c421a2bbc2c65d52e4a6fbf2ff296.tar.gz";
pub const DEFAULT_NIXPKGS_SHA256: &str = "1gx0hihb7kcddv5h0k7dysp2xhf1ny0aalxhjbpj2lmvj7h9g80a";

/// The shipped base configuration (`example/base.nix`).
pub const BASE_NIX: &str = include_str!("../../../example/base.nix");
const USER_NIX: &str =
    "# Your own packages. `biar-tui add NAME` and the TUI's search add them here, one per line;
# comments and layout are kept.
{ pkgs }:
with pkgs; [
]
";

/// Where a new project's packages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NixpkgsChoice {
    /// The default pinned tarball.
    Default,
    /// A tarball URL with its Nix hash.
    Tarball { url: String, sha256: String },
    /// A channel name (`nixos-24.11`).
    Channel(String),
    /// A local folder holding a package set's `default.nix`.
    Path(String),
}

/// What [`init`] writes.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Shipped preset names, in the order they go into `userConfig`.
    pub presets: Vec<String>,
    pub nixpkgs: NixpkgsChoice,
    /// Build with no binary cache (`builder.substituters: []`), e.g. for a local package set.
    pub offline: bool,
}

#[derive(Debug, Error)]
pub enum InitError {
    #[error("{}: a project is already there (config.json); nothing was changed", .dir.display())]
    ProjectExists { dir: PathBuf },
    #[error("{} is in the way (a new project would write it); nothing was changed", .path.display())]
    InTheWay { path: PathBuf },
    #[error("no shipped preset named `{name}`; the presets are: {}", .available.join(", "))]
    UnknownPreset {
        name: String,
        available: Vec<String>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl InitError {
    pub fn category(&self) -> Category {
        match self {
            InitError::Io { .. } => Category::Failure,
            _ => Category::BadInput,
        }
    }
}

/// The files of a new project, relative to it, with their contents.
pub fn files(options: &InitOptions) -> Result<Vec<(String, Vec<u8>)>, InitError> {
    let mut out = Vec::new();
    let mut user_config = Vec::new();
    for name in &options.presets {
        let text = shipped(name).ok_or_else(|| InitError::UnknownPreset {
            name: name.clone(),
            available: SHIPPED.iter().map(|(n, _)| n.to_string()).collect(),
        })?;
        let entry = entry_for(name);
        if !user_config.contains(&entry) {
            user_config.push(entry.clone());
            out.push((entry, text.as_bytes().to_vec()));
        }
    }
    user_config.push("user.nix".to_string());
    let nixpkgs = match &options.nixpkgs {
        NixpkgsChoice::Default => serde_json::json!({
            "url": DEFAULT_NIXPKGS_URL, "sha256": DEFAULT_NIXPKGS_SHA256
        }),
        NixpkgsChoice::Tarball { url, sha256 } => {
            serde_json::json!({ "url": url, "sha256": sha256 })
        }
        NixpkgsChoice::Channel(c) => serde_json::json!({ "channel": c }),
        NixpkgsChoice::Path(p) => serde_json::json!({ "path": p }),
    };
    let mut config = serde_json::json!({
        "baseConfig": "base.nix",
        "userConfig": user_config,
        "nixpkgs": nixpkgs,
    });
    if options.offline {
        config["builder"] = serde_json::json!({ "substituters": [], "trustedPublicKeys": [] });
    }
    let mut json = serde_json::to_vec_pretty(&config).expect("a JSON value serialises");
    json.push(b'\n');
    out.push(("config.json".into(), json));
    out.push(("base.nix".into(), BASE_NIX.as_bytes().to_vec()));
    out.push(("user.nix".into(), USER_NIX.as_bytes().to_vec()));
    Ok(out)
}

/// Writes a new project into `dir` (created if missing). Everything is checked first: an
/// existing `config.json`, any file in the way or an unknown preset writes nothing.
pub fn init(dir: &Path, options: &InitOptions) -> Result<Vec<String>, InitError> {
    let files = files(options)?;
    if dir.join("config.json").exists() {
        return Err(InitError::ProjectExists {
            dir: dir.to_path_buf(),
        });
    }
    for (rel, _) in &files {
        let path = dir.join(rel);
        if path.symlink_metadata().is_ok() {
            return Err(InitError::InTheWay { path });
        }
    }
    let workdir = dir.join("workdir");
    if workdir.symlink_metadata().is_ok() && !workdir.is_dir() {
        return Err(InitError::InTheWay { path: workdir });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitError::Io { path, source }
    };
    std::fs::create_dir_all(&workdir).map_err(io(&workdir))?;
    // config.json last: a project exists only once all its files do.
    let mut written = Vec::new();
    for (rel, bytes) in files.iter().filter(|(r, _)| r != "config.json") {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        crate::fsutil::write_atomic(&path, bytes).map_err(io(&path))?;
        written.push(rel.clone());
    }
    let (rel, bytes) = files.iter().find(|(r, _)| r == "config.json").unwrap();
    let path = dir.join(rel);
    crate::fsutil::write_atomic(&path, bytes).map_err(io(&path))?;
    written.push(rel.clone());
    written.push("workdir/".into());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(presets: &[&str]) -> InitOptions {
        InitOptions {
            presets: presets.iter().map(|s| s.to_string()).collect(),
            nixpkgs: NixpkgsChoice::Default,
            offline: false,
        }
    }

    #[test]
    fn a_new_project_loads_with_its_presets_first() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        init(&dir, &options(&["python", "data-science"])).unwrap();
        let project = crate::config::Project::load(&dir).unwrap();
        assert_eq!(
            project.config.user_config,
            ["presets/python.nix", "presets/data-science.nix", "user.nix"]
        );
        assert!(dir.join("workdir").is_dir());
        assert_eq!(
            std::fs::read_to_string(dir.join("presets/python.nix")).unwrap(),
            shipped("python").unwrap()
        );
    }

    #[test]
    fn nothing_is_overwritten_and_unknown_presets_write_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("user.nix"), "mine").unwrap();
        assert!(matches!(
            init(&dir, &options(&[])),
            Err(InitError::InTheWay { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(dir.join("user.nix")).unwrap(),
            "mine"
        );
        assert!(!dir.join("config.json").exists());

        let other = tmp.path().join("other");
        assert!(matches!(
            init(&other, &options(&["pyhton"])),
            Err(InitError::UnknownPreset { .. })
        ));
        assert!(!other.exists());
    }
}
