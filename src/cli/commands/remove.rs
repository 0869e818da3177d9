use std::process::ExitCode;

use biar::config::Project;
use biar::nixexpr::AttrPath;

use crate::args::Global;
use crate::cli::print::outln;

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
        let (entry, file, outcome) =
            Project::edit_package_file(&dir, args.file.as_deref(), |f| f.remove(&attrs))?;
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
        outln!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}
