use std::process::ExitCode;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attribute paths to remove.
    #[arg(required = true, value_name = "ATTR")]
    pub attrs: Vec<String>,
    /// The userConfig file to edit (default: user.nix).
    #[arg(long, value_name = "FILE")]
    pub file: Option<String>,
}

pub async fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    super::not_yet("remove")
}
