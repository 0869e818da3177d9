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
    #[error(transparent)]
    Doctor(#[from] crate::doctor::DoctorError),
    /// A push was asked of a project that names no registry.
    #[error("{}: --push needs a registry: set registry.host (or DOCKER_REGISTRY_HOST) in it", .config.display())]
    NoRegistry { config: std::path::PathBuf },
    /// Names the package index does not know, asked to be added without force: nothing changed.
    #[error("{} (index: {index}); nothing was changed. Fix the name, run `biar-tui index update` if the index is old, or pass --force to add it anyway", unknown_list(.unknown))]
    UnknownPackages {
        unknown: Vec<crate::index::UnknownAttr>,
        index: String,
    },
    /// A build needs the builder, which is missing, and nobody asked to make it.
    #[error("{}", builder_missing(.plan))]
    BuilderMissing { plan: crate::docker::BuilderPlan },
}

fn unknown_list(unknown: &[crate::index::UnknownAttr]) -> String {
    unknown
        .iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn builder_missing(plan: &crate::docker::BuilderPlan) -> String {
    let mut text = String::from("the builder this build needs is missing; making it would:");
    for step in plan.steps(crate::docker::BuilderSource::Official) {
        text.push_str("\n  - ");
        text.push_str(&step);
    }
    text.push_str(
        "\n  do it with --create-builder (or --create-builder=offline to make the image from this \
         host's Debian packages, with no network), or run `biar-tui builder create` first",
    );
    text
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
            Error::Doctor(e) => e.category(),
            Error::NoRegistry { .. } | Error::UnknownPackages { .. } => Category::BadInput,
            Error::BuilderMissing { .. } => Category::Failure,
        }
    }
}
