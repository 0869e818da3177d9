//! Run the environment: create, attach, resize, wait; terminal handoff helpers.
//!
//! [`run_attached`] is the whole of it for the CLI and the TUI alike: the TUI stops reading the
//! keyboard, leaves the alternate screen, calls it, then restores itself and redraws.

mod attach;
mod copy;
pub mod direct;
mod error;
mod mount;
pub mod terminal;
mod user;

pub use attach::{run_attached, Notices, RunSpec, DETACH_KEYS};
pub use copy::{CopyBack, CopyIn};
pub use direct::DirectRoot;
pub use error::RunError;
pub use mount::{project_workdir, WorkdirMount};
pub use user::RunAs;
