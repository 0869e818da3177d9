//! How the project's environment runs, for every front end: its image, `workdir/` mounted (and
//! checked to stay inside the project), a TTY when this is a terminal, and as the owner of
//! `workdir/` when that is not the image's user (`run::RunAs`).

use std::path::Path;

use crate::config::Project;
use crate::run::{RunAs, RunError, RunSpec};

use super::Error;

/// The spec that runs `image` for `project` (when there is one), `cmd` or the image's shell.
pub fn run_spec(
    project: Option<&Project>,
    image: String,
    cmd: Option<Vec<String>>,
) -> Result<RunSpec, RunError> {
    let workdir_mount = project.map(crate::run::project_workdir).transpose()?;
    // Only the project's own image: its users are the ones `image.*` describes. Another image
    // (`run --image`) keeps its own /etc/passwd and user.
    let own = project.filter(|p| p.image_ref().is_ok_and(|r| r.reference() == image));
    let run_as = own.zip(workdir_mount.as_ref()).and_then(|(p, m)| {
        let i = &p.config.image;
        RunAs::for_owner(
            m.owner(),
            &i.user,
            (i.uid, i.gid),
            &format!("/home/{}", i.user),
        )
    });
    Ok(RunSpec {
        image,
        cmd,
        workdir_mount,
        tty: crate::run::terminal::is_interactive(),
        env: Vec::new(),
        name: None,
        run_as,
        notices: Default::default(),
    })
}

/// The project's image in `dir`, run attached to this terminal with its shell; its exit code.
/// `notices` hears what the run does besides (workdir/ copied to a remote engine and back).
pub async fn run_project(dir: &Path, notices: crate::run::Notices) -> Result<i64, Error> {
    let project = Project::load(dir)?;
    let image = project.image_ref()?.reference();
    run_image(&project, image, notices).await
}

/// `image` (the project's own or an earlier generation's, already in Docker) run for `project`
/// attached to this terminal with its shell, as `run --image` does; its exit code.
pub async fn run_image(
    project: &Project,
    image: String,
    notices: crate::run::Notices,
) -> Result<i64, Error> {
    let engine = crate::docker::connect().await?;
    let mut spec = run_spec(Some(project), image, None)?;
    spec.notices = notices;
    Ok(crate::run::run_attached(&engine, &spec).await?)
}
