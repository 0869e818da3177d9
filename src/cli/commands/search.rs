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
