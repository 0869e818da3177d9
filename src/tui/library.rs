//! The real [`Engine`]: the same `biar` library calls the CLI commands make. Nothing here decides
//! anything the CLI would decide differently.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use biar::build::{BuildEvent, BuildOptions};
use biar::config::Project;
use biar::run::RunSpec;

use super::backend::{Engine, PackageIndex};
use super::view::{DockerState, FileView, ImageState, ProjectView};

pub struct Library {
    pub project_dir: PathBuf,
}

impl Library {
    fn project(&self) -> anyhow::Result<Project> {
        Ok(Project::load(&self.project_dir)?)
    }
}

/// An engine API another part of the project has not landed yet.
fn missing(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what} is not available in this build of biar-tui yet")
}

impl Engine for Library {
    fn load_project(&self) -> anyhow::Result<ProjectView> {
        let project = self.project()?;
        let files = project
            .config
            .user_config
            .iter()
            .map(|name| FileView {
                name: name.clone(),
                packages: Vec::new(),
                error: Some("listing packages is not available yet".into()),
            })
            .collect();
        Ok(ProjectView {
            root: project.root.display().to_string(),
            image: project
                .image_ref()
                .map(|r| r.reference())
                .map_err(|e| e.to_string()),
            presets: Vec::new(),
            files,
        })
    }

    fn toggle_preset(&self, _name: &str) -> anyhow::Result<String> {
        Err(missing("toggling presets"))
    }

    fn add_package(&self, _attr: &str) -> anyhow::Result<String> {
        Err(missing("adding packages"))
    }

    fn remove_package(&self, _file: &str, _attr: &str) -> anyhow::Result<String> {
        Err(missing("removing packages"))
    }

    fn load_index(&self) -> anyhow::Result<Arc<dyn PackageIndex>> {
        Err(missing("the package index"))
    }

    fn docker_state(&self) -> BoxFuture<'static, DockerState> {
        async {
            match biar::docker::connect().await {
                Ok(engine) => {
                    let version = engine
                        .docker
                        .version()
                        .await
                        .ok()
                        .and_then(|v| v.version)
                        .unwrap_or_else(|| "up".into());
                    DockerState::Up { version }
                }
                Err(e) => DockerState::Down {
                    reason: e.to_string(),
                },
            }
        }
        .boxed()
    }

    fn image_state(&self) -> BoxFuture<'static, ImageState> {
        let dir = self.project_dir.clone();
        async move {
            let Ok(project) = Project::load(&dir) else {
                return ImageState::Unknown;
            };
            let Ok(image) = project.image_ref() else {
                return ImageState::Unknown;
            };
            let Ok(engine) = biar::docker::connect().await else {
                return ImageState::Unknown;
            };
            match biar::run::image_exists(&engine, &image.reference()).await {
                Ok(true) => ImageState::Local,
                Ok(false) => ImageState::NotBuilt,
                Err(_) => ImageState::Unknown,
            }
        }
        .boxed()
    }

    fn build(
        &self,
        events: mpsc::Sender<BuildEvent>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<String>> {
        let dir = self.project_dir.clone();
        // `build::run`'s future is not `Send` (it holds a non-`Sync` writer across awaits), so it
        // runs on a blocking-pool thread that drives it with the runtime's handle.
        let handle = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                let project = Project::load(&dir)?;
                let engine = biar::docker::connect().await?;
                let _built =
                    biar::build::run(&engine, &project, &BuildOptions::default(), events, cancel)
                        .await?;
                Err::<String, _>(missing("making the image from the build"))
            })
        });
        async move { task.await? }.boxed()
    }

    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<i64>> {
        let dir = self.project_dir.clone();
        async move {
            let project = Project::load(&dir)?;
            let image = project.image_ref()?.reference();
            let engine = biar::docker::connect().await?;
            // The same spec `biar-tui run` uses: a shell, `workdir/` mounted, a TTY.
            let spec = RunSpec {
                image,
                cmd: None,
                workdir_mount: Some((project.workdir(), project.config.image.workdir.clone())),
                tty: biar::run::terminal::is_interactive(),
                env: Vec::new(),
                name: None,
            };
            Ok(biar::run::run_attached(&engine, &spec).await?)
        }
        .boxed()
    }
}
