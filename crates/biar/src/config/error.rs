use std::path::PathBuf;

use thiserror::Error;

use crate::error::Category;
use crate::location::Location;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{dir}: no config.json here (is this an environment project? try --project DIR)")]
    NoProject { dir: PathBuf },
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
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
            _ => Category::BadInput,
        }
    }
}
