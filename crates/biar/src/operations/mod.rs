//! The use cases every front end calls (the CLI's commands, the TUI, later the image server):
//! they decide what to do; the front ends only show it.
//!
//! - [`build_image`]: the whole product: Nix build → image with labels → load into Docker, or
//!   push to a registry, unless `name:tag` is already there.

mod build;
mod error;

pub use build::{build_image, labels, PipelineObserver, PipelineOptions, PipelineOutcome};
pub use error::Error;
