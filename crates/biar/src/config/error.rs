use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;
use crate::location::Location;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{dir}: no config.json here (is this an environment project? try --project DIR)")]
    NoProject { dir: PathBuf },
    /// Malformed JSON, a wrong type, or a value out of range, at a place in config.json.
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// `baseConfig` or a `userConfig` entry names a file that is not there.
    #[error(
        "{at}: {key} names {file:?}, which does not exist ({path}); create it or fix the entry"
    )]
    MissingFile {
        at: Location,
        key: &'static str,
        file: String,
        path: PathBuf,
    },
    /// A Nix file of the configuration (hashing parses it).
    #[error(transparent)]
    Nix(#[from] crate::nixexpr::NixError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ConfigError {
    pub fn category(&self) -> Category {
        match self {
            ConfigError::Io { .. } => Category::Failure,
            ConfigError::Nix(e) => e.category(),
            _ => Category::BadInput,
        }
    }
}
