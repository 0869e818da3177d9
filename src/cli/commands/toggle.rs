use std::process::ExitCode;

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
    let t =
        tokio::task::spawn_blocking(move || biar::operations::toggle_preset(&dir, &name)).await??;
    if t.on {
        outln!("{}: on ({} added to userConfig)", t.name, t.entry);
    } else {
        outln!(
            "{}: off ({} removed from userConfig; the file stays)",
            t.name,
            t.entry
        );
    }
    Ok(ExitCode::SUCCESS)
}
