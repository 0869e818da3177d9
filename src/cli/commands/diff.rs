//! `biar-tui diff [--json] [FROM] [TO]`: what changes between two generations, or from the last
//! one to the current configuration, and what a push would upload, mount or skip, before any
//! byte is sent. Computed by `biar::operations::diff_project`; this only prints it.

use std::process::ExitCode;

use biar::config::Project;
use biar::inspect::human_bytes;
use biar::registry::BlobFate;
use tokio_util::sync::CancellationToken;

use crate::args::Global;
use crate::cli::print::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// A generation number (see `history`) or image NAME:TAG; default the newest generation.
    #[arg(value_name = "FROM")]
    pub from: Option<String>,
    /// Likewise; default the current configuration (built, described as an image, not pushed).
    #[arg(value_name = "TO")]
    pub to: Option<String>,
    /// List every store path added and removed, not only their count.
    #[arg(long)]
    pub paths: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    let (events, shown) = crate::cli::nix_progress(args.json);
    let report = biar::operations::diff_project(
        &project,
        args.from.as_deref(),
        args.to.as_deref(),
        events,
        CancellationToken::new(),
    )
    .await;
    let _ = shown.await;
    let report = report?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let d = &report.diff;
    outln!("from {}", d.from);
    outln!("to   {}", d.to);
    if let (Some(a), Some(b)) = (d.size_from, d.size_to) {
        let delta = b as i128 - a as i128;
        let sign = if delta < 0 { "-" } else { "+" };
        outln!(
            "closure {} → {} ({sign}{})",
            human_bytes(a),
            human_bytes(b),
            human_bytes(delta.unsigned_abs() as u64)
        );
    }
    if d.is_empty() {
        outln!("no package or store path changes");
    }
    for p in &d.added {
        outln!("  + {p}");
    }
    for p in &d.removed {
        outln!("  - {p}");
    }
    for c in &d.changed {
        outln!("  ~ {} {} → {}", c.name, c.from, c.to);
    }
    outln!(
        "store paths: {} added, {} removed",
        d.paths_added.len(),
        d.paths_removed.len()
    );
    if args.paths {
        for p in &d.paths_added {
            outln!("  + {p}");
        }
        for p in &d.paths_removed {
            outln!("  - {p}");
        }
    }
    if let Some(push) = &report.push {
        if push.up_to_date {
            outln!("push to {}: up to date, nothing would be sent", push.remote);
        } else {
            outln!(
                "push to {}: upload {}, mount {}, skip {}",
                push.remote,
                human_bytes(push.bytes(BlobFate::Upload)),
                human_bytes(push.bytes(BlobFate::Mount)),
                human_bytes(push.bytes(BlobFate::Skip))
            );
            for b in &push.blobs {
                let what = if b.config {
                    "config".to_string()
                } else {
                    format!("layer {}", b.index)
                };
                let fate = match b.fate {
                    BlobFate::Upload => "upload",
                    BlobFate::Mount => "mount",
                    BlobFate::Skip => "skip",
                };
                outln!(
                    "  {fate:<6} {what:<9} {:>10}  {}{}",
                    human_bytes(b.size),
                    &b.digest[..b.digest.len().min(19)],
                    b.from
                        .as_deref()
                        .map(|f| format!("  from {f}"))
                        .unwrap_or_default()
                );
            }
        }
    } else if !report.layers.is_empty() {
        outln!(
            "image: {} layers, {} (no registry configured: nothing to push)",
            report.layers.len(),
            human_bytes(report.layers.iter().map(|l| l.size).sum())
        );
    }
    Ok(ExitCode::SUCCESS)
}
