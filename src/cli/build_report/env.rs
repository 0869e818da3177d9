//! The Nix build `run` makes when the environment runs from the store volume (no image): the
//! same progress on stderr and the same Ctrl-C behaviour as a build, and the time Nix spent
//! building derivations (the benchmark subtracts it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use biar::config::Project;
use biar::operations::{DirectEnv, PipelineOptions};
use biar::progress::BuildEvent;
use tokio_util::sync::CancellationToken;

use super::{signals, Reporter, Show, Sink};

/// When Nix built derivations: the first start to the last end (`None`: nothing was built).
#[derive(Debug, Default, Clone, Copy)]
pub struct NixBuildSpan {
    pub first_start: Option<Instant>,
    pub last_end: Option<Instant>,
}

impl NixBuildSpan {
    /// Notes `event`'s time when it starts or ends a derivation's build.
    pub fn see(&mut self, event: &BuildEvent) {
        let now = Instant::now();
        match event {
            BuildEvent::DerivationStarted { .. } => {
                self.first_start.get_or_insert(now);
            }
            BuildEvent::DerivationFinished { .. } => self.last_end = Some(now),
            _ => {}
        }
    }

    pub fn duration(&self) -> Duration {
        match (self.first_start, self.last_end) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => Duration::ZERO,
        }
    }
}

/// Builds `project`'s environment for a run from the store volume, progress on stderr.
pub async fn build_env(
    project: &Project,
    options: &PipelineOptions,
) -> anyhow::Result<(DirectEnv, NixBuildSpan)> {
    let cancel = CancellationToken::new();
    let phase = signals::Phase::default();
    tokio::spawn(signals::handle(cancel.clone(), phase.clone(), false));
    let show = Show {
        json: false,
        verbose: false,
        closure_json: None,
        results: Sink::Stderr,
    };
    let (tx, mut rx) = biar::progress::channel();
    let span = Arc::new(Mutex::new(NixBuildSpan::default()));
    let mut reporter = Reporter::new(&show);
    let report = tokio::spawn({
        let span = span.clone();
        async move {
            while let Some(event) = rx.recv().await {
                if let Ok(mut s) = span.lock() {
                    s.see(&event);
                }
                // `Done` names the environment's path, not an image: nothing to show.
                if !matches!(event, BuildEvent::Done { .. }) {
                    reporter.on(&event);
                }
            }
            reporter.finish();
        }
    });
    let built = biar::operations::build_env(project, options, tx, cancel).await;
    let _ = report.await;
    phase.over();
    let env = built?;
    let span = span.lock().map(|s| *s).unwrap_or_default();
    Ok((env, span))
}
