//! The build pipeline: generated expression, `nix-build` in the builder with
//! `--log-format internal-json`, the [`BuildEvent`] stream, the [`ClosureGraph`], cancellation.

mod closure;
mod error;
mod event;

pub use closure::{ClosureGraph, StorePathInfo};
pub use error::BuildError;
pub use event::BuildEvent;
