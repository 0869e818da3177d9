use std::process::ExitCode;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command to run instead of a shell (after --).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    super::not_yet("run")
}
