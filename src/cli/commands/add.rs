use std::process::ExitCode;

use biar::nixexpr::AttrPath;
use biar::operations::IndexCheck;

use crate::args::Global;
use crate::cli::print::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attribute paths, e.g. `ripgrep python312Packages.numpy`.
    #[arg(required = true, value_name = "ATTR")]
    pub attrs: Vec<String>,
    /// The userConfig file to edit (default: user.nix).
    #[arg(long, value_name = "FILE")]
    pub file: Option<String>,
    /// Add even when the index does not know the attribute.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let added = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // Every name is checked before any file is read or written.
        let attrs = args
            .attrs
            .iter()
            .map(|a| AttrPath::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(biar::operations::add_packages(
            &dir,
            args.file.as_deref(),
            &attrs,
            if args.force {
                IndexCheck::Warn
            } else {
                IndexCheck::Refuse
            },
        )?)
    })
    .await??;
    if let Some(reason) = &added.unchecked {
        // The check is a convenience: no index must not stop an edit.
        errln!("warning: cannot check the attributes against the package index: {reason}");
    }
    for unknown in &added.unknown_forced {
        let index = added.index.as_deref().unwrap_or("?");
        errln!("warning: {unknown} (index: {index}); adding it anyway (--force)");
    }
    if !added.added.is_empty() {
        outln!("added {} to {}", join(&added.added), added.file);
    }
    if !added.already_present.is_empty() {
        outln!(
            "{} already in {}: nothing to change",
            join(&added.already_present),
            added.file
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn join(attrs: &[AttrPath]) -> String {
    attrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
