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
    CheckView, Delivered, DockerState, DoctorState, DoctorView, FileView, Hit, ImageState,
    PresetView, ProjectView, PushView,
};

pub struct Present {
    pub project_dir: PathBuf,
}

impl Engine for Present {
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
        let project = Project::load(&self.project_dir)?;
        let on = biar::presets::toggle(&project, name)?;
        Ok(format!("turned {name} {}", if on { "on" } else { "off" }))
    }

    fn add_package(&self, attr: &str) -> anyhow::Result<String> {
        let attr = AttrPath::parse(attr)?;
        let (name, _, outcome) = Project::edit_package_file(&self.project_dir, None, |f| {
            f.add(std::slice::from_ref(&attr))
        })?;
        Ok(if outcome.added.is_empty() {
            format!("{attr} is already in {name}")
        } else {
            format!("added {attr} to {name}")
        })
    }

    fn remove_package(&self, name: &str, attr: &str) -> anyhow::Result<String> {
        let attr = AttrPath::parse(attr)?;
        let (name, _, outcome) = Project::edit_package_file(&self.project_dir, Some(name), |f| {
            f.remove(std::slice::from_ref(&attr))
        })?;
        Ok(if outcome.removed.is_empty() {
            format!("{attr} is not in {name}")
        } else {
            format!("removed {attr} from {name}")
        })
    }

    fn load_index(&self) -> anyhow::Result<Box<dyn PackageIndex>> {
        // The same index `biar-tui search` uses in this folder.
        let loaded = biar::index::load_for_search(&self.project_dir)?;
        Ok(Box::new(biar::index::Searcher::new(loaded.index)))
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
            let options = PipelineOptions::for_project(&project, push)?;
            // The pipeline sends every step's events, and last the delivered reference.
            let outcome = build_image(&project, &options, events, &(), cancel).await?;
            Ok(delivered(name, outcome))
        }
        .boxed()
    }

    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<i64>> {
        let dir = self.project_dir.clone();
        // The same spec `biar-tui run` uses: a shell, `workdir/` mounted, a TTY.
        async move {
            match operations::run_project(&dir).await {
                Ok(code) => Ok(code),
                // The app tells an interrupted run by its own type.
                Err(operations::Error::Run(e)) => Err(e.into()),
                Err(e) => Err(e.into()),
            }
        }
        .boxed()
    }
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
