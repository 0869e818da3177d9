//! How the project's environment runs, for every front end: its image, `workdir/` mounted (and
//! checked to stay inside the project), a TTY when this is a terminal.

use crate::config::Project;
use crate::run::{RunError, RunSpec};

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
        notices: Default::default(),
    })
}
