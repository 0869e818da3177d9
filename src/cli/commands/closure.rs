//! `biar-tui closure [--json] [--why X] [--dot] [--sort KEY] [--all]`: what the environment is
//! made of, built (or found in the store) without making an image. The numbers come from
//! `biar::inspect`; this only prints them.

use std::process::ExitCode;

use biar::config::Project;
use biar::inspect::{human_bytes, PathRow, SortKey};
use tokio_util::sync::CancellationToken;

use crate::args::Global;
use crate::cli::print::outln;
use crate::exit::BadInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the packages, every path and the layers as JSON.
    #[arg(long)]
    pub json: bool,
    /// Why X is in the closure: the reference chain from the environment through a configured
    /// package to X (a store path, a name like hello-2.12.1, or a package name like hello).
    #[arg(long, value_name = "ATTR_OR_PATH")]
    pub why: Option<String>,
    /// Write the closure as a Graphviz digraph (`| dot -Tsvg > closure.svg`).
    #[arg(long, conflicts_with_all = ["why", "json"])]
    pub dot: bool,
    /// Sort by added (what removing saves), closure, own or name.
    #[arg(long, default_value = "added", value_parser = parse_sort)]
    pub sort: SortKey,
    /// List every store path, not only the configured packages.
    #[arg(long)]
    pub all: bool,
}

fn parse_sort(s: &str) -> Result<SortKey, String> {
    SortKey::parse(s).ok_or_else(|| format!("{s:?}: one of added, closure, own, name"))
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    let (events, shown) = crate::cli::nix_progress(args.json);
    let inspected =
        biar::operations::inspect_closure(&project, events, CancellationToken::new()).await;
    let _ = shown.await;
    let model = inspected?.model;
    if args.dot {
        outln!("{}", model.dot().trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(query) = &args.why {
        let chain = model.why(query).map_err(|e| BadInput(e.to_string()))?;
        return why(&chain, args.json);
    }
    let rows = if args.all {
        model.path_rows(args.sort)
    } else {
        model.package_rows(args.sort)
    };
    if args.json {
        let v = serde_json::json!({
            "env_path": model.env_path,
            "paths": model.rows.len(),
            "closure_size": model.total_size(),
            "packages": model.package_rows(args.sort),
            "all": model.path_rows(args.sort),
            "layers": model.layers,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{}: {} store paths, {}",
        model.env_path,
        model.rows.len(),
        human_bytes(model.total_size())
    );
    outln!();
    outln!(
        "{:>10}  {:>10}  {:>10}  {:>5}  {}",
        "added",
        "closure",
        "own",
        "layer",
        if args.all { "path" } else { "package" }
    );
    for r in &rows {
        table_row(r);
    }
    outln!();
    outln!(
        "{} store layers + root layer (sizes: tar when known, else NAR):",
        model.layers.len()
    );
    for l in &model.layers {
        outln!(
            "  layer {:>3}  {:>10}  {:>4} paths  {}",
            l.index,
            human_bytes(l.size.unwrap_or(l.nar_size)),
            l.paths,
            l.largest
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn table_row(r: &PathRow) {
    outln!(
        "{:>10}  {:>10}  {:>10}  {:>5}  {}",
        human_bytes(r.added_size),
        human_bytes(r.closure_size),
        human_bytes(r.nar_size),
        r.layer.map_or("-".to_string(), |l| l.to_string()),
        r.name
    );
}

fn why(chain: &[&PathRow], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&chain)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (depth, r) in chain.iter().enumerate() {
        let arrow = if depth == 0 { "" } else { "└─ " };
        outln!(
            "{}{arrow}{}  (own {}, closure {}{})",
            "   ".repeat(depth.saturating_sub(1)),
            r.path,
            human_bytes(r.nar_size),
            human_bytes(r.closure_size),
            if r.package {
                ", configured package"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
