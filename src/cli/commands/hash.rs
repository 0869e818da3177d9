use std::process::ExitCode;

use biar::config::Project;

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print {"name", "tag", "reference"} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let image = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok(Project::load(&dir)?.image_ref()?)
    })
    .await??;
    if args.json {
        let v = serde_json::json!({
            "name": image.name,
            "tag": image.tag,
            "reference": image.reference(),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!("name       {}", image.name);
        outln!("tag        {}", image.tag);
        outln!("reference  {}", image.reference());
    }
    Ok(ExitCode::SUCCESS)
}
