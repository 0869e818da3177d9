//! The use cases every front end calls (the CLI's commands, the TUI, later the image server):
//! they decide what to do; the front ends only show it.
//!
//! - [`build_image`]: the whole product: Nix build → image with labels → load into Docker, or
//!   push to a registry, unless `name:tag` is already there.
//! - [`build_into_store`]: the same build into a content-addressed folder or a backing registry,
//!   for the image server.
//! - [`previous_image`]: the earlier image of the same name whose layers a build's plan follows.
//! - [`push_target`]: where a push goes (bad input when the project names no registry).
//! - [`image_state`], [`docker_version`]: what the status line and `run` look at.
//! - [`run_spec`]: how the environment runs; [`run_project`]: the project's image with its shell;
//!   [`run_image`]: another image (an earlier generation's) the same way.
//! - [`overview`]: the project at a glance (image, presets, package files, registry).
//! - [`doctor_project`]: the project's image judged against its profile.
//! - [`pull`]: an image from a registry into Docker, unless Docker has it.
//! - [`diff_project`]: what changes between generations, and what a push would send.
//! - [`generations`], [`generation_image`]: the project's generations, newest first, and an
//!   earlier one's image in Docker (there, or pulled back from the registry), or why it is gone.
//! - [`inspect_closure`]: the closure explorer's model (sizes, why-chains, layers) without an image.
//!
//! - [`add_packages`], [`remove_packages`], [`toggle_preset`]: the project's edits (Nix files
//!   edited in place, config.json rewritten whole).

mod build;
mod diff;
mod doctor;
mod edit;
mod error;
mod generations;
mod inspect;
mod overview;
mod previous;
mod pull;
mod run_env;
mod run_spec;
mod state;
mod store;
mod target;

pub use build::{build_image, labels, PipelineObserver, PipelineOptions, PipelineOutcome};
pub use diff::{diff_project, DiffReport, ImageLayer};
pub use doctor::doctor_project;
pub use edit::{add_packages, remove_packages, toggle_preset, Added, IndexCheck, Removed, Toggled};
pub use error::Error;
pub use generations::{generation_image, generations, Found, GenerationImage};
pub use inspect::{inspect_closure, model_of, Inspected};
pub use overview::{overview, FileOverview, Overview};
pub use previous::previous_image;
pub use pull::{pull, PullEvent, Pulled};
pub use run_env::{build_env, direct_refused, runnable, DirectEnv, Runnable};
pub use run_spec::{direct_run_spec, run_image, run_project, run_spec};
pub use state::{docker_version, image_state, ImageState};
pub use store::{build_into_store, ImageStore, StoredImage};
pub use target::{push_target, registry_label};
