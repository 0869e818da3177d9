//! The whole `build`: Nix build → image with labels → load into Docker, or push to a registry.
//! The CLI and the TUI both call [`build_image`]; they differ only in how they show progress
//! (every step's events on one [`progress::Sender`]) and the results ([`PipelineObserver`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::{ImageRef, Project};
use crate::image::{BuilderStore, ImageDescriptor, ImageInput, LayerCache, LoadSummary};
use crate::nixbuild::{BuildError, BuildOptions, BuildOutput, ClosureGraph};
use crate::progress::{self, BuildEvent};
use crate::registry::{PushSummary, RegistryRef, RegistryTarget};

/// What [`build_image`] does besides building.
#[derive(Debug, Default)]
pub struct PipelineOptions {
    /// Push to this registry instead of loading into Docker.
    pub push: Option<RegistryTarget>,
    pub build: BuildOptions,
    /// Make a missing builder (image and store volume) this way before building. Without it a
    /// missing builder ends the pipeline with [`Error::BuilderMissing`](crate::operations::Error),
    /// which says what would be made: nothing is ever created silently.
    pub create_builder: Option<crate::docker::BuilderSource>,
}

impl PipelineOptions {
    /// A load into Docker, or with `push` a push to the project's registry ([`Error::NoRegistry`]
    /// when it names none).
    pub fn for_project(project: &Project, push: bool) -> Result<PipelineOptions, super::Error> {
        Ok(PipelineOptions {
            push: push.then(|| super::push_target(project)).transpose()?,
            build: BuildOptions::default(),
            create_builder: None,
        })
    }
}

/// Hooks called with the results as the pipeline goes; every one defaults to nothing. Each is
/// called once the progress reported before it has been taken from the sink, so a front end
/// shows a result after the progress that led to it.
pub trait PipelineObserver: Send + Sync {
    /// The Nix build is over (its event channel closed); an error stops the pipeline before the
    /// image step.
    fn built<'a>(&'a self, _built: &'a BuildOutput) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(async { Ok(()) })
    }
    fn assembled(&self, _image: &ImageDescriptor, _took: Duration) {}
    fn loaded(&self, _reference: &ImageRef, _summary: &LoadSummary, _took: Duration) {}
    fn pushed(&self, _remote: &RegistryRef, _summary: &PushSummary, _took: Duration) {}
}

/// A pipeline that observes nothing.
impl PipelineObserver for () {}

/// What [`build_image`] did.
#[derive(Debug)]
pub struct PipelineOutcome {
    /// The local image's `name:tag`.
    pub reference: ImageRef,
    /// The pushed (or already present) image in the registry, with `push`.
    pub remote: Option<RegistryRef>,
    /// `name:tag` was already in Docker (or the registry, with `push`): nothing built or sent.
    pub up_to_date: bool,
    /// The environment and its closure, when the Nix build ran.
    pub env_path: Option<String>,
    pub closure: Option<ClosureGraph>,
    pub load: Option<LoadSummary>,
    pub push: Option<PushSummary>,
}

impl PipelineOutcome {
    fn up_to_date(reference: ImageRef, remote: Option<RegistryRef>) -> PipelineOutcome {
        PipelineOutcome {
            reference,
            remote,
            up_to_date: true,
            env_path: None,
            closure: None,
            load: None,
            push: None,
        }
    }
}

/// Builds `project`'s image unless `name:tag` is already there (in Docker, or in the registry
/// with `push`): the Nix build, the layers (digests from the cache, else
/// measured from the builder's store for a push, or learnt while a load sends them) with the
/// labels, then a load of what Docker lacks or a push of what the registry lacks. Every step's
/// progress goes to `events`, and last the delivered reference (`Done`, once, on success).
/// `cancel` stops any step; nothing is tagged half-way.
pub async fn build_image(
    project: &Project,
    options: &PipelineOptions,
    events: progress::Sender,
    observer: &dyn PipelineObserver,
    cancel: CancellationToken,
) -> Result<PipelineOutcome, crate::Error> {
    let outcome = deliver(project, options, &events, observer, cancel).await?;
    record_generation(project, &outcome).await;
    let reference = match &outcome.remote {
        Some(remote) => remote.to_string(),
        None => outcome.reference.reference(),
    };
    events.send(BuildEvent::Done { reference });
    Ok(outcome)
}

async fn deliver(
    project: &Project,
    options: &PipelineOptions,
    events: &progress::Sender,
    observer: &dyn PipelineObserver,
    cancel: CancellationToken,
) -> Result<PipelineOutcome, crate::Error> {
    // A project's signing keys need the user's trust before anything, even an up-to-date
    // answer: the same configuration must not build or not depending on what Docker holds.
    project.check_keys_trusted()?;
    // The identity is known before building: an image already there means nothing to do.
    let identity = project.image_ref().ok();
    let engine = crate::docker::connect().await?;
    if let Some(reference) = &identity {
        match &options.push {
            None => {
                if crate::image::image_exists(&engine, &reference.reference()).await? {
                    return Ok(PipelineOutcome::up_to_date(reference.clone(), None));
                }
            }
            Some(target) => {
                if crate::registry::exists_in_registry(target, reference).await? {
                    let remote = target.reference(reference)?;
                    return Ok(PipelineOutcome::up_to_date(reference.clone(), Some(remote)));
                }
            }
        }
    }
    let built = build_in_builder(&engine, project, options, events, &cancel).await?;
    let result = image_steps(
        project, options, identity, &built, events, observer, &cancel,
    )
    .await;
    // The Nix build succeeded: its paths go to the user's binary cache (a refused upload is a
    // warning; the image above is made either way).
    if let Some(target) = &built.cache_push {
        if !cancel.is_cancelled() {
            crate::nixbuild::cache::push(&built.container, target, &built.env_path, events).await;
        }
    }
    built.container.remove().await;
    let (reference, remote, load, push) = result?;
    Ok(PipelineOutcome {
        reference,
        remote,
        up_to_date: false,
        env_path: Some(built.env_path),
        closure: Some(built.closure),
        load,
        push,
    })
}

/// The Nix build of `project`'s environment in the builder (made first when asked to): what an
/// image and a run from the store volume both start with.
pub(super) async fn build_in_builder(
    engine: &crate::docker::Engine,
    project: &Project,
    options: &PipelineOptions,
    events: &progress::Sender,
    cancel: &CancellationToken,
) -> Result<crate::nixbuild::BuildOutput, crate::Error> {
    ensure_builder(engine, project, options.create_builder, events).await?;
    Ok(crate::nixbuild::run(
        engine,
        project,
        &options.build,
        events.clone(),
        cancel.clone(),
    )
    .await?)
}

/// A build needs the builder: make what is missing when asked to (each step an event), else
/// fail saying what would be made.
async fn ensure_builder(
    engine: &crate::docker::Engine,
    project: &Project,
    create: Option<crate::docker::BuilderSource>,
    events: &progress::Sender,
) -> Result<(), crate::Error> {
    // The settings a build uses: a project's signing keys only when the user trusts them.
    project.check_keys_trusted()?;
    let settings = &project.config.builder;
    let Some(plan) = crate::docker::builder::plan(engine, settings).await? else {
        return Ok(());
    };
    let Some(source) = create else {
        return Err(crate::operations::Error::BuilderMissing { plan });
    };
    for step in plan.steps(source) {
        events.send(BuildEvent::Builder {
            text: format!("will {step}"),
        });
    }
    let say = |text: &str| {
        events.send(BuildEvent::Builder {
            text: text.to_string(),
        })
    };
    let offline = source == crate::docker::BuilderSource::Offline;
    crate::docker::builder::create(engine, settings, offline, &say).await?;
    say("the builder is ready");
    Ok(())
}

type Steps = (
    ImageRef,
    Option<RegistryRef>,
    Option<LoadSummary>,
    Option<PushSummary>,
);

async fn image_steps(
    project: &Project,
    options: &PipelineOptions,
    identity: Option<ImageRef>,
    built: &BuildOutput,
    events: &progress::Sender,
    observer: &dyn PipelineObserver,
    cancel: &CancellationToken,
) -> Result<Steps, crate::Error> {
    events.flushed().await;
    observer.built(built).await?;
    let engine = built.container.engine().clone();
    // Until the configuration hashes exist, the environment's own store hash names the image.
    let reference = identity.unwrap_or_else(|| ImageRef {
        name: format!("{}env", project.config.image.name_prefix),
        tag: built
            .env_path
            .trim_start_matches("/nix/store/")
            .split('-')
            .next()
            .unwrap_or("latest")
            .to_string(),
    });
    // The plan follows the newest earlier image of this name, so an edit re-sends what changed.
    let previous = super::previous_image(&engine, project, &reference, options.push.as_ref()).await;
    let input = ImageInput {
        reference: reference.clone(),
        env_path: &built.env_path,
        closure: &built.closure,
        settings: &project.config.image,
        strategy: Default::default(),
        previous: previous.as_ref().map(|p| &p.record),
        labels: labels(project, &reference, &built.packages),
    };
    let source = BuilderStore {
        engine: engine.clone(),
        container: built.container.id().to_string(),
    };
    let cache = LayerCache::open_default();
    let emit = |e: BuildEvent| events.send(e);
    let Some(target) = &options.push else {
        // A load needs sizes before bytes, not digests: new layers are listed, then read once
        // as they are sent (the image is whole, and reported as assembled, after the load).
        let started = Instant::now();
        let load = crate::image::load(&engine, &input, &source, &cache, &emit);
        let loaded = unless_cancelled(cancel, BuildError::Cancelled, load).await?;
        events.flushed().await;
        observer.assembled(&loaded.image, loaded.described);
        observer.loaded(&reference, &loaded.summary, started.elapsed());
        return Ok((reference, None, Some(loaded.summary), None));
    };
    // A push asks the registry for each blob by digest first: every digest is measured up front.
    let started = Instant::now();
    let assemble = crate::image::assemble(&input, &source, &cache, &emit);
    let image = unless_cancelled(cancel, BuildError::Cancelled, assemble).await?;
    events.flushed().await;
    observer.assembled(&image, started.elapsed());
    let (remote, summary) = push(target, &image, built, events, observer, cancel).await?;
    Ok((reference, Some(remote), None, Some(summary)))
}

/// Sends the layers the registry lacks (streamed from the builder's store, verified against their
/// digests), then the manifest.
async fn push(
    target: &RegistryTarget,
    image: &ImageDescriptor,
    built: &BuildOutput,
    events: &progress::Sender,
    observer: &dyn PipelineObserver,
    cancel: &CancellationToken,
) -> Result<(RegistryRef, PushSummary), crate::Error> {
    use crate::registry::{ByteStream, Descriptor};
    let source: Arc<dyn crate::image::NarSource> = Arc::new(BuilderStore {
        engine: built.container.engine().clone(),
        container: built.container.id().to_string(),
    });
    let open = |d: &Descriptor| {
        let stream: std::io::Result<ByteStream> = match image.layer(&d.digest) {
            Some(layer) => Ok(Box::pin(image.open_layer(layer, source.clone()))),
            None => Err(std::io::Error::other(format!(
                "{} is not a layer of this image",
                d.digest
            ))),
        };
        Box::pin(async move { stream }) as _
    };
    let emit = |e: BuildEvent| events.send(e);
    let started = Instant::now();
    let push_image = image.push_image();
    let push = crate::registry::push_to_target(target, &image.reference, &push_image, &open, &emit);
    // Stopping is safe at any point: the manifest goes last, so nothing is half-tagged.
    let (remote, summary) = unless_cancelled(cancel, BuildError::PushCancelled, push).await?;
    events.flushed().await;
    observer.pushed(&remote, &summary, started.elapsed());
    Ok((remote, summary))
}

/// Records the delivered image as a generation of the project (in the user's state folder). A
/// history that cannot be written costs the user `history` and `diff`, not the build: logged.
async fn record_generation(project: &Project, outcome: &PipelineOutcome) {
    use crate::inspect::{history, Delivery, Generation, History};
    let (env_path, packages, closure_size, paths) = match (&outcome.env_path, &outcome.closure) {
        (Some(env), Some(closure)) => {
            let packages = closure
                .paths
                .iter()
                .find(|p| p.path == *env)
                .map(|p| {
                    p.references
                        .iter()
                        .filter(|r| *r != env)
                        .map(|r| crate::inspect::store_name(r).to_string())
                        .collect()
                })
                .unwrap_or_default();
            let mut paths: Vec<String> = closure.paths.iter().map(|p| p.path.clone()).collect();
            paths.sort();
            (
                Some(env.clone()),
                packages,
                Some(closure.total_nar_size()),
                paths,
            )
        }
        _ => (None, Vec::new(), None, Vec::new()),
    };
    let generation = Generation {
        number: 0,
        time: history::now(),
        delivery: if outcome.remote.is_some() {
            Delivery::Push
        } else {
            Delivery::Load
        },
        reference: outcome.reference.reference(),
        remote: outcome.remote.as_ref().map(|r| r.to_string()),
        env_path,
        packages,
        closure_size,
        paths,
    };
    let history = History::of(&project.root);
    let recorded = tokio::task::spawn_blocking(move || history.record(generation)).await;
    if let Ok(Err(e)) = recorded {
        tracing::warn!("recording the generation: {e}");
    }
}

/// `step`, unless `cancel` fires first: then `cancelled`.
async fn unless_cancelled<T, E: Into<crate::Error>>(
    cancel: &CancellationToken,
    cancelled: BuildError,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, crate::Error> {
    tokio::select! {
        _ = cancel.cancelled() => Err(cancelled.into()),
        r = step => r.map_err(Into::into),
    }
}

/// The labels on a built image: the configuration hashes and the package names.
pub fn labels(
    project: &Project,
    reference: &ImageRef,
    packages: &[String],
) -> BTreeMap<String, String> {
    let names: Vec<&str> = packages
        .iter()
        .map(|p| {
            p.trim_start_matches("/nix/store/")
                .split_once('-')
                .map_or(p.as_str(), |(_, n)| n)
        })
        .collect();
    // The base configuration's hash: the image name without its prefix.
    let base = reference
        .name
        .strip_prefix(&project.config.image.name_prefix)
        .unwrap_or(&reference.name)
        .to_string();
    BTreeMap::from([
        ("biar.name".to_string(), reference.name.clone()),
        ("biar.base-hash".to_string(), base),
        ("biar.user-hash".to_string(), reference.tag.clone()),
        ("biar.packages".to_string(), names.join(" ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TUI spawns the pipeline on the runtime's workers: its future must stay `Send`.
    #[allow(dead_code)]
    fn build_image_future_is_send(
        project: &Project,
        options: &PipelineOptions,
        events: progress::Sender,
        observer: &dyn PipelineObserver,
        cancel: CancellationToken,
    ) {
        fn is_send<T: Send>(_: T) {}
        is_send(build_image(project, options, events, observer, cancel));
    }
}
