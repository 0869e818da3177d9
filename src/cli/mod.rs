//! The command line front end: one module per command, and how a build is shown. Arguments are
//! parsed in `args` (beside `main.rs`), which dispatches here or to the TUI.

mod build_report;
pub mod commands;

pub use commands::dispatch;
