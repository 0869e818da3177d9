//! `biar-tui build [--push]`: the library's pipeline, shown by `build_report` with its results on
//! stdout (scripts parse them).

use std::process::ExitCode;

use biar::config::Project;
use biar::operations::PipelineOptions;

use crate::args::Global;
use crate::cli::build_report::{self, Show, Sink};

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

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    let options = PipelineOptions::for_project(&project, args.push)?;
    let show = Show {
        json: args.json,
        verbose: args.verbose,
        closure_json: args.closure_json,
        results: Sink::Stdout,
    };
    build_report::build(&project, &options, &show).await?;
    Ok(ExitCode::SUCCESS)
}
