//! OCI distribution client: auth from `~/.docker/config.json` (basic and bearer token), blob
//! HEAD / cross-repository mount / streamed upload, manifest HEAD / GET / PUT, and the push and
//! pull built on them. See `docs/registry.md`.

pub mod auth;
mod client;
pub mod cred_helper;
mod error;
pub mod locations;
mod predict;
mod previous;
mod pull;
mod push;
mod reference;
mod target;

pub use auth::Credentials;
pub use client::{Client, ClientOptions, FetchedManifest, Mount, Scope};
pub use error::RegistryError;
pub use predict::{predict_push, BlobFate, PredictedBlob, PushPrediction};
pub use previous::previous_in_registry;
pub use pull::{pull_into_docker, PullProgress};
pub use push::{push_image, OpenLayer, PushOptions, PushSummary};
// The OCI vocabulary the registry speaks, under the names its callers know.
pub use crate::oci::{
    sha256_digest, verify_digest, ByteStream, Descriptor, ImageManifest, PushImage,
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR,
    OCI_LAYER_TAR_GZIP, OCI_MANIFEST,
};
pub use reference::{is_loopback, validate_repository, validate_tag, RegistryRef};
pub use target::{exists_in_registry, mount_candidates, push_to_target, RegistryTarget};
