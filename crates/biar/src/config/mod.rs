//! The environment project: `config.json`, its files, and the image reference they map to.
//!
//! Owned by issue 2. Loading validates with positions; saving is atomic; [`ImageRef`] is the identity.

mod error;
mod image_ref;
mod model;
mod project;

pub use error::ConfigError;
pub use image_ref::ImageRef;
pub use model::{
    BuilderSettings, Config, ImageSettings, IndexSettings, PackageSetPin, RegistrySettings,
};
pub use project::Project;
