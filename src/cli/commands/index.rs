use std::process::ExitCode;

use crate::args::Global;
use crate::cli::print::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: IndexCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum IndexCommand {
    /// Refresh the index from the configured sources and say what was loaded.
    Update(UpdateArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Only these sources: channel, nix-env, bundled (default: every configured one).
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<biar::index::SourceKind>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        IndexCommand::Update(update) => {
            let mut notes = Vec::new();
            let reports = biar::index::update(&global.project, &update.sources, &mut notes).await;
            for note in &notes {
                errln!("note: {note}");
            }
            for r in &reports {
                outln!("{r}");
            }
            if reports
                .iter()
                .any(|r| r.category() == Some(biar::Category::BadInput))
            {
                return Ok(ExitCode::from(2));
            }
            if reports.iter().any(|r| r.failed()) {
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
