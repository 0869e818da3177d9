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
    #[command(flatten)]
    pub builder: CreateBuilder,
}

/// `--create-builder[=official|offline]`, shared by `build` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateBuilder {
    /// Make the builder (image and Nix store volume) first if it is missing: `official` pulls
    /// the Nix image (the default), `offline` makes it from this host's Debian packages. Without
    /// it a missing builder stops the build, saying what would be made.
    #[arg(
        long,
        value_name = "HOW",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "official"
    )]
    pub create_builder: Option<biar::docker::BuilderSource>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    let mut options = PipelineOptions::for_project(&project, args.push)?;
    options.create_builder = args.builder.create_builder;
    let show = Show {
        json: args.json,
        verbose: args.verbose,
        closure_json: args.closure_json,
        results: Sink::Stdout,
    };
    build_report::build(&project, &options, &show).await?;
    Ok(ExitCode::SUCCESS)
}
