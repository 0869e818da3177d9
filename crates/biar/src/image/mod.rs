//! Closure to image: layer plan (popularity), deterministic tar streams, OCI config and manifest,
//! layer cache, load into Docker. See `docs/image.md`.
//!
//! # API for the other modules
//! - The layer plan (`&ClosureGraph`, `maxLayers`, [`Strategy`]) → [`LayerPlan`]: pure, fast;
//!   [`assemble`] and [`describe`] make it. The strategies compared against the default, and the
//!   edit simulation that measures them, are research: `research` (feature `research`, used by
//!   the `layer_plans` example).
//! - [`assemble`] ([`ImageInput`], a [`NarSource`], the [`LayerCache`], events) →
//!   [`ImageDescriptor`]: every layer's `{digest, diff_id, size, media type, store paths}`, the
//!   root layer, the OCI config and manifest. Layers known to the cache are not read; the others
//!   are streamed once (hashed, sent nowhere) and recorded.
//! - [`describe`] with [`Sizes::List`] → [`ImageLayout`] (new layers' sizes predicted from a
//!   listing of their store paths, no contents read), then [`load_layout`] → the
//!   [`ImageDescriptor`] and what was sent: a first load reads each layer once, learning its
//!   digest as it streams, and records it in the cache. A push needs digests first: [`assemble`].
//! - [`load`]: [`describe`] then [`load_layout`], measuring and loading again when a listed
//!   size was wrong (what a build does).
//! - [`load_into_docker`]: `POST /images/load` of the layers the Engine lacks (skipped entirely
//!   when `name:tag` exists; [`crate::docker::Engine::image_exists`] asks).
//! - [`ImageDescriptor::push_image`] and [`ImageDescriptor::open_layer`]: what the registry push
//!   needs (descriptors, and a layer's bytes as a stream verified against its digest).
//! - Sources: [`BuilderStore`] (a running builder container's store, one GNU tar of all the
//!   paths exec'd in it and made NARs on the fly), [`DumpStore`] (`nix-store --dump` per path
//!   exec'd in it: the same bytes, slower) and [`LocalStore`] (a folder on this host).

mod assemble;
mod blob_dir;
mod cache;
mod error;
mod follow;
mod in_engine;
pub mod layer;
mod listing;
mod load;
pub mod nar;
mod plan;
#[cfg(any(test, feature = "research"))]
mod plan_edits;
mod previous;
#[cfg(feature = "research")]
pub mod research;
pub mod root;
pub mod tar;
mod tar_nar;
#[cfg(test)]
mod testing;

pub use assemble::{
    assemble, describe, open_layer, ImageDescriptor, ImageInput, ImageLayout, LayerSlot, Sizes,
    CREATED, LABEL_IMAGE,
};
pub use blob_dir::{valid_digest, BlobDir, PartialBlob};
pub use cache::{LayerCache, LayerDescriptor};
pub use error::ImageError;
pub use follow::{plan_following, LayerRecord, RecordedLayer, LABEL_LAYERS};
pub use in_engine::layers_in_engine;
pub use layer::{BuilderStore, Digest, DumpStore, ListStream, LocalStore, NarSource, NarStream};
pub(crate) use load::image_exists;
pub use load::{load, load_into_docker, load_layout, LoadSummary, Loaded};
pub use plan::{plan, plan_with, LayerPlan, PlannedLayer, Strategy};
pub use previous::{newest, previous_in_engine, PreviousImage, LABEL_NAME};
