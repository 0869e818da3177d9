use std::path::Path;
use std::process::ExitCode;

use biar::config::BuilderSettings;

use crate::args::Global;
use crate::cli::print::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BuilderCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// Make the builder image and the Nix store volume (safe to run again).
    Create {
        /// Make the image from this host's Debian packages, pulling nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Say whether the builder image and store volume exist.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let settings = match args.command {
        // Keys baked into the shared builder image: only those the user trusts.
        BuilderCommand::Create { .. } => biar::config::trusted_builder_settings(&global.project)?,
        BuilderCommand::Status { .. } => builder_settings(&global.project)?,
    };
    let engine = biar::docker::connect().await?;
    match args.command {
        BuilderCommand::Create { offline } => {
            let report = biar::docker::builder::create(&engine, &settings, offline, &|step| {
                errln!("{step}…")
            })
            .await?;
            let said = |existed: bool| {
                if existed {
                    "already existed"
                } else {
                    "created"
                }
            };
            if report.image_replaced {
                outln!(
                    "builder image {}: re-created (the old one, made by an older biar-tui, ran builds as root)",
                    report.image
                );
            } else {
                outln!(
                    "builder image {}: {}",
                    report.image,
                    said(report.image_existed)
                );
            }
            outln!(
                "store volume {}: {}",
                report.volume,
                said(report.volume_existed)
            );
        }
        BuilderCommand::Status { json } => {
            let status = biar::docker::builder::status(&engine, &settings).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                outln!(
                    "engine:  {} ({}){}",
                    status.engine,
                    status.engine_transport.describe(),
                    status
                        .engine_version
                        .as_deref()
                        .map(|v| format!(", {}", biar::progress::neutralise_text(v)))
                        .unwrap_or_default()
                );
                outln!("         chosen by {}", status.engine_chosen_by);
                match &status.image_info {
                    Some(info) => {
                        outln!(
                            "image:   {} ({}, {:.1} MB, created {})",
                            status.image,
                            info.id
                                .trim_start_matches("sha256:")
                                .get(..12)
                                .unwrap_or(&info.id),
                            info.size as f64 / 1e6,
                            info.created
                        );
                        if info.outdated {
                            outln!(
                                "         outdated: made by an older biar-tui, it runs builds as \
                                 root (run `biar-tui builder create` to re-create it)"
                            );
                        }
                    }
                    None => outln!(
                        "image:   {} missing (run `biar-tui builder create --offline`)",
                        status.image
                    ),
                }
                outln!(
                    "volume:  {} {}",
                    status.volume,
                    if status.volume_exists {
                        "exists"
                    } else {
                        "missing (run `biar-tui builder create`)"
                    }
                );
                outln!("running builder containers: {}", status.containers.len());
                for c in &status.containers {
                    outln!("  {c}");
                }
            }
            if status.image_info.as_ref().is_none_or(|i| i.outdated) || !status.volume_exists {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `builder` settings of `DIR/config.json` (validated), or the defaults when there is no
/// project: the builder is shared by all projects, so these commands work anywhere.
pub fn builder_settings(project: &Path) -> anyhow::Result<BuilderSettings> {
    Ok(biar::config::builder_settings(project)?)
}
