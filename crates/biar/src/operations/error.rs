//! The crate-wide error: one variant per module, each a typed error of its own.
//!
//! Its [`Category`] is the variant's own.

use thiserror::Error;

use crate::category::Category;

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
    Build(#[from] crate::nixbuild::BuildError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),
    /// A push was asked of a project that names no registry.
    #[error("{}: --push needs a registry: set registry.host (or DOCKER_REGISTRY_HOST) in it", .config.display())]
    NoRegistry { config: std::path::PathBuf },
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
            Error::Inspect(e) => e.category(),
            Error::NoRegistry { .. } => Category::BadInput,
        }
    }
}
