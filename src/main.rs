//! `biar-tui`: the terminal UI (no subcommand) and the CLI (subcommands) over the `biar` engine.

mod args;
mod cli;
mod exit;
mod serve;
mod tui;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    args::main().await
}
