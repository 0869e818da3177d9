use std::process::ExitCode;

use biar::config::Project;
use biar::nixexpr::PackageFile;
use serde::Serialize;

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One line of `list --json`: a package (`attr`) or an expression biar-tui does not edit.
#[derive(Debug, Serialize)]
struct Row {
    file: String,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    attr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression: Option<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let files =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(String, PackageFile)>> {
            let project = Project::load(&dir)?;
            let mut entries: Vec<(String, std::path::PathBuf)> = project
                .config
                .user_config
                .iter()
                .map(|e| Ok((e.clone(), project.resolve(e)?)))
                .collect::<anyhow::Result<_>>()?;
            if let Some(local) = project.local_file() {
                entries.push(("workdir/local.nix".into(), local));
            }
            entries
                .into_iter()
                .map(|(e, p)| Ok((e, PackageFile::load(&p)?)))
                .collect()
        })
        .await??;
    if args.json {
        let mut rows = Vec::new();
        for (entry, f) in &files {
            let mut file_rows: Vec<Row> = f
                .packages()
                .iter()
                .map(|p| Row {
                    file: entry.clone(),
                    line: p.line,
                    attr: Some(p.attr.to_string()),
                    expression: None,
                })
                .chain(f.other_entries().iter().map(|o| Row {
                    file: entry.clone(),
                    line: o.line,
                    attr: None,
                    expression: Some(o.text.clone()),
                }))
                .collect();
            file_rows.sort_by_key(|r| r.line);
            rows.extend(file_rows);
        }
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (i, (entry, f)) in files.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        let mut lines: Vec<(usize, String)> = f
            .packages()
            .iter()
            .map(|p| (p.line, p.attr.to_string()))
            .chain(f.other_entries().iter().map(|o| (o.line, o.text.clone())))
            .collect();
        lines.sort();
        let n = lines.len();
        outln!("{entry} ({n} {})", if n == 1 { "entry" } else { "entries" });
        for (line, text) in lines {
            outln!("  {line:>4}  {text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
