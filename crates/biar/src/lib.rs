//! The engine behind `biar-tui`: everything but the user interface.
//!
//! Data flows one way (see `ARCHITECTURE.md`); the modules are declared in that order, and a
//! module imports only modules declared before it (no cycles):
//!
//! - Ground floor, importing nothing else: [`location`] (a place in a file), [`category`]
//!   (bad input or failure), [`progress`] (the typed [`progress::Stage`]s and
//!   [`progress::BuildEvent`]s, the sink they travel by, the [`progress::Tally`] every front end
//!   renders, and the one sanitizer of text that is not ours), [`oci`] (media types, descriptors,
//!   manifests, digests), [`fsutil`] (project files read as hostile input, atomic writes),
//!   [`profile`] (workspace profiles: what Coder or Dev Containers need in an image).
//! - [`nixexpr`] reads, edits and hashes the Nix files; [`config`] loads a project and names its
//!   image ([`export`] writes a platform's files for it); [`docker`] is the Docker Engine
//!   (builder image, store volume, containers, exec); [`doctor`] checks any image in it
//!   against a profile.
//! - [`nixbuild`] realises the configuration in a builder container and queries its closure;
//!   [`index`] answers package searches; [`presets`] lists and toggles presets.
//! - [`image`] turns the closure into layers and loads them; [`registry`] pushes and pulls them;
//!   [`run`] starts the environment; [`inspect`] answers what is inside it and what changed.
//! - [`operations`]: the use cases the front ends call: build-and-deliver, the push target, image
//!   state, the project overview, pull, the run spec and running the project (the crate-wide [`Error`] lives there, the one type that names every
//!   module's error).
//!
//! `scripts/module-graph.py` prints the import graph of these modules and checks it.

// Ground floor: imports no other module.
pub mod category;
pub mod fsutil;
pub mod location;
pub mod oci;
pub mod progress;
// Workspace profiles (issue 15): what a platform needs in an image; imports nothing.
pub mod profile;

// Project and engine.
pub mod nixexpr;

pub mod config;

// Platform files (Coder main.tf, devcontainer.json) for a project's image.
pub mod export;

pub mod docker;

// Checks any image in the engine against a profile's rules.
pub mod doctor;

// The build and what feeds it.
pub mod nixbuild;

pub mod index;

pub mod presets;

// A new project from the shipped presets.
pub mod init;

// The image and where it goes.
pub mod image;

pub mod registry;

pub mod run;

// Seeing inside: the closure explorer's model, generations, diffs.
pub mod inspect;

// The use cases the front ends call.
pub mod operations;

pub use category::Category;
pub use operations::Error;
