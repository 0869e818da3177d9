//! `run` with the fewest steps between an edit and a shell: the environment runs from the store
//! volume (`run::direct`), so after a Nix build nothing is copied into an image, and when the
//! configuration did not change since it was last built (its generation records the
//! environment and its closure) nothing is evaluated at all. An image of the configuration that
//! Docker already has is run as before. The image is made when it is shared (`build`, `--push`,
//! `serve`, `export`, `doctor` build it as always).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::{ImageRef, Project};
use crate::docker::Engine;
use crate::inspect::{history, Delivery, Generation, History};
use crate::nixbuild::BuildOutput;
use crate::progress;

use super::PipelineOptions;

/// An environment in the store volume, ready to run without an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectEnv {
    /// The configuration's `name:tag` (no such image needs to exist).
    pub reference: ImageRef,
    /// The environment's store path (its symlink farm).
    pub env_path: String,
    /// Every store path of its closure.
    pub paths: Vec<String>,
}

/// What runs the project's environment now, without building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runnable {
    /// Docker has the configuration's image.
    Image(String),
    /// The store volume has the environment this configuration was last built as.
    Direct(DirectEnv),
}

/// Why this engine cannot run an environment from the store volume, `None` when it can. Only
/// the local Docker Engine is used that way: Podman's volumes and a remote engine's are not
/// tested here, so they keep the image (see docs/image.md).
pub async fn direct_refused(engine: &Engine) -> Option<String> {
    if !engine.sees_host_paths() {
        return Some(format!(
            "the engine at {} is remote: it runs the image",
            engine.address
        ));
    }
    if engine.is_podman().await {
        return Some("Podman runs the image".to_string());
    }
    None
}

/// How `project`'s environment runs without a build: its image when Docker has it; else, when
/// `direct` (the engine allows it, [`direct_refused`]), the environment its newest generation of
/// this configuration recorded (that its paths are still in the store volume is checked when
/// the container is made); else `None` (a build is needed).
pub async fn runnable(
    engine: &Engine,
    project: &Project,
    direct: bool,
) -> Result<Option<Runnable>, crate::Error> {
    let reference = project.image_ref()?;
    if engine.image_exists(&reference.reference()).await? {
        return Ok(Some(Runnable::Image(reference.reference())));
    }
    if !direct {
        return Ok(None);
    }
    let root = project.root.clone();
    let wanted = reference.reference();
    let found = tokio::task::spawn_blocking(move || {
        History::of(&root)
            .list()
            .into_iter()
            .rev()
            .find(|g| g.reference == wanted && g.env_path.is_some() && !g.paths.is_empty())
    })
    .await
    .ok()
    .flatten();
    Ok(found.map(|g| {
        Runnable::Direct(DirectEnv {
            reference,
            env_path: g.env_path.unwrap_or_default(),
            paths: g.paths,
        })
    }))
}

/// The Nix build of `project`'s environment and its closure, no image: what a run from the
/// store volume needs. Recorded as a generation (delivery `run`), so the next run of the same
/// configuration evaluates nothing. Progress on `events` (the builder steps, evaluate, build,
/// closure), then `Done` with the environment's path.
pub async fn build_env(
    project: &Project,
    options: &PipelineOptions,
    events: progress::Sender,
    cancel: CancellationToken,
) -> Result<DirectEnv, crate::Error> {
    let reference = project.image_ref()?;
    let engine = crate::docker::connect().await?;
    let built = super::build::build_in_builder(&engine, project, options, &events, &cancel).await?;
    let env = DirectEnv {
        reference,
        env_path: built.env_path.clone(),
        paths: built.closure.paths.iter().map(|p| p.path.clone()).collect(),
    };
    make_view(&built, &env).await;
    record(project, &env, &built).await;
    finish(project, built, &events, &cancel).await;
    events.send(progress::BuildEvent::Done {
        reference: env.env_path.clone(),
    });
    Ok(env)
}

/// The closure as one folder of hard links in the store volume (`run::direct::VIEW_SCRIPT`), so
/// the run binds one folder, not one per store path. Failing (a file with too many links, say),
/// the run binds each path: logged.
async fn make_view(built: &BuildOutput, env: &DirectEnv) {
    let Some(view) = crate::run::direct::view_of(&env.env_path) else {
        return;
    };
    let mut argv = vec![
        "sh",
        "-c",
        crate::run::direct::VIEW_SCRIPT,
        "sh",
        view.as_str(),
    ];
    argv.extend(env.paths.iter().map(String::as_str));
    if let Err(e) = built.container.exec_checked(&argv).await {
        tracing::warn!("making the view of the closure: {e}");
    }
}

/// After the build: its paths to the user's binary cache if asked, then the builder container is
/// parked for this process's next build (`docker::warm`; the run does not wait for anything).
async fn finish(
    project: &Project,
    built: BuildOutput,
    events: &progress::Sender,
    cancel: &CancellationToken,
) {
    if let Some(target) = &built.cache_push {
        if !cancel.is_cancelled() {
            crate::nixbuild::cache::push(&built.container, target, &built.env_path, events).await;
        }
    }
    // Kept for this process's next build (the TUI's next `r`); a CLI run ends with it.
    let engine = built.container.engine().clone();
    built
        .container
        .park(&engine, &project.config.builder, &built.host_dirs);
}

/// The environment as a generation of the project (`history`, `diff`, and the next run's
/// lookup). A history that cannot be written costs the next run an evaluation: logged.
async fn record(project: &Project, env: &DirectEnv, built: &BuildOutput) {
    let started = Instant::now();
    let mut paths = env.paths.clone();
    paths.sort();
    let generation = Generation {
        number: 0,
        time: history::now(),
        delivery: Delivery::Run,
        reference: env.reference.reference(),
        remote: None,
        env_path: Some(env.env_path.clone()),
        packages: built
            .packages
            .iter()
            .map(|p| crate::inspect::store_name(p).to_string())
            .collect(),
        closure_size: Some(built.closure.total_nar_size()),
        paths,
    };
    let history = History::of(&project.root);
    let recorded = tokio::task::spawn_blocking(move || history.record(generation)).await;
    if let Ok(Err(e)) = recorded {
        tracing::warn!("recording the generation: {e}");
    }
    tracing::debug!("generation recorded in {:?}", started.elapsed());
}
