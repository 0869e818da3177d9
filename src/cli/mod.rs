//! The command line front end: one module per command, how a build is shown, and the CLI's one
//! way to the terminal (`print`). Arguments are parsed in `args` (beside `main.rs`), which
//! dispatches here or to the TUI.

mod build_report;
pub mod commands;
pub mod print;

pub use build_report::{cancelled_by, nix_progress};
pub use commands::dispatch;
