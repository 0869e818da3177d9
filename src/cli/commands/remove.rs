use std::process::ExitCode;

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
    let removed = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let attrs = args
            .attrs
            .iter()
            .map(|a| AttrPath::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(biar::operations::remove_packages(
            &dir,
            args.file.as_deref(),
            &attrs,
        )?)
    })
    .await??;
    if !removed.removed.is_empty() {
        outln!(
            "removed {} from {}",
            super::add::join(&removed.removed),
            removed.file
        );
    }
    for (missing, closest) in &removed.not_found {
        let hint = closest
            .as_ref()
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| "`biar-tui list` shows what is there".into());
        outln!(
            "{missing} is not in {}: nothing removed ({hint})",
            removed.file
        );
    }
    Ok(ExitCode::SUCCESS)
}
