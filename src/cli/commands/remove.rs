use std::process::ExitCode;

use biar::config::Project;
use biar::nixexpr::{AttrPath, PackageFile};

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attribute paths to remove.
    #[arg(required = true, value_name = "ATTR")]
    pub attrs: Vec<String>,
    /// The userConfig file to edit (default: user.nix).
    #[arg(long, value_name = "FILE")]
    pub file: Option<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let attrs = args
            .attrs
            .iter()
            .map(|a| AttrPath::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let project = Project::load(&dir)?;
        let (entry, path) = project.user_file(args.file.as_deref())?;
        let mut file = PackageFile::load(&path)?;
        let outcome = file.remove(&attrs)?;
        file.save()?;
        let mut lines = Vec::new();
        if !outcome.removed.is_empty() {
            lines.push(format!(
                "removed {} from {entry}",
                super::add::join(&outcome.removed)
            ));
        }
        for missing in &outcome.not_found {
            let hint = file
                .closest_package(missing)
                .map(|c| format!("did you mean `{}`?", c.attr))
                .unwrap_or_else(|| "`biar-tui list` shows what is there".into());
            lines.push(format!(
                "{missing} is not in {entry}: nothing removed ({hint})"
            ));
        }
        Ok(lines)
    })
    .await??;
    for l in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}
