//! A loaded environment project.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, ImageRef};

/// An environment project folder and its parsed `config.json`.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder.
    pub root: PathBuf,
    pub config: Config,
}

impl Project {
    /// Reads and validates `DIR/config.json`.
    pub fn load(dir: &Path) -> Result<Project, ConfigError> {
        let _ = dir;
        unimplemented_yet()
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    pub fn base_file(&self) -> PathBuf {
        self.root.join(&self.config.base_config)
    }

    /// The userConfig files, in order.
    pub fn user_files(&self) -> Vec<PathBuf> {
        self.config
            .user_config
            .iter()
            .map(|f| self.root.join(f))
            .collect()
    }

    pub fn workdir(&self) -> PathBuf {
        self.root.join("workdir")
    }

    /// The image this configuration maps to (see `docs/config.md` for what is hashed).
    pub fn image_ref(&self) -> Result<ImageRef, ConfigError> {
        unimplemented_yet()
    }
}

fn unimplemented_yet<T>() -> Result<T, ConfigError> {
    Err(ConfigError::Io {
        path: PathBuf::from("config.json"),
        source: std::io::Error::other("not implemented yet"),
    })
}
