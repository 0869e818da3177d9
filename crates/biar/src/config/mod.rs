//! The environment project: `config.json`, its files, and the image reference they map to.
//!
//! Loading validates with positions ([`Project::load`]); rewrites edit the JSON document so
//! unknown keys and key order survive, and every write is atomic ([`crate::fsutil::write_atomic`]);
//! [`Project::image_ref`] is the identity (see `docs/config.md` for exactly what is hashed).

mod error;
mod identity;
mod image_ref;
mod json_edit;
mod model;
mod project;

pub use error::ConfigError;
pub use image_ref::ImageRef;
pub use model::{
    BuilderSettings, Config, ImageSettings, IndexSettings, PackageSetPin, RegistrySettings,
};
pub use project::{normalise_entry, same_entry, Project};
