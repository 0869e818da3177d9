//! The real [`Engine`]: the app's requests answered by `biar::operations` (the same use cases
//! the CLI commands call), their answers turned into the app's views and messages. Only
//! presentation lives here: what to do is decided in the library.

use std::path::PathBuf;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use biar::config::Project;
use biar::nixexpr::AttrPath;
use biar::operations::{self, build_image, PipelineOptions};

use super::backend::{Engine, PackageIndex};
use super::view::{
    BuilderOffer, CheckView, Delivered, DiffView, DockerState, DoctorState, DoctorView, FileView,
    GenerationView, Hit, ImageState, IndexRefresh, PresetView, ProjectView, PushView,
};

pub struct Present {
    pub project_dir: PathBuf,
}

/// The shipped presets (none chosen), for the new-project screen.
pub fn shipped_presets() -> Vec<PresetView> {
    biar::presets::SHIPPED
        .iter()
        .map(|(name, text)| PresetView {
            name: name.to_string(),
            description: shown(&biar::presets::description_of(text)),
            enabled: false,
        })
        .collect()
}

impl Engine for Present {
    fn init(&self, presets: &[String]) -> anyhow::Result<String> {
        let options = biar::init::InitOptions {
            presets: presets.to_vec(),
            nixpkgs: biar::init::NixpkgsChoice::Default,
            offline: false,
        };
        let written = biar::init::init(&self.project_dir, &options)?;
        Ok(format!("created the project: {}", written.join(", ")))
    }

    fn load_project(&self) -> anyhow::Result<ProjectView> {
        let o = operations::overview(&self.project_dir)?;
        Ok(ProjectView {
            root: o.root.display().to_string(),
            image: o.image.map_err(|e| shown(&e.to_string())),
            presets: o
                .presets
                .into_iter()
                .map(|p| PresetView {
                    name: p.name,
                    description: shown(&p.description),
                    enabled: p.enabled,
                })
                .collect(),
            files: o
                .files
                .into_iter()
                .map(|f| match f.packages {
                    Ok(packages) => FileView {
                        name: f.name,
                        packages,
                        error: None,
                    },
                    Err(e) => FileView {
                        name: f.name,
                        packages: Vec::new(),
                        error: Some(shown(&e.to_string())),
                    },
                })
                .collect(),
            registry: o.registry,
        })
    }

    fn toggle_preset(&self, name: &str) -> anyhow::Result<String> {
        let t = operations::toggle_preset(&self.project_dir, name)?;
        Ok(format!("turned {name} {}", if t.on { "on" } else { "off" }))
    }

    fn add_package(&self, attr: &str) -> anyhow::Result<String> {
        let attr = AttrPath::parse(attr)?;
        // The TUI adds search results: names from the index itself.
        let added = operations::add_packages(
            &self.project_dir,
            None,
            std::slice::from_ref(&attr),
            operations::IndexCheck::Skip,
        )?;
        Ok(if added.added.is_empty() {
            format!("{attr} is already in {}", added.file)
        } else {
            format!("added {attr} to {}", added.file)
        })
    }

    fn remove_package(&self, name: &str, attr: &str) -> anyhow::Result<String> {
        let attr = AttrPath::parse(attr)?;
        let removed = operations::remove_packages(
            &self.project_dir,
            Some(name),
            std::slice::from_ref(&attr),
        )?;
        Ok(if removed.removed.is_empty() {
            format!("{attr} is not in {}", removed.file)
        } else {
            format!("removed {attr} from {}", removed.file)
        })
    }

    fn load_index(&self) -> anyhow::Result<Box<dyn PackageIndex>> {
        // The same index `biar-tui search` uses in this folder.
        let loaded = biar::index::load_for_search(&self.project_dir)?;
        Ok(Box::new(biar::index::Searcher::new(loaded.index)))
    }

    fn refresh_index(&self) -> BoxFuture<'static, Option<IndexRefresh>> {
        let dir = self.project_dir.clone();
        async move {
            let stale = tokio::task::spawn_blocking({
                let dir = dir.clone();
                move || biar::index::stale_sources(&dir, biar::index::REFRESH_AFTER)
            })
            .await
            .ok()?;
            if stale.is_empty() {
                return None;
            }
            let reports = biar::index::update(&dir, &stale, &mut Vec::new()).await;
            let reload = reports
                .iter()
                .any(|r| matches!(r.outcome, biar::index::Outcome::Loaded { .. }));
            let said: Vec<String> = reports.iter().map(|r| shown(&r.to_string())).collect();
            Some(IndexRefresh {
                message: format!(
                    "package index older than a day, refreshed: {}",
                    said.join("; ")
                ),
                reload,
            })
        }
        .boxed()
    }

    fn docker_state(&self) -> BoxFuture<'static, DockerState> {
        async {
            match operations::docker_version().await {
                Ok(version) => DockerState::Up { version },
                Err(e) => DockerState::Down {
                    reason: shown(&e.to_string()),
                },
            }
        }
        .boxed()
    }

    fn image_state(&self) -> BoxFuture<'static, ImageState> {
        let dir = self.project_dir.clone();
        async move {
            match operations::image_state(&dir).await {
                operations::ImageState::Unknown => ImageState::Unknown,
                operations::ImageState::Local => ImageState::Local,
                operations::ImageState::Registry => ImageState::Registry,
                operations::ImageState::NotBuilt => ImageState::NotBuilt,
            }
        }
        .boxed()
    }

    fn doctor(&self) -> BoxFuture<'static, DoctorState> {
        let dir = self.project_dir.clone();
        async move {
            // `biar-tui doctor` with no arguments: the project's image, its image.profile.
            let result = operations::doctor_project(&dir);
            match result.await {
                Ok(report) => DoctorState::Done(DoctorView {
                    image: report.image,
                    profile: report.profile.name().to_string(),
                    checks: report
                        .checks
                        .into_iter()
                        .map(|c| CheckView {
                            rule: c.rule.to_string(),
                            passed: c.status == biar::doctor::Status::Pass,
                            // Found in the image (paths, names): through the sanitizer.
                            why: shown(&c.why),
                            fix: c.fix.as_deref().map(shown),
                        })
                        .collect(),
                }),
                Err(e) => DoctorState::Failed(super::backend::error_message(&e.into())),
            }
        }
        .boxed()
    }

    fn build(
        &self,
        push: bool,
        create_builder: Option<biar::docker::BuilderSource>,
        events: biar::progress::Sender,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Delivered>> {
        let dir = self.project_dir.clone();
        // `Send`: the backend spawns it on the runtime like any other request.
        async move {
            let project = Project::load(&dir)?;
            // Unlike the CLI, the TUI builds only an image the configuration names.
            let name = project.image_ref()?.reference();
            // The app asks for a push only when the project it loaded had a registry;
            // config.json may have changed since.
            let mut options = PipelineOptions::for_project(&project, push)?;
            options.create_builder = create_builder;
            // The pipeline sends every step's events, and last the delivered reference.
            let outcome = build_image(&project, &options, events, &(), cancel).await?;
            Ok(delivered(name, outcome))
        }
        .boxed()
    }

    fn build_for_run(
        &self,
        events: biar::progress::Sender,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Delivered>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            let name = project.image_ref()?.reference();
            let engine = biar::docker::connect().await?;
            if operations::direct_refused(&engine).await.is_some() {
                // This engine runs the image: the whole pipeline, as `b`.
                let options = PipelineOptions::for_project(&project, false)?;
                let outcome = build_image(&project, &options, events, &(), cancel).await?;
                return Ok(delivered(name, outcome));
            }
            // The image, or the environment this configuration was last built as: nothing to
            // build (`run_project` runs it).
            if operations::runnable(&engine, &project, true)
                .await?
                .is_none()
            {
                let options = PipelineOptions::for_project(&project, false)?;
                operations::build_env(&project, &options, events, cancel).await?;
            }
            Ok(Delivered::Loaded(name))
        }
        .boxed()
    }

    fn builder_offer(&self, error: &anyhow::Error, push: bool) -> Option<BuilderOffer> {
        let Some(biar::operations::Error::BuilderMissing { plan }) = error.downcast_ref() else {
            return None;
        };
        let lines = |source| plan.steps(source).iter().map(|s| shown(s)).collect();
        Some(BuilderOffer {
            push,
            official: lines(biar::docker::BuilderSource::Official),
            offline: lines(biar::docker::BuilderSource::Offline),
        })
    }

    fn closure(&self) -> BoxFuture<'static, anyhow::Result<biar::inspect::ClosureModel>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            // Nobody shows this build's progress: the explorer says it is building.
            let (tx, rx) = biar::progress::channel();
            drop(rx);
            let inspected =
                biar::operations::inspect_closure(&project, tx, CancellationToken::new()).await?;
            Ok(inspected.model)
        }
        .boxed()
    }

    fn preview_push(
        &self,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Vec<String>>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            let (tx, rx) = biar::progress::channel();
            drop(rx);
            let report = biar::operations::diff_project(&project, None, None, tx, cancel).await?;
            let d = &report.diff;
            let mut lines = vec![format!("from {}", d.from), format!("to   {}", d.to)];
            lines.extend(d.added.iter().map(|p| format!("  + {p}")));
            lines.extend(d.removed.iter().map(|p| format!("  - {p}")));
            lines.extend(
                d.changed
                    .iter()
                    .map(|c| format!("  ~ {} {} → {}", c.name, c.from, c.to)),
            );
            lines.push(format!(
                "store paths: {} added, {} removed",
                d.paths_added.len(),
                d.paths_removed.len()
            ));
            lines.extend(push_line(&report));
            Ok(lines.iter().map(|l| shown(l)).collect())
        }
        .boxed()
    }

    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<(i64, Vec<String>)>> {
        let dir = self.project_dir.clone();
        // The same spec `biar-tui run` uses: a shell, `workdir/` mounted, a TTY.
        async move {
            let (notices, said) = kept_notices();
            heard(operations::run_project(&dir, notices).await, &said)
        }
        .boxed()
    }

    fn generations(&self) -> anyhow::Result<Vec<GenerationView>> {
        // A project that does not load has no history worth showing: say why.
        let project = Project::load(&self.project_dir)?;
        Ok(operations::generations(&project.root)
            .into_iter()
            .map(|g| GenerationView {
                number: g.number,
                time: biar::inspect::history::format_time(g.time),
                pushed: g.delivery == biar::inspect::Delivery::Push,
                reference: shown(&g.reference),
                remote: g.remote.as_deref().map(shown),
                packages: g.packages.len(),
                closure_size: g.closure_size,
            })
            .collect())
    }

    fn generation_diff(
        &self,
        from: u64,
        to: Option<u64>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<DiffView>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            // Nobody shows the current configuration's build: the view says it is building.
            let (tx, rx) = biar::progress::channel();
            drop(rx);
            let (from, to) = (from.to_string(), to.map(|n| n.to_string()));
            let report =
                operations::diff_project(&project, Some(&from), to.as_deref(), tx, cancel).await?;
            let mut diff = report.diff.clone();
            // From the state file and the store: shown only through the sanitizer.
            for text in [&mut diff.from, &mut diff.to]
                .into_iter()
                .chain(diff.added.iter_mut())
                .chain(diff.removed.iter_mut())
                .chain(diff.paths_added.iter_mut())
                .chain(diff.paths_removed.iter_mut())
            {
                *text = shown(text);
            }
            for c in &mut diff.changed {
                for text in [&mut c.name, &mut c.from, &mut c.to] {
                    *text = shown(text);
                }
            }
            Ok(DiffView {
                diff,
                push: push_line(&report).map(|l| shown(&l)),
            })
        }
        .boxed()
    }

    fn generation_image(&self, number: u64) -> BoxFuture<'static, anyhow::Result<String>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            // A pull back from the registry is short next to a build; the view says it is
            // finding the image meanwhile.
            let found =
                operations::generation_image(&project, &number.to_string(), &|_| {}).await?;
            Ok(found.image)
        }
        .boxed()
    }

    fn run_image(&self, image: String) -> BoxFuture<'static, anyhow::Result<(i64, Vec<String>)>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            let (notices, said) = kept_notices();
            heard(operations::run_image(&project, image, notices).await, &said)
        }
        .boxed()
    }
}

/// What a run says besides its output, kept for the status line: the TUI prints nothing around
/// its screen.
fn kept_notices() -> (
    biar::run::Notices,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = said.clone();
    let notices = biar::run::Notices::new(move |text| {
        if let Ok(mut said) = sink.lock() {
            said.push(text.to_string());
        }
    });
    (notices, said)
}

/// A finished run's exit code and what its notices said. A run's own error stays a
/// `RunError`: the app tells an interrupted run by its type.
fn heard(
    ran: Result<i64, operations::Error>,
    said: &std::sync::Mutex<Vec<String>>,
) -> anyhow::Result<(i64, Vec<String>)> {
    let code = match ran {
        Ok(code) => code,
        Err(operations::Error::Run(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    let said = said.lock().map(|s| s.clone()).unwrap_or_default();
    Ok((code, said))
}

/// What a push of the current configuration would send, as one line (when the diff's TO is
/// the current configuration and the project names a registry).
fn push_line(report: &operations::DiffReport) -> Option<String> {
    use biar::inspect::human_bytes;
    use biar::registry::BlobFate;
    let push = report.push.as_ref()?;
    let count = |f| push.blobs.iter().filter(|b| b.fate == f).count();
    Some(if push.up_to_date {
        format!("{}: up to date, nothing would be sent", push.remote)
    } else {
        format!(
            "{}: upload {} ({} blobs), mount {} ({}), skip {} ({})",
            push.remote,
            human_bytes(push.bytes(BlobFate::Upload)),
            count(BlobFate::Upload),
            human_bytes(push.bytes(BlobFate::Mount)),
            count(BlobFate::Mount),
            human_bytes(push.bytes(BlobFate::Skip)),
            count(BlobFate::Skip)
        )
    })
}

/// What the app shows of a finished build: loaded, or pushed with the push's own summary.
fn delivered(name: String, outcome: operations::PipelineOutcome) -> Delivered {
    match (outcome.remote, outcome.push) {
        (None, _) => Delivered::Loaded(name),
        (Some(remote), summary) => {
            let s = summary.unwrap_or_default();
            Delivered::Pushed(PushView {
                remote: remote.to_string(),
                // No summary: the tag was there before anything was built.
                up_to_date: outcome.up_to_date || s.already_present,
                summary: s,
            })
        }
    }
}

impl PackageIndex for biar::index::Searcher {
    fn len(&self) -> usize {
        self.index().len()
    }

    fn search(&mut self, query: &str, limit: usize) -> Vec<Hit> {
        biar::index::Searcher::search(self, query, limit)
            .into_iter()
            .map(|h| Hit {
                attr: h.attr,
                version: h.version.as_deref().map(shown),
                description: h.description.as_deref().map(shown),
                matched: h.matched,
            })
            .collect()
    }
}

/// Text the TUI only shows (descriptions, versions, messages) through the one sanitizer, as it
/// leaves the library: plain lines, since colours here would show as text. Names that are also
/// identifiers (files, attributes) stay as they are and are drawn through ratatui's buffer, which
/// drops control characters.
pub fn shown(text: &str) -> String {
    text.split('\n')
        .map(biar::progress::plain_text)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_text_is_plain_lines() {
        assert_eq!(
            super::shown("Evil \x1b]52;c;eA==\x07\x1b[31mpreset\x1b[0m\u{9b}2J\nsecond\x07"),
            "Evil preset\nsecond"
        );
    }
}
