//! Presets: ready configuration files (`presets/NAME.nix`, first line `# description`) that a
//! user turns on and off. A preset is on when `presets/NAME.nix` is an entry of `userConfig`.
//!
//! Presets come from two places: the ones shipped in the binary ([`SHIPPED`]) and any
//! `presets/*.nix` in the project (a user's own, or a shipped one copied there and perhaps
//! edited: the project's copy wins). Turning on a shipped preset the project lacks writes its
//! file into the project first.

mod error;
mod shipped;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::PresetError;
pub use shipped::{shipped, SHIPPED};

use crate::config::Project;

/// One preset as a project sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preset {
    pub name: String,
    /// The first-line comment of the file, without `#`.
    pub description: String,
    /// `presets/NAME.nix` is in userConfig.
    pub enabled: bool,
    /// The userConfig entry, relative to the project: `presets/NAME.nix`.
    pub file: String,
    /// Shipped with biar-tui.
    pub shipped: bool,
    /// `presets/NAME.nix` exists in the project.
    pub in_project: bool,
}

impl Preset {
    /// The preset's file in the project (it may not exist yet, see [`Preset::in_project`]).
    pub fn path(&self, project: &Project) -> PathBuf {
        project.root.join(&self.file)
    }
}

/// The userConfig entry of preset `name`.
pub fn entry_for(name: &str) -> String {
    format!("presets/{name}.nix")
}

/// The description of a preset file: its first line, if it is a `#` comment.
pub fn description_of(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    first
        .strip_prefix('#')
        .map(|d| d.trim().to_string())
        .unwrap_or_default()
}

/// Every preset (shipped and the project's own), sorted by name.
pub fn list(project: &Project) -> Result<Vec<Preset>, PresetError> {
    // A `presets` folder that links out of the project is refused, not listed.
    let dir = project.resolve("presets")?;
    let mut names: Vec<String> = SHIPPED.iter().map(|(n, _)| n.to_string()).collect();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|source| PresetError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let path = entry.path();
                // Every `*.nix` that is not a folder: one that is not a regular file is named
                // (and refused) when it is read, rather than silently left out.
                if path.extension().is_some_and(|e| e == "nix") && !path.is_dir() {
                    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_string());
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(PresetError::Io { path: dir, source }),
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| describe(project, &name))
        .collect()
}

fn describe(project: &Project, name: &str) -> Result<Preset, PresetError> {
    let file = entry_for(name);
    let in_project = std::fs::symlink_metadata(project.root.join(&file)).is_ok();
    let text = if in_project {
        let path = project.resolve(&file)?;
        crate::fsutil::read_text(&path, crate::fsutil::MAX_NIX_FILE_BYTES)
            .map_err(crate::config::ConfigError::from)?
    } else {
        shipped(name).unwrap_or_default().to_string()
    };
    Ok(Preset {
        name: name.to_string(),
        description: description_of(&text),
        enabled: is_enabled(project, &file),
        file,
        shipped: shipped(name).is_some(),
        in_project,
    })
}

fn is_enabled(project: &Project, entry: &str) -> bool {
    project
        .config
        .user_config
        .iter()
        .any(|e| crate::config::same_entry(e, entry))
}

/// Turns preset `name` on or off; returns whether it is now on. On: writes the shipped file to
/// `presets/NAME.nix` if the project lacks it, then puts the entry in userConfig after the other
/// presets (before the user's own files). Off: takes the entry out of userConfig (the file
/// stays). `project` is not updated: reload it ([`Project::reload`]).
///
/// Holds the project's [`EditLock`](crate::config::EditLock) and reads config.json afresh under
/// it, so toggles from several processes (CLI, TUI) all take effect.
pub fn toggle(project: &Project, name: &str) -> Result<bool, PresetError> {
    let name = normalise_name(name);
    let _lock = crate::config::EditLock::acquire(&project.root)?;
    let project = &project.reload()?;
    let presets = list(project)?;
    let Some(preset) = presets.iter().find(|p| p.name == name) else {
        let available: Vec<String> = presets.iter().map(|p| p.name.clone()).collect();
        return Err(PresetError::Unknown {
            suggestion: closest(&name, &available),
            name,
            available,
        });
    };
    let mut entries = project.config.user_config.clone();
    if preset.enabled {
        entries.retain(|e| !crate::config::same_entry(e, &preset.file));
        project.set_user_config(&entries)?;
        return Ok(false);
    }
    if preset.in_project {
        // Turning on a file that does not parse would only fail later, at hash or build time.
        let path = project.resolve(&preset.file)?;
        let text = crate::fsutil::read_text(&path, crate::fsutil::MAX_NIX_FILE_BYTES)
            .map_err(crate::config::ConfigError::from)?;
        crate::nixexpr::parse(&path, &text).map_err(crate::config::ConfigError::from)?;
    } else {
        let text = shipped(&preset.name).expect("a preset not in the project is shipped");
        write_preset(&project.resolve(&preset.file)?, text)?;
    }
    let after_last_preset = entries
        .iter()
        .rposition(|e| crate::config::normalise_entry(e).starts_with("presets"))
        .map_or(0, |i| i + 1);
    entries.insert(after_last_preset, preset.file.clone());
    project.set_user_config(&entries)?;
    Ok(true)
}

fn write_preset(path: &Path, text: &str) -> Result<(), PresetError> {
    let io = |source| PresetError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(io)
}

/// `python`, `python.nix` and `presets/python.nix` all name the preset `python`.
fn normalise_name(name: &str) -> String {
    let n = name.trim();
    let n = n.strip_prefix("./").unwrap_or(n);
    let n = n.strip_prefix("presets/").unwrap_or(n);
    n.strip_suffix(".nix").unwrap_or(n).to_string()
}

/// The closest known name, if any is reasonably close.
fn closest(name: &str, names: &[String]) -> Option<String> {
    let lower = name.to_lowercase();
    names
        .iter()
        .map(|n| {
            let score = if n.starts_with(&lower) || lower.starts_with(n.as_str()) {
                1.0
            } else {
                strsim::jaro_winkler(&lower, n)
            };
            (score, n)
        })
        .filter(|(s, _)| *s >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.clone())
}

#[cfg(test)]
mod tests;
