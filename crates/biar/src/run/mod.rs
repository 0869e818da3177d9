//! Run the environment: create, attach, resize, wait; terminal handoff helpers.

mod error;

pub use error::RunError;
