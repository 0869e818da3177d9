//! The real [`Engine`]: the same `biar` library calls the CLI commands make. Nothing here decides
//! anything the CLI would decide differently.

use std::path::PathBuf;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use biar::config::Project;
use biar::nixexpr::{AttrPath, PackageFile};
use biar::operations::{build_image, PipelineOptions};

use super::backend::{Engine, PackageIndex};
use super::view::{
    Delivered, DockerState, FileView, Hit, ImageState, PresetView, ProjectView, PushView,
};

pub struct Library {
    pub project_dir: PathBuf,
}

impl Library {
    fn project(&self) -> anyhow::Result<Project> {
        Ok(Project::load(&self.project_dir)?)
    }
}

impl Engine for Library {
    fn load_project(&self) -> anyhow::Result<ProjectView> {
        let project = self.project()?;
        let files = project
            .config
            .user_config
            .iter()
            .map(|name| {
                match project
                    .resolve(name)
                    .map_err(anyhow::Error::from)
                    .and_then(|path| Ok(PackageFile::load(&path)?))
                {
                    Ok(file) => FileView {
                        name: name.clone(),
                        packages: file.packages().iter().map(|p| p.attr.to_string()).collect(),
                        error: None,
                    },
                    Err(e) => FileView {
                        name: name.clone(),
                        packages: Vec::new(),
                        error: Some(shown(&e.to_string())),
                    },
                }
            })
            .collect();
        Ok(ProjectView {
            root: project.root.display().to_string(),
            image: project
                .image_ref()
                .map(|r| r.reference())
                .map_err(|e| shown(&e.to_string())),
            presets: biar::presets::list(&project)?
                .into_iter()
                .map(|p| PresetView {
                    name: p.name,
                    description: shown(&p.description),
                    enabled: p.enabled,
                })
                .collect(),
            files,
            registry: biar::operations::registry_label(&project),
        })
    }

    fn toggle_preset(&self, name: &str) -> anyhow::Result<String> {
        let project = self.project()?;
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
            match biar::operations::docker_version().await {
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
            match biar::operations::image_state(&dir).await {
                biar::operations::ImageState::Unknown => ImageState::Unknown,
                biar::operations::ImageState::Local => ImageState::Local,
                biar::operations::ImageState::Registry => ImageState::Registry,
                biar::operations::ImageState::NotBuilt => ImageState::NotBuilt,
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
        // `Send`: the backend spawns it on the runtime like any other request.
        build_and_deliver(self.project_dir.clone(), push, events, cancel).boxed()
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
            use biar::inspect::human_bytes;
            use biar::registry::BlobFate;
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
            if let Some(push) = &report.push {
                let count = |f| push.blobs.iter().filter(|b| b.fate == f).count();
                lines.push(if push.up_to_date {
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
                });
            }
            Ok(lines.iter().map(|l| shown(l)).collect())
        }
        .boxed()
    }

    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<i64>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            let image = project.image_ref()?.reference();
            let engine = biar::docker::connect().await?;
            // The same spec `biar-tui run` uses: a shell, `workdir/` mounted, a TTY.
            let spec = biar::operations::run_spec(Some(&project), image, None)?;
            Ok(biar::run::run_attached(&engine, &spec).await?)
        }
        .boxed()
    }
}

/// `biar-tui build [--push]` (the library's pipeline): nothing when `name:tag` is already in
/// Docker (or in the registry, with `push`), else the Nix build, the layers and a load of what
/// Docker lacks (or a push of what the registry lacks).
async fn build_and_deliver(
    dir: PathBuf,
    push: bool,
    events: biar::progress::Sender,
    cancel: CancellationToken,
) -> anyhow::Result<Delivered> {
    let project = Project::load(&dir)?;
    // Unlike the CLI, the TUI builds only an image the configuration names.
    let name = project.image_ref()?.reference();
    // The app asks for a push only when the project it loaded had a registry; config.json may
    // have changed since.
    let target = if push {
        Some(biar::operations::push_target(&project)?)
    } else {
        None
    };
    let options = PipelineOptions {
        push: target,
        ..Default::default()
    };
    // The pipeline sends every step's events, and last the delivered reference.
    let outcome = build_image(&project, &options, events, &(), cancel).await?;
    let delivered = match (outcome.remote, outcome.push) {
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
    };
    Ok(delivered)
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
