use std::process::ExitCode;

use biar::config::Project;

use crate::args::Global;

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
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("name       {}", image.name);
        println!("tag        {}", image.tag);
        println!("reference  {}", image.reference());
    }
    Ok(ExitCode::SUCCESS)
}
