use std::process::ExitCode;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Push the image to the configured registry.
    #[arg(long)]
    pub push: bool,
    /// Write the closure graph (exportReferencesGraph JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub closure_json: Option<std::path::PathBuf>,
    /// Print JSON lines of build events.
    #[arg(long)]
    pub json: bool,
    /// Show the build's own log lines.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

pub async fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    super::not_yet("build")
}
