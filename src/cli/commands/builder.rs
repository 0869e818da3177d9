use std::path::Path;
use std::process::ExitCode;

use biar::config::BuilderSettings;

use crate::args::Global;
use crate::cli::print::{errln, outln};
use crate::exit::BadInput;

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
    let settings = builder_settings(&global.project)?;
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
            outln!(
                "builder image {}: {}",
                report.image,
                said(report.image_existed)
            );
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
                outln!("engine:  {}", status.engine);
                match &status.image_info {
                    Some(info) => outln!(
                        "image:   {} ({}, {:.1} MB, created {})",
                        status.image,
                        info.id
                            .trim_start_matches("sha256:")
                            .get(..12)
                            .unwrap_or(&info.id),
                        info.size as f64 / 1e6,
                        info.created
                    ),
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
            if status.image_info.is_none() || !status.volume_exists {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `builder` settings of `DIR/config.json`, or the defaults when there is no project: the
/// builder is shared by all projects, so these commands work anywhere.
pub fn builder_settings(project: &Path) -> anyhow::Result<BuilderSettings> {
    let path = project.join("config.json");
    // Read like every project file (regular, size-limited, never through a link out).
    let text = match biar::config::resolve_inside(project, Path::new("config.json"))
        .and_then(|p| biar::fsutil::read_text(&p, biar::fsutil::MAX_CONFIG_JSON_BYTES))
    {
        Ok(text) => text,
        Err(e) if e.is_not_found() => return Ok(BuilderSettings::default()),
        Err(e) => return Err(biar::config::ConfigError::from(e).into()),
    };
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        BadInput(format!(
            "{}:{}:{}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    match doc.get("builder") {
        None => Ok(BuilderSettings::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| BadInput(format!("{}: \"builder\": {e}", path.display())).into()),
    }
}
