//! OCI distribution client: auth from ~/.docker/config.json, blob HEAD/mount/upload, manifest PUT/HEAD.

mod error;

pub use error::RegistryError;
