use std::process::ExitCode;

use biar::config::Project;

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The preset name (a file name in presets/ without .nix).
    pub preset: String,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let name = args.preset;
    let message = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let project = Project::load(&dir)?;
        let on = biar::presets::toggle(&project, &name)?;
        let name = name.trim_end_matches(".nix").trim_start_matches("presets/");
        let entry = biar::presets::entry_for(name);
        Ok(if on {
            format!("{name}: on ({entry} added to userConfig)")
        } else {
            format!("{name}: off ({entry} removed from userConfig; the file stays)")
        })
    })
    .await??;
    outln!("{message}");
    Ok(ExitCode::SUCCESS)
}
