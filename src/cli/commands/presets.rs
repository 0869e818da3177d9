use std::process::ExitCode;

use biar::config::Project;

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let (presets, image) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let project = Project::load(&dir)?;
        // The reference is a courtesy here: a file that does not parse must not hide the list.
        let image = project.image_ref().map_err(|e| e.to_string());
        Ok((biar::presets::list(&project)?, image))
    })
    .await??;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&presets)?);
        return Ok(ExitCode::SUCCESS);
    }
    let width = presets.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &presets {
        let mark = if p.enabled { "[x]" } else { "[ ]" };
        outln!("{mark} {:width$}  {}", p.name, p.description);
    }
    let on = presets.iter().filter(|p| p.enabled).count();
    outln!(
        "\n{on} of {} on. Turn one on or off with `biar-tui toggle NAME`.",
        presets.len()
    );
    match image {
        Ok(image) => outln!("Image: {image}"),
        Err(e) => outln!("Image: unknown until this is fixed: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}
