use std::process::ExitCode;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for (empty lists popular packages).
    #[arg(default_value = "")]
    pub query: String,
    /// Most results to print.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Print a JSON array of {attr, version, description}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    super::not_yet("search")
}
