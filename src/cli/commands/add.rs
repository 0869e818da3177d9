use std::process::ExitCode;

use biar::config::Project;
use biar::nixexpr::AttrPath;

use crate::args::Global;
use crate::cli::print::outln;

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
    let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        // Every name is checked before any file is read or written.
        let attrs = args
            .attrs
            .iter()
            .map(|a| AttrPath::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let project = Project::load(&dir)?;
        check_known(&project, &attrs, args.force)?;
        let (entry, _, outcome) =
            Project::edit_package_file(&dir, args.file.as_deref(), |f| f.add(&attrs))?;
        let mut lines = Vec::new();
        if !outcome.added.is_empty() {
            lines.push(format!("added {} to {entry}", join(&outcome.added)));
        }
        if !outcome.already_present.is_empty() {
            lines.push(format!(
                "{} already in {entry}: nothing to change",
                join(&outcome.already_present)
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

/// The package-index check (issue 5): refuse, as bad input and before any file is touched,
/// attributes the index does not know unless `force` (then only warn), suggesting close names.
pub(crate) fn check_known(
    project: &Project,
    attrs: &[AttrPath],
    force: bool,
) -> anyhow::Result<()> {
    // The index holds plain dotted paths (`emacsPackages.ghub+`), not Nix's quoted form.
    // `pkgs.jq` means `jq`.
    let plain: Vec<String> = attrs
        .iter()
        .map(|a| a.strip_prefix("pkgs").unwrap_or_else(|| a.clone()))
        .map(|a| a.segments().join("."))
        .collect();
    super::search::check_known_attrs(&project.root, &plain, force)
}

pub(crate) fn join(attrs: &[AttrPath]) -> String {
    attrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
