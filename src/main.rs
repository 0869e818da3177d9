//! `biar-tui`: the terminal UI (no subcommand) and the CLI (subcommands) over the `biar` engine.

mod cli;
mod tui;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::main().await
}
