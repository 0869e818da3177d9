//! `biar-tui history [--json]`: the project's generations (every build or push), newest last.

use std::process::ExitCode;

use biar::inspect::history::format_time;
use biar::inspect::{human_bytes, Delivery, History};

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the generations as JSON (with every store path of each).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    // A project that does not load has no history worth showing: say why.
    let project = biar::config::Project::load(&global.project)?;
    let root = project.root.clone();
    let generations = tokio::task::spawn_blocking(move || History::of(&root).list()).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&generations)?);
        return Ok(ExitCode::SUCCESS);
    }
    if generations.is_empty() {
        outln!("no generations yet: `biar-tui build` records one");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>4}  {:<16}  {:<4}  {:>10}  {:<40}  packages",
        "#",
        "time (UTC)",
        "to",
        "closure",
        "image"
    );
    for g in &generations {
        outln!(
            "{:>4}  {:<16}  {:<4}  {:>10}  {:<40}  {}",
            g.number,
            format_time(g.time),
            match g.delivery {
                Delivery::Load => "load",
                Delivery::Push => "push",
                Delivery::Run => "run",
            },
            g.closure_size.map_or("?".to_string(), human_bytes),
            g.remote.as_deref().unwrap_or(&g.reference),
            g.packages.join(" ")
        );
    }
    outln!();
    outln!("`biar-tui run --image N` runs generation N; `biar-tui diff N M` compares two.");
    Ok(ExitCode::SUCCESS)
}
