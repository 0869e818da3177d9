//! How the project's environment runs, for every front end: its image, `workdir/` mounted (and
//! checked to stay inside the project), a TTY when this is a terminal.

use std::path::Path;

use crate::config::Project;
use crate::run::{RunError, RunSpec};

use super::Error;

/// The spec that runs `image` for `project` (when there is one), `cmd` or the image's shell.
pub fn run_spec(
    project: Option<&Project>,
    image: String,
    cmd: Option<Vec<String>>,
) -> Result<RunSpec, RunError> {
    Ok(RunSpec {
        image,
        cmd,
        workdir_mount: project.map(crate::run::project_workdir).transpose()?,
        tty: crate::run::terminal::is_interactive(),
        env: Vec::new(),
        name: None,
    })
}

/// The project's image in `dir`, run attached to this terminal with its shell; its exit code.
pub async fn run_project(dir: &Path) -> Result<i64, Error> {
    let project = Project::load(dir)?;
    let image = project.image_ref()?.reference();
    let engine = crate::docker::connect().await?;
    let spec = run_spec(Some(&project), image, None)?;
    Ok(crate::run::run_attached(&engine, &spec).await?)
}
