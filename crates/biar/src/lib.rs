//! The engine behind `biar-tui`: everything but the user interface.
//!
//! Data flows one way (see `ARCHITECTURE.md`): [`config`] loads a project and names its image,
//! [`nixexpr`] reads, edits and hashes the Nix files, [`build`] realises the configuration in the
//! builder container that [`docker`] manages, [`image`] turns the closure into layers, [`registry`]
//! pushes them, and [`run`] starts the environment. [`index`] answers package searches.

pub mod build;
pub mod config;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod image;
pub mod index;
pub mod location;
pub mod nixexpr;
pub mod presets;
pub mod profile;
pub mod registry;
pub mod run;

pub use error::{Category, Error};
