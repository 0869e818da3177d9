//! How the CLI shows a build: the Nix build's progress (a spinner on a terminal, timed lines
//! otherwise, JSON lines with `--json`), then the environment, layers, load and push lines, and
//! what Ctrl-C and SIGTERM do meanwhile. `build` prints its results on stdout; `run`, which builds
//! a missing image first, sends them to stderr so its stdout carries only the command's output.

mod env;
mod observer;
mod progress;
mod signals;

pub use env::{build_env, NixBuildSpan};
pub use signals::cancelled_by;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use biar::config::Project;
use biar::operations::{PipelineOptions, PipelineOutcome};
use tokio_util::sync::CancellationToken;

use crate::cli::print::{errln, outln};
use observer::Observer;
use progress::Reporter;
use signals::Phase;

/// Where the result lines (environment, loaded, pushed, up to date, and JSON lines) go; progress
/// always goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

impl Sink {
    fn line(self, line: impl std::fmt::Display) {
        match self {
            Sink::Stdout => outln!("{line}"),
            Sink::Stderr => errln!("{line}"),
        }
    }
}

/// What to show of a build.
#[derive(Debug)]
pub struct Show {
    /// JSON lines of events and results instead of text.
    pub json: bool,
    /// The builds' own log lines and Nix's chattier messages.
    pub verbose: bool,
    /// Write the closure graph (exportReferencesGraph JSON) here once Nix is done.
    pub closure_json: Option<PathBuf>,
    pub results: Sink,
}

/// Runs the library's pipeline for `project`, showing it as `show` says. The first Ctrl-C or
/// SIGTERM cancels the Nix build (see [`signals`] for later ones).
pub async fn build(
    project: &Project,
    options: &PipelineOptions,
    show: &Show,
) -> anyhow::Result<PipelineOutcome> {
    build_timed(project, options, show, None).await
}

/// [`build`], noting in `span` when Nix built derivations (`run --timings`).
pub async fn build_timed(
    project: &Project,
    options: &PipelineOptions,
    show: &Show,
    span: Option<Arc<Mutex<NixBuildSpan>>>,
) -> anyhow::Result<PipelineOutcome> {
    let cancel = CancellationToken::new();
    let phase = Phase::default();
    tokio::spawn(signals::handle(
        cancel.clone(),
        phase.clone(),
        options.push.is_some(),
    ));
    let (tx, mut rx) = biar::progress::channel();
    let reporter = Arc::new(Mutex::new(Reporter::new(show)));
    // Every step's progress comes this way; the pipeline calls the observer's result hooks once
    // the events before them are rendered, and the Nix build's summary comes before the image.
    let report_task = tokio::spawn({
        let reporter = reporter.clone();
        async move {
            while let Some(event) = rx.recv().await {
                if let Some(span) = &span {
                    lock(span).see(&event);
                }
                lock(&reporter).on(&event);
            }
            lock(&reporter).finish();
        }
    });
    let observer = Observer::new(show, phase.clone(), reporter, report_task);
    let outcome = biar::operations::build_image(project, options, tx, &observer, cancel).await;
    observer.wait_reporter().await;
    phase.over();
    let outcome = outcome?;
    if outcome.up_to_date {
        if let Some(file) = &show.closure_json {
            // Asked for the closure: it comes from the store (a Nix build of what is there
            // already), even when the image needs nothing.
            observer::write_closure_of_store(project, file).await?;
        }
        let (reference, place) = match &outcome.remote {
            None => (outcome.reference.reference(), "Docker"),
            Some(remote) => (remote.to_string(), "the registry"),
        };
        if show.json {
            show.results
                .line(serde_json::json!({"event": "up_to_date", "reference": reference}));
        } else {
            show.results.line(format!(
                "{reference} is up to date in {place}: nothing built or sent"
            ));
        }
    }
    Ok(outcome)
}

fn lock<T>(value: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    value.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shows the progress of a Nix build that makes no image (`closure`, `diff`) on stderr: a spinner
/// on a terminal, timed lines otherwise, JSON lines with `json`. Await the handle after the
/// sender's last clone is dropped.
pub fn nix_progress(json: bool) -> (biar::progress::Sender, tokio::task::JoinHandle<()>) {
    let show = Show {
        json,
        verbose: false,
        closure_json: None,
        results: Sink::Stderr,
    };
    let (tx, mut rx) = biar::progress::channel();
    let mut reporter = Reporter::new(&show);
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            reporter.on(&event);
        }
        reporter.finish();
    });
    (tx, task)
}
