//! `biar-tui doctor [--image NAME:TAG | --project DIR] [--profile P] [--json]`: checks an image
//! (any image in the engine) against a workspace profile; exit 1 when a rule fails, 2 for an
//! image that does not exist or an unknown profile.

use std::process::ExitCode;

use biar::config::Project;
use biar::doctor::{self, Status};
use biar::profile::{Profile, PROFILE_NAMES};

use crate::args::Global;
use crate::cli::print::outln;
use crate::exit::BadInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to check (NAME:TAG); without it, the project's image.
    #[arg(long, value_name = "NAME:TAG")]
    pub image: Option<String>,
    /// The profile whose rules to check: plain, coder, devcontainer. Default: the project's
    /// image.profile, else the image's biar.profile label, else plain.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let profile = match &args.profile {
        Some(p) => Some(Profile::parse(p).ok_or_else(|| {
            BadInput(format!(
                "--profile {p:?} is not a profile; use one of {}",
                PROFILE_NAMES.join(", ")
            ))
        })?),
        None => None,
    };
    let (image, profile) = match args.image {
        Some(image) => (image, profile),
        None => {
            let dir = global.project.clone();
            let project = tokio::task::spawn_blocking(move || Project::load(&dir)).await??;
            let configured = project.config.image.profile;
            (
                project.image_ref()?.reference(),
                profile.or(Some(configured)),
            )
        }
    };
    let engine = biar::docker::connect().await?;
    let report = doctor::diagnose(&engine, &image, profile).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "{} against the {} profile:",
            report.image,
            report.profile.name()
        );
        for c in &report.checks {
            let mark = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
            };
            outln!("  {mark}  {:<18} {}", c.rule, c.why);
            if let Some(fix) = &c.fix {
                outln!("        {:<18} fix: {fix}", "");
            }
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
