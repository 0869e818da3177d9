use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum PresetError {
    /// No shipped preset and no `presets/NAME.nix` in the project has this name.
    #[error("no preset named `{name}`{}; `biar-tui presets` lists them ({})",
        .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        .available.join(", "))]
    Unknown {
        name: String,
        suggestion: Option<String>,
        available: Vec<String>,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PresetError {
    pub fn category(&self) -> Category {
        match self {
            PresetError::Unknown { .. } => Category::BadInput,
            PresetError::Config(e) => e.category(),
            PresetError::Io { .. } => Category::Failure,
        }
    }
}
