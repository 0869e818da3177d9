//! The Docker Engine through bollard: connection, builder image, store volume, exec with
//! streamed output, cleanup. Knows nothing of the TUI.

mod connection;
mod error;

pub use connection::{connect, Engine};
pub use error::DockerError;
