use std::process::ExitCode;

use crate::args::Global;
use crate::cli::print::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for (empty lists popular packages).
    #[arg(default_value = "")]
    pub query: String,
    /// Most results to print.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Print a JSON array of {attr, version, description}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = global.project.clone();
    let loaded =
        tokio::task::spawn_blocking(move || biar::index::load_for_search(&project)).await??;
    for note in &loaded.notes {
        errln!("note: {note}");
    }
    let index = loaded.index;
    let limit = args.limit;
    let query = args.query;
    let hits = tokio::task::spawn_blocking(move || index.search(&query, limit)).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&hits)?);
    } else {
        let width = hits.iter().map(|h| h.attr.len()).max().unwrap_or(0);
        for h in &hits {
            let mut line = format!("{:width$}", h.attr);
            if let Some(v) = &h.version {
                line.push_str("  ");
                line.push_str(v);
            }
            if let Some(d) = &h.description {
                line.push_str("  ");
                line.push_str(d);
            }
            outln!("{}", line.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// For `add` (blocking: call it inside `spawn_blocking`): an attribute the package index does
/// not know is bad input (exit 2, nothing changed) with "did you mean" suggestions, unless
/// `force`, which only warns. Call it before touching any file.
pub(crate) fn check_known_attrs(
    project: &std::path::Path,
    attrs: &[String],
    force: bool,
) -> anyhow::Result<()> {
    let (unknown, source) = match biar::index::load_for_search(project) {
        Ok(l) => (l.index.unknown(attrs), l.index.source().clone()),
        Err(e) => {
            // The check is a convenience: no index must not stop an edit.
            errln!("warning: cannot check the attributes against the package index: {e}");
            return Ok(());
        }
    };
    if unknown.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = unknown.iter().map(|u| u.to_string()).collect();
    if force {
        for line in &lines {
            errln!("warning: {line} (index: {source}); adding it anyway (--force)");
        }
        return Ok(());
    }
    Err(crate::exit::BadInput(format!(
        "{} (index: {source}); nothing was changed. Fix the name, run `biar-tui index update` \
         if the index is old, or pass --force to add it anyway",
        lines.join("; ")
    ))
    .into())
}
