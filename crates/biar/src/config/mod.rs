//! The environment project: `config.json`, its files, and the image reference they map to.
//!
//! Loading validates with positions ([`Project::load`]); rewrites edit the JSON document so
//! unknown keys and key order survive, and every write is atomic ([`crate::fsutil::write_atomic`]);
//! [`Project::image_ref`] is the identity (see `docs/config.md` for exactly what is hashed).

mod builder_check;
mod edit;
mod edit_lock;
mod error;
mod identity;
mod image_check;
mod image_ref;
mod json_edit;
mod model;
mod project;
mod trust;

pub use builder_check::{
    check_cache_url, check_network, check_public_key, check_substituter, CacheUrl,
};
pub use edit_lock::EditLock;
pub use error::ConfigError;
pub use image_ref::ImageRef;
pub use model::{
    BinaryCacheSettings, BuilderSettings, Config, ImageSettings, IndexSettings, PackageSetPin,
    RegistrySettings, OFFICIAL_NIX_IMAGE,
};
pub use project::{
    builder_settings, normalise_entry, same_entry, trusted_builder_settings, Project,
};
// Project files are read by the ground floor's rules (re-exported for the callers that know
// them here).
pub use crate::fsutil::{
    check_regular, open_regular, read_text, resolve_inside, FileError, MAX_CONFIG_JSON_BYTES,
    MAX_NIX_FILE_BYTES,
};
pub use trust::{
    check_keys_trusted, check_path_pin, user_config_dir, TrustedPaths, UserCache, BINARY_CACHE_KEY,
    TRUSTED_KEYS_KEY, TRUSTED_PATHS_KEY,
};
