//! `biar-tui run [-- CMD ARG…]`: the environment attached to this terminal (a TTY when stdin is
//! one, plain streams otherwise), `workdir/` mounted; exits with the command's exit code.

use std::process::ExitCode;

use anyhow::Context as _;
use biar::config::Project;
use biar::operations::{PipelineOptions, Runnable};
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
    /// Run the project's image (building and loading it first when Docker lacks it) instead of
    /// running the environment from the store volume.
    #[arg(long)]
    pub via_image: bool,
    /// Print when each step happened (seconds since `run` began) as one JSON line on stderr
    /// once the run is over: for benchmarks.
    #[arg(long, hide = true)]
    pub timings: bool,
    #[command(flatten)]
    pub builder: super::build::CreateBuilder,
    /// The command to run instead of a shell (after --).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let timings = Timings::new(args.timings);
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
    let cmd = (!args.command.is_empty()).then(|| args.command.clone());
    // The project's own environment: from the store volume, built first if needed, unless the
    // engine cannot (then, or when asked, its image as before).
    let own = project.as_ref().filter(|_| args.image.is_none());
    let mut direct = None;
    if let Some(p) = own.filter(|_| !args.via_image) {
        match biar::operations::direct_refused(&engine).await {
            Some(reason) => errln!("{}", biar::progress::neutralise_text(&reason)),
            None => {
                direct = match biar::operations::runnable(&engine, p, true).await? {
                    Some(Runnable::Image(_)) => None,
                    Some(Runnable::Direct(env)) => Some(env),
                    None => {
                        timings.mark("build_start");
                        let options = PipelineOptions {
                            create_builder: args.builder.create_builder,
                            ..PipelineOptions::default()
                        };
                        let (env, span) = build_report::build_env(p, &options)
                            .await
                            .with_context(|| format!("building {image} failed; nothing was run"))?;
                        timings.mark("build_end");
                        timings.nix(span);
                        Some(env)
                    }
                };
            }
        }
    }
    timings.mark("resolved");
    let notices = || run::Notices::new(|text| errln!("{}", biar::progress::neutralise_text(text)));
    // `Some` once the environment ran from the store volume.
    let mut done = None;
    if let (Some(env), Some(p)) = (&direct, own) {
        let mut spec = biar::operations::direct_run_spec(p, env, cmd.clone())?;
        spec.notices = notices();
        spec.on_started = timings.started();
        match run::run_attached(&engine, &spec).await {
            // Nothing was started: the image still can be.
            Err(RunError::DirectUnavailable { reason }) => errln!(
                "{}",
                biar::progress::neutralise_text(&format!("{reason}\n  running the image instead"))
            ),
            ran => done = Some(ran),
        }
    }
    let path = if done.is_some() { "direct" } else { "image" };
    let result = match done {
        Some(done) => done,
        None => {
            if !engine.image_exists(&image).await? {
                match (&project, &args.image) {
                    // The project's own image: build it (and load it into Docker) first.
                    (Some(p), None) => {
                        timings.mark("build_start");
                        let span = build_first(p, &image, args.builder.create_builder).await?;
                        timings.mark("build_end");
                        timings.nix(span);
                    }
                    _ => return Err(biar::run::RunError::ImageMissing { image }.into()),
                }
            }
            timings.mark("resolved_image");
            let mut spec = biar::operations::run_spec(project.as_ref(), image.clone(), cmd)?;
            // On stderr: stdout carries only the command's output.
            spec.notices = notices();
            spec.on_started = timings.started();
            run::run_attached(&engine, &spec).await
        }
    };
    timings.print(path);
    match result {
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
) -> anyhow::Result<build_report::NixBuildSpan> {
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
    let span = std::sync::Arc::new(std::sync::Mutex::new(build_report::NixBuildSpan::default()));
    build_report::build_timed(project, &options, &show, Some(span.clone()))
        .await
        .with_context(|| format!("building {image} failed; nothing was run"))?;
    let span = span.lock().map(|s| *s).unwrap_or_default();
    Ok(span)
}

/// `--timings`: when each step of `run` happened, in seconds since it began, printed as one JSON
/// line on stderr at the end (`hash`, `build_start`/`build_end` around a Nix build, `nix_build`:
/// the time Nix spent building derivations, `resolved`, `started`: the command runs).
#[derive(Clone)]
struct Timings(Option<std::sync::Arc<TimingsInner>>);

struct TimingsInner {
    began: std::time::Instant,
    marks: std::sync::Mutex<Vec<(String, f64)>>,
}

impl Timings {
    fn new(on: bool) -> Timings {
        Timings(on.then(|| {
            std::sync::Arc::new(TimingsInner {
                began: std::time::Instant::now(),
                marks: Default::default(),
            })
        }))
    }

    fn mark(&self, name: &str) {
        if let Some(t) = &self.0 {
            let at = t.began.elapsed().as_secs_f64();
            if let Ok(mut m) = t.marks.lock() {
                m.push((name.to_string(), at));
            }
        }
    }

    fn nix(&self, span: build_report::NixBuildSpan) {
        if let Some(t) = &self.0 {
            if let Ok(mut m) = t.marks.lock() {
                m.push(("nix_build".to_string(), span.duration().as_secs_f64()));
            }
        }
    }

    fn started(&self) -> run::Notices {
        let me = self.clone();
        run::Notices::new(move |_| me.mark("started"))
    }

    fn print(&self, path: &str) {
        let Some(t) = &self.0 else { return };
        let marks = t.marks.lock().map(|m| m.clone()).unwrap_or_default();
        let mut json = serde_json::Map::new();
        json.insert("event".into(), "run_timings".into());
        json.insert("path".into(), path.into());
        for (name, at) in marks {
            json.insert(name, serde_json::json!((at * 1000.0).round() / 1000.0));
        }
        errln!("{}", serde_json::Value::Object(json));
    }
}
