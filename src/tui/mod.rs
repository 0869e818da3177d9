//! The terminal UI (issue 6).

use std::process::ExitCode;

use crate::cli::Global;

pub async fn run(_global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the terminal UI is not implemented yet; see `biar-tui --help` for the commands")
}
