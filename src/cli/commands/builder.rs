use std::process::ExitCode;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BuilderCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// Make the builder image and the Nix store volume (safe to run again).
    Create {
        /// Make the image from this host's Debian packages, pulling nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Say whether the builder image and store volume exist.
    Status,
}

pub async fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    super::not_yet("builder")
}
