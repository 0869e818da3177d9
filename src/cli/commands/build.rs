use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use biar::build::{
    BuildError, BuildEvent, BuildOptions, BuildOutput, PipelineObserver, PipelineOptions,
    PipelineStep,
};
use biar::config::Project;
use futures::future::BoxFuture;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Push the image to the configured registry.
    #[arg(long)]
    pub push: bool,
    /// Write the closure graph (exportReferencesGraph JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub closure_json: Option<std::path::PathBuf>,
    /// Print JSON lines of build events.
    #[arg(long)]
    pub json: bool,
    /// Show the build's own log lines.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    let options = PipelineOptions {
        push: if args.push {
            Some(push_target(&project)?)
        } else {
            None
        },
        build: BuildOptions::default(),
    };
    let cancel = CancellationToken::new();
    let nix_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(cancel_on_signals(
        cancel.clone(),
        nix_done.clone(),
        args.push,
    ));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<BuildEvent>(1024);
    let mut reporter = Reporter::new(&args);
    // The channel closes when the Nix build ends: the reporter's summary comes before the image.
    let report_task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            reporter.on(&event);
        }
        reporter.finish();
    });
    let observer = Observer {
        args: &args,
        nix_done,
        report_task: std::sync::Mutex::new(Some(report_task)),
    };
    let outcome = biar::build::build_image(&project, &options, tx, &observer, cancel).await;
    observer.wait_reporter().await;
    let outcome = outcome?;
    if outcome.up_to_date {
        match &outcome.remote {
            None => report_up_to_date(&args, &outcome.reference.reference()),
            Some(remote) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"event": "up_to_date", "reference": remote.to_string()})
                    );
                } else {
                    println!("{remote} is up to date in the registry: nothing built or sent");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report_up_to_date(args: &Args, reference: &str) {
    if args.json {
        println!(
            "{}",
            serde_json::json!({"event": "up_to_date", "reference": reference})
        );
    } else {
        println!("{reference} is up to date in Docker: nothing built or sent");
    }
}

/// The CLI's view of the pipeline: the environment line and `--closure-json` once Nix is done,
/// then the layers, load and push lines (JSON lines with `--json`).
struct Observer<'a> {
    args: &'a Args,
    nix_done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    report_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Observer<'_> {
    async fn wait_reporter(&self) {
        let task = self.report_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn print_json(&self, e: &BuildEvent) {
        if let Ok(line) = serde_json::to_string(e) {
            println!("{line}");
        }
    }
}

impl PipelineObserver for Observer<'_> {
    fn built<'a>(&'a self, built: &'a BuildOutput) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(async move {
            // Signals stay handled for the rest of the command (the image step).
            self.nix_done
                .store(true, std::sync::atomic::Ordering::SeqCst);
            // The reporter ends as the channel closes; its summary line comes first.
            self.wait_reporter().await;
            if let Some(file) = &self.args.closure_json {
                write_closure_json(file, built).map_err(|e| BuildError::Other(format!("{e:#}")))?;
            }
            let size: u64 = built.closure.total_nar_size();
            if self.args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "event": "built",
                        "env_path": built.env_path,
                        "roots": built.roots,
                        "packages": built.packages,
                        "paths": built.closure.paths.len(),
                        "nar_size": size,
                    })
                );
            } else {
                println!(
                    "environment: {} ({} store paths, {:.1} MB)",
                    built.env_path,
                    built.closure.paths.len(),
                    size as f64 / 1e6
                );
            }
            Ok(())
        })
    }

    fn event(&self, step: PipelineStep, e: BuildEvent) {
        if self.args.json {
            self.print_json(&e);
        } else if let (
            PipelineStep::Push,
            BuildEvent::Layer {
                index,
                total,
                digest,
                size,
                reused: false,
            },
        ) = (step, &e)
        {
            eprintln!(
                "  sent layer {}/{total} {} ({:.1} MB)",
                index + 1,
                &digest[..digest.len().min(19)],
                *size as f64 / 1e6
            );
        }
    }

    fn assembled(&self, image: &biar::image::ImageDescriptor, took: Duration) {
        if !self.args.json {
            eprintln!(
                "layers: {} store layers + root layer, {:.1} MB ({:.1}s)",
                image.layers.len() - 1,
                image.layers.iter().map(|l| l.size).sum::<u64>() as f64 / 1e6,
                took.as_secs_f64()
            );
        }
    }

    fn loaded(
        &self,
        reference: &biar::config::ImageRef,
        summary: &biar::image::LoadSummary,
        took: Duration,
    ) {
        if self.args.json {
            println!(
                "{}",
                serde_json::json!({"event": "loaded", "reference": reference.reference(), "summary": summary})
            );
        } else if summary.already_present {
            println!("{reference} is up to date in Docker: nothing sent");
        } else {
            println!(
                "loaded {reference}: {} layers sent ({:.1} MB), {} reused ({:.1} MB) in {:.1}s",
                summary.layers_sent,
                summary.bytes_sent as f64 / 1e6,
                summary.layers_reused,
                summary.bytes_reused as f64 / 1e6,
                took.as_secs_f64()
            );
        }
    }

    fn pushed(
        &self,
        remote: &biar::registry::RegistryRef,
        summary: &biar::registry::PushSummary,
        took: Duration,
    ) {
        if self.args.json {
            println!(
                "{}",
                serde_json::json!({"event": "pushed", "reference": remote.to_string(), "summary": summary})
            );
        } else if summary.already_present {
            println!("{remote} is up to date in the registry: nothing sent");
        } else {
            println!(
                "pushed {remote}: {} blobs sent ({:.1} MB), {} reused ({:.1} MB), {} mounted in {:.1}s",
                summary.blobs_sent,
                summary.bytes_sent as f64 / 1e6,
                summary.blobs_reused,
                summary.bytes_reused as f64 / 1e6,
                summary.blobs_mounted,
                took.as_secs_f64()
            );
        }
    }
}

/// Cancels the Nix build on the first Ctrl-C or SIGTERM. Once the Nix build is over, a signal
/// ends the command (installing a handler replaced the default action, and the image step streams
/// from the builder container, which goes away with this process), except during `--push`, which
/// the pipeline stops itself: the manifest goes last, so nothing is half-tagged.
async fn cancel_on_signals(
    cancel: CancellationToken,
    nix_done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    push: bool,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    if nix_done.load(std::sync::atomic::Ordering::SeqCst) && !push {
        eprintln!("error: cancelled");
        std::process::exit(1);
    }
    cancel.cancel();
}

fn write_closure_json(file: &Path, built: &BuildOutput) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(&built.closure.paths)?;
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

enum Mode {
    Bar(ProgressBar),
    Plain,
    Json,
}

/// Shows build events: counts, what builds now and its phase, elapsed time, logs under -v.
struct Reporter {
    mode: Mode,
    verbose: bool,
    started: Instant,
    done: u64,
    expected: u64,
    building: BTreeMap<String, (String, Option<String>)>,
}

impl Reporter {
    fn new(args: &Args) -> Reporter {
        let mode = if args.json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Mode::Bar(bar)
        } else {
            Mode::Plain
        };
        Reporter {
            mode,
            verbose: args.verbose,
            started: Instant::now(),
            done: 0,
            expected: 0,
            building: BTreeMap::new(),
        }
    }

    fn on(&mut self, event: &BuildEvent) {
        if let Mode::Json = self.mode {
            if self.verbose || !matches!(event, BuildEvent::Log { .. }) {
                if let Ok(line) = serde_json::to_string(event) {
                    println!("{line}");
                }
            }
            return;
        }
        let line: Option<String> = match event {
            BuildEvent::Stage { name } => Some(format!("{name}…")),
            BuildEvent::Progress { done, expected, .. } => {
                // Nix reports an empty count when it gives up; keep the last real one.
                if *expected == 0 && self.expected > 0 {
                    return;
                }
                // `expected` moves while Nix walks the graph: a line only when one is done.
                let finished_one = *done != self.done;
                self.done = *done;
                self.expected = *expected;
                (finished_one && matches!(self.mode, Mode::Plain))
                    .then(|| format!("{done}/{expected} derivations built"))
            }
            BuildEvent::DerivationStarted { drv, name } => {
                self.building.insert(drv.clone(), (name.clone(), None));
                Some(format!("building {name}"))
            }
            BuildEvent::DerivationFinished { drv } => self
                .building
                .remove(drv)
                .map(|(name, _)| format!("finished {name}")),
            BuildEvent::Phase { drv, phase } => {
                if let Some(entry) = self.building.get_mut(drv) {
                    entry.1 = Some(phase.clone());
                }
                self.verbose
                    .then(|| format!("{}: {phase}", self.name_of(drv)))
            }
            BuildEvent::Log { drv, line } => self.verbose.then(|| match drv {
                Some(drv) => format!(
                    "{}> {}",
                    self.name_of(drv),
                    biar::build::neutralise_log(line)
                ),
                None => biar::build::neutralise_log(line),
            }),
            // Errors (level 0) come once, in the final error message.
            BuildEvent::Message { level, text } => (*level == 1
                || (self.verbose && (1..=3).contains(level)))
            .then(|| biar::build::neutralise_log(text)),
            BuildEvent::Layer { .. } | BuildEvent::Done { .. } => None,
        };
        match &self.mode {
            Mode::Bar(bar) => {
                if let Some(line) = line {
                    bar.println(line);
                }
                bar.set_message(self.status());
            }
            Mode::Plain => {
                if let Some(line) = line {
                    eprintln!("[{:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
                }
            }
            Mode::Json => {}
        }
    }

    fn name_of(&self, drv: &str) -> String {
        self.building
            .get(drv)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| biar::build::internal_json::drv_name(drv))
    }

    fn status(&self) -> String {
        let now: Vec<String> = self
            .building
            .values()
            .map(|(name, phase)| match phase {
                Some(p) => format!("{name} ({p})"),
                None => name.clone(),
            })
            .collect();
        if now.is_empty() {
            format!("{}/{} built", self.done, self.expected)
        } else {
            format!(
                "{}/{} built, building {}",
                self.done,
                self.expected,
                now.join(", ")
            )
        }
    }

    fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        if !matches!(self.mode, Mode::Json) && self.expected > 0 {
            eprintln!(
                "{}/{} derivations built, {:.1}s",
                self.done,
                self.expected,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The configured registry, or a bad-input error saying how to configure one.
fn push_target(project: &Project) -> anyhow::Result<biar::registry::RegistryTarget> {
    biar::registry::RegistryTarget::from_config(&project.config).ok_or_else(|| {
        crate::cli::BadInput(format!(
            "{}: --push needs a registry: set registry.host (or DOCKER_REGISTRY_HOST) in it",
            project.config_path().display()
        ))
        .into()
    })
}
