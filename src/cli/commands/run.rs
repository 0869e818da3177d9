//! `biar-tui run [-- CMD ARG…]`: the environment attached to this terminal (a TTY when stdin is
//! one, plain streams otherwise), `workdir/` mounted; exits with the command's exit code.

use std::process::ExitCode;

use anyhow::Context as _;
use biar::config::Project;
use biar::operations::PipelineOptions;
use biar::run::{self, RunError};

use crate::args::Global;
use crate::cli::build_report::{self, Show, Sink};
use crate::cli::print::errln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run this image (NAME:TAG, or a generation number from `history`) instead of the
    /// project's; the project's workdir/ is still mounted when there is a project.
    #[arg(long, value_name = "NAME:TAG|N")]
    pub image: Option<String>,
    #[command(flatten)]
    pub builder: super::build::CreateBuilder,
    /// The command to run instead of a shell (after --).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = match Project::load(&global.project) {
        Ok(p) => Some(p),
        // An explicit image needs no project.
        Err(_) if args.image.is_some() => None,
        Err(e) => return Err(e.into()),
    };
    let image = match (&args.image, &project) {
        // A generation number names that generation's image: in Docker, or pulled back from
        // the registry a push of it went to; else it is gone, and the error says so.
        (Some(n), Some(p)) if n.trim_start_matches('#').parse::<u64>().is_ok() => {
            let found = biar::operations::generation_image(p, n, &pull_progress).await?;
            found.image
        }
        (Some(i), _) => i.clone(),
        (None, Some(p)) => p.image_ref()?.reference(),
        (None, None) => unreachable!("no project and no image"),
    };
    let engine = biar::docker::connect().await?;
    if !engine.image_exists(&image).await? {
        match (&project, &args.image) {
            // The project's own image: build it (and load it into Docker) first.
            (Some(p), None) => build_first(p, &image, args.builder.create_builder).await?,
            _ => return Err(biar::run::RunError::ImageMissing { image }.into()),
        }
    }
    let cmd = (!args.command.is_empty()).then(|| args.command.clone());
    let mut spec = biar::operations::run_spec(project.as_ref(), image.clone(), cmd)?;
    // On stderr: stdout carries only the command's output.
    spec.notices = run::Notices::new(|text| errln!("{}", biar::progress::neutralise_text(text)));
    match run::run_attached(&engine, &spec).await {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        // The container is already removed: end as the signal would have ended us (a shell
        // then reports 128 + its number). The terminal may be gone: a failed write is no error.
        Err(RunError::Interrupted { signal }) => {
            errln!("biar-tui: stopped by signal {signal}; the environment was removed");
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            Ok(ExitCode::from((128 + signal) as u8))
        }
        // The command was not found or not executable: 127 or 126, as a shell and docker say.
        Err(e @ RunError::CommandNotRun { code, .. }) => {
            errln!("error: running {image}: {e}");
            Ok(ExitCode::from(code))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("running {image}"))),
    }
}

/// A generation pulled back from the registry, said on stderr (stdout is the command's).
fn pull_progress(event: biar::operations::PullEvent) {
    if let biar::operations::PullEvent::Started { remote } = event {
        errln!(
            "not in Docker any more: pulling {}",
            biar::progress::neutralise_text(&remote)
        );
    }
}

/// `biar-tui build`, as `run` needs it when the image is missing: the same pipeline, progress
/// and Ctrl-C behaviour, with every line on stderr so `run`'s stdout carries only the command's
/// output (scripts read it). A failed build runs nothing and keeps its exit category.
async fn build_first(
    project: &Project,
    image: &str,
    create_builder: Option<biar::docker::BuilderSource>,
) -> anyhow::Result<()> {
    errln!("{image} is not in Docker yet: building it first");
    let show = Show {
        json: false,
        verbose: false,
        closure_json: None,
        results: Sink::Stderr,
    };
    let options = PipelineOptions {
        create_builder,
        ..PipelineOptions::default()
    };
    build_report::build(project, &options, &show)
        .await
        .with_context(|| format!("building {image} failed; nothing was run"))?;
    Ok(())
}
