//! The use cases every front end calls (the CLI's commands, the TUI, later the image server):
//! they decide what to do; the front ends only show it.
//!
//! - [`build_image`]: the whole product: Nix build → image with labels → load into Docker, or
//!   push to a registry, unless `name:tag` is already there.
//! - [`push_target`]: where a push goes (bad input when the project names no registry).
//! - [`image_state`], [`docker_version`]: what the status line and `run` look at.
//! - [`run_spec`]: how the environment runs.
//! - [`diff_project`]: what changes between generations, and what a push would send.
//! - [`inspect_closure`]: the closure explorer's model (sizes, why-chains, layers) without an image.
//!
//! Editing packages is `config::Project::edit_package_file` with `nixexpr::PackageFile`'s
//! add/remove; toggling presets is `presets::toggle`: both front ends call those directly.

mod build;
mod diff;
mod error;
mod inspect;
mod run_spec;
mod state;
mod target;

pub use build::{build_image, labels, PipelineObserver, PipelineOptions, PipelineOutcome};
pub use diff::{diff_project, DiffReport, ImageLayer};
pub use error::Error;
pub use inspect::{inspect_closure, model_of, Inspected};
pub use run_spec::run_spec;
pub use state::{docker_version, image_state, ImageState};
pub use target::{push_target, registry_label};
