//! The Nix build: generated expression, `nix-build` in the builder with
//! `--log-format internal-json`, its [`BuildEvent`](crate::progress::BuildEvent) stream, the
//! [`ClosureGraph`], cancellation. Knows nothing of images (that is `image`, and the whole
//! product is `operations::build_image`).
//!
//! # API
//! ```ignore
//! let engine = biar::docker::connect().await?;
//! let (tx, mut rx) = tokio::sync::mpsc::channel(256);
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let out: BuildOutput = biar::nixbuild::run(&engine, &project, &BuildOptions::default(), tx, cancel).await?;
//! // out.env_path: the symlink farm; out.closure: every path with NAR size and references;
//! // out.container: the running builder container with the store, to stream paths out:
//! let nar = out.container.exec_stream_stdout(&["nix-store", "--dump", &out.env_path]);
//! ```
//! Events arrive on `rx` while it runs: `Stage` (evaluate, build, closure), `Progress`
//! (derivations done / expected / running / failed), `DerivationStarted`/`Finished`, `Phase`,
//! `Log` (the builds' own lines), `Message` (Nix's). Cancelling the token kills and removes the
//! build's container (within a second or two) and returns [`BuildError::Cancelled`].
//!
//! Each build runs in its own container (see `docker::BuilderContainer` for why); every build
//! shares the Nix store volume, whose locks make concurrent builds safe.

pub mod build_times;
pub mod cache;
mod closure;
pub mod collisions;
mod drv_graph;
mod error;
pub mod internal_json;
mod pipeline;
mod tree_events;
mod upload_set;

pub use closure::{ClosureGraph, StorePathInfo};
pub use collisions::{Collision, Provider};
pub use error::BuildError;
pub use pipeline::{
    closure_from_path_info, run, upload_project, BuildOptions, BuildOutput, UploadedProject,
    ENV_NAME,
};
