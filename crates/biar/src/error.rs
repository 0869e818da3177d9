//! The crate-wide error: one variant per module, each a typed error of its own.
//!
//! The binary maps [`Category`] to an exit code: bad input is 2, any other failure 1.

use thiserror::Error;

/// Whether an error is the user's input at fault (fix it and retry) or the world (Docker, network, Nix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A file, argument or name the user gave is wrong; nothing was changed.
    BadInput,
    /// Something outside the user's input failed.
    Failure,
}

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Nix(#[from] crate::nixexpr::NixError),
    #[error(transparent)]
    Presets(#[from] crate::presets::PresetError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Error::Config(e) => e.category(),
            Error::Nix(e) => e.category(),
            Error::Presets(e) => e.category(),
            Error::Index(e) => e.category(),
            Error::Docker(e) => e.category(),
            Error::Build(e) => e.category(),
            Error::Image(e) => e.category(),
            Error::Registry(e) => e.category(),
            Error::Run(e) => e.category(),
        }
    }
}
