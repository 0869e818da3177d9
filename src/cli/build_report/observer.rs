//! The CLI's view of the pipeline: the environment line and `--closure-json` once Nix is done,
//! then the layers, load and push lines (JSON lines with `--json`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use biar::nixbuild::{BuildError, BuildOutput};
use biar::operations::PipelineObserver;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use super::progress::Reporter;
use super::signals::Phase;
use super::Show;
use crate::cli::print::errln;

pub struct Observer<'a> {
    show: &'a Show,
    phase: Phase,
    reporter: Arc<Mutex<Reporter>>,
    /// The progress reporter's task, awaited before the first result line so its summary comes first.
    report_task: Mutex<Option<JoinHandle<()>>>,
}

impl<'a> Observer<'a> {
    pub fn new(
        show: &'a Show,
        phase: Phase,
        reporter: Arc<Mutex<Reporter>>,
        report_task: JoinHandle<()>,
    ) -> Observer<'a> {
        Observer {
            show,
            phase,
            reporter,
            report_task: Mutex::new(Some(report_task)),
        }
    }

    pub async fn wait_reporter(&self) {
        let task = self.report_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn json(&self, value: &impl serde::Serialize) {
        if let Ok(line) = serde_json::to_string(value) {
            self.show.results.line(line);
        }
    }
}

impl PipelineObserver for Observer<'_> {
    fn built<'a>(&'a self, built: &'a BuildOutput) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(async move {
            self.phase.nix_done();
            // The Nix build's events are rendered (the pipeline waited for that): its summary
            // line comes first.
            super::lock(&self.reporter).finish();
            if let Some(file) = &self.show.closure_json {
                write_closure_json(file, built)
                    .map_err(|e| BuildError::Other(crate::exit::error_text(&e)))?;
            }
            let size: u64 = built.closure.total_nar_size();
            if self.show.json {
                self.json(&serde_json::json!({
                    "event": "built",
                    "env_path": built.env_path,
                    "roots": built.roots,
                    "packages": built.packages,
                    "paths": built.closure.paths.len(),
                    "nar_size": size,
                }));
            } else {
                self.show.results.line(format!(
                    "environment: {} ({} store paths, {:.1} MB)",
                    built.env_path,
                    built.closure.paths.len(),
                    size as f64 / 1e6
                ));
            }
            Ok(())
        })
    }

    fn assembled(&self, image: &biar::image::ImageDescriptor, took: Duration) {
        if !self.show.json {
            errln!(
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
        if self.show.json {
            self.json(&serde_json::json!({
                "event": "loaded",
                "reference": reference.reference(),
                "summary": summary,
            }));
        } else if summary.already_present {
            self.show
                .results
                .line(format!("{reference} is up to date in Docker: nothing sent"));
        } else {
            self.show.results.line(format!(
                "loaded {reference}: {} layers sent ({:.1} MB), {} reused ({:.1} MB) in {:.1}s",
                summary.layers_sent,
                summary.bytes_sent as f64 / 1e6,
                summary.layers_reused,
                summary.bytes_reused as f64 / 1e6,
                took.as_secs_f64()
            ));
        }
    }

    fn pushed(
        &self,
        remote: &biar::registry::RegistryRef,
        summary: &biar::registry::PushSummary,
        took: Duration,
    ) {
        if self.show.json {
            self.json(&serde_json::json!({
                "event": "pushed",
                "reference": remote.to_string(),
                "summary": summary,
            }));
        } else if summary.already_present {
            self.show.results.line(format!(
                "{remote} is up to date in the registry: nothing sent"
            ));
        } else {
            self.show.results.line(format!(
                "pushed {remote}: {} blobs sent ({:.1} MB), {} reused ({:.1} MB), {} mounted in {:.1}s",
                summary.blobs_sent,
                summary.bytes_sent as f64 / 1e6,
                summary.blobs_reused,
                summary.bytes_reused as f64 / 1e6,
                summary.blobs_mounted,
                took.as_secs_f64()
            ));
        }
    }
}

fn write_closure_json(file: &Path, built: &BuildOutput) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(&built.closure.paths)?;
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
