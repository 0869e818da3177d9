use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("{0}")]
    Other(String),
    #[error("the bundled package list is damaged ({0}); rebuild biar-tui (scripts/gen-bundled-index.py regenerates it)")]
    Bundled(String),
    #[error("index cache {path}: {reason}; it will be rebuilt")]
    Cache { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: HTTP {status}; check index.packagesUrl in config.json")]
    HttpStatus { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{origin}: not a packages.json ({reason})")]
    Parse { origin: String, reason: String },
    #[error("index.packagesUrl {url:?} is not an http(s) URL; fix it in config.json")]
    BadUrl { url: String },
    #[error("nix-env in the builder: {0}")]
    NixEnv(String),
}

impl IndexError {
    pub fn category(&self) -> Category {
        match self {
            IndexError::BadUrl { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }
}
