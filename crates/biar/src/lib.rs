//! The engine behind `biar-tui`: everything but the user interface.
//!
//! Data flows one way (see `ARCHITECTURE.md`); the modules are declared in that order, and a
//! module imports only modules declared before it (no cycles):
//!
//! - Ground floor, importing nothing else: [`location`] (a place in a file), [`category`]
//!   (bad input or failure), [`progress`] (the typed [`progress::Stage`]s and
//!   [`progress::BuildEvent`]s every front end shows, and the one log sanitizer), [`oci`] (media
//!   types, descriptors, manifests, digests), [`fsutil`] (atomic file writes).
//! - [`nixexpr`] reads, edits and hashes the Nix files; [`config`] loads a project and names its
//!   image; [`docker`] is the Docker Engine (builder image, store volume, containers, exec).
//! - [`nixbuild`] realises the configuration in a builder container and queries its closure;
//!   [`index`] answers package searches; [`presets`] lists and toggles presets.
//! - [`image`] turns the closure into layers and loads them; [`registry`] pushes and pulls them;
//!   [`run`] starts the environment.
//! - [`operations`]: the use cases the front ends call (the whole build-and-deliver pipeline).

pub mod category;
pub mod config;
pub mod docker;
pub mod fsutil;
pub mod image;
pub mod index;
pub mod location;
pub mod nixbuild;
pub mod nixexpr;
pub mod oci;
pub mod operations;
pub mod presets;
pub mod progress;
pub mod registry;
pub mod run;

pub use category::Category;
pub use operations::Error;
