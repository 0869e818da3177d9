//! How the project's environment runs, for every front end: its image, `workdir/` mounted (and
//! checked to stay inside the project), a TTY when this is a terminal, and as the owner of
//! `workdir/` when that is not the image's user (`run::RunAs`).

use std::path::Path;

use crate::config::Project;
use crate::image::root::{find_ca_bundle, RootSpec};
use crate::run::{DirectRoot, RunAs, RunError, RunSpec};

use super::{DirectEnv, Error, Runnable};

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
        direct: None,
        cmd,
        workdir_mount,
        tty: crate::run::terminal::is_interactive(),
        env: Vec::new(),
        name: None,
        run_as,
        notices: Default::default(),
        on_started: Default::default(),
    })
}

/// The spec that runs `env` from the store volume, without an image (see `run::direct`): the
/// same root files, user, env and workdir/ as [`run_spec`] with the project's image.
pub fn direct_run_spec(
    project: &Project,
    env: &DirectEnv,
    cmd: Option<Vec<String>>,
) -> Result<RunSpec, RunError> {
    let mut spec = run_spec(Some(project), env.reference.reference(), cmd)?;
    let i = &project.config.image;
    // As the owner of workdir/: the root image names that uid as the user (what `RunAs` puts
    // into an image's container before it starts), so nothing is put in afterwards.
    let (uid, gid) = spec
        .run_as
        .take()
        .map_or((i.uid, i.gid), |r| (r.uid, r.gid));
    spec.direct = Some(DirectRoot {
        repository: format!("{}-direct", env.reference.name),
        root: RootSpec {
            env_path: env.env_path.clone(),
            user: i.user.clone(),
            workdir: i.workdir.clone(),
            ca_bundle: find_ca_bundle(env.paths.iter().map(String::as_str)),
            uid,
            gid,
            profile: i.profile,
        },
        paths: env.paths.clone(),
        store_volume: project.config.builder.store_volume.clone(),
        view: crate::run::direct::view_of(&env.env_path),
    });
    Ok(spec)
}

/// The project's environment in `dir`, run attached to this terminal with its shell; its exit
/// code. Its image when Docker has it, else the environment last built for this configuration,
/// from the store volume ([`super::runnable`]). `notices` hears what the run does besides
/// (workdir/ copied to a remote engine and back).
pub async fn run_project(dir: &Path, notices: crate::run::Notices) -> Result<i64, Error> {
    let project = Project::load(dir)?;
    let image = project.image_ref()?.reference();
    let engine = crate::docker::connect().await?;
    let direct = super::direct_refused(&engine).await.is_none();
    let mut spec = match super::runnable(&engine, &project, direct).await? {
        Some(Runnable::Direct(env)) => direct_run_spec(&project, &env, None)?,
        _ => run_spec(Some(&project), image, None)?,
    };
    spec.notices = notices;
    Ok(crate::run::run_attached(&engine, &spec).await?)
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
