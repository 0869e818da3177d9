//! The boundary between the UI and the engine. The app asks with [`Request`]s; answers come back
//! as [`Action`]s on a channel. Slow work (file edits, index loading, searching, Docker) runs
//! here, off the UI loop. [`Engine`] is the only place that calls the `biar` library (see
//! `present.rs`), so the app can be driven in tests with an engine of plain data.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::action::Action;
use super::view::{
    BuilderOffer, Delivered, DiffView, DockerState, DoctorState, GenerationView, Hit, ImageState,
    IndexRefresh, ProjectView,
};

/// Results shown per query.
pub const SEARCH_LIMIT: usize = 200;
/// How long build events are gathered before being sent as one batch (one redraw).
const BATCH: Duration = Duration::from_millis(30);

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Write a new project with these shipped presets on.
    Init(Vec<String>),
    LoadProject,
    TogglePreset(String),
    Add(String),
    Remove {
        file: String,
        attr: String,
    },
    Search {
        id: u64,
        query: String,
    },
    CheckImage,
    CheckDocker,
    /// The image doctor on the project's (built) image.
    Doctor,
    Build,
    /// What `r` needs before it runs: the environment (from the store volume when it can run
    /// without an image), or nothing when it is there.
    BuildForRun,
    /// Build if needed, then push to the project's registry.
    Push,
    /// Makes the missing builder, then builds (and pushes, with `push`).
    CreateBuilder {
        push: bool,
        source: biar::docker::BuilderSource,
    },
    /// Stops the build or push under way.
    CancelBuild,
    /// The closure explorer's model (a Nix build, no image).
    Closure,
    /// What a push would change and send, as lines (nothing is sent).
    PreviewPush,
    /// Stops the preview's build (the user answered before it finished).
    CancelPreview,
    /// The project's generations, newest first.
    Generations,
    /// What changes from generation `from` to `to` (`None`: the current configuration, which
    /// builds); a newer request cancels an older one.
    GenerationDiff {
        from: u64,
        to: Option<u64>,
    },
    /// Stops the diff under way (the marks were cleared).
    CancelGenerationDiff,
    /// The generation's image in Docker (pulled back from the registry if need be), to run.
    GenerationImage(u64),
}

/// A loaded package index with its search state (a query extending the last one may search
/// only the last one's candidates), owned by the search worker.
pub trait PackageIndex: Send {
    fn len(&self) -> usize;
    fn search(&mut self, query: &str, limit: usize) -> Vec<Hit>;
}

/// What the UI needs from the engine. Blocking methods are called on the blocking pool.
pub trait Engine: Send + Sync + 'static {
    /// Writes a new project (as `biar-tui init`) with these shipped presets; says what it wrote.
    fn init(&self, presets: &[String]) -> anyhow::Result<String>;
    fn load_project(&self) -> anyhow::Result<ProjectView>;
    /// Each edit returns a one-line message for the status line.
    fn toggle_preset(&self, name: &str) -> anyhow::Result<String>;
    fn add_package(&self, attr: &str) -> anyhow::Result<String>;
    fn remove_package(&self, file: &str, attr: &str) -> anyhow::Result<String>;
    fn load_index(&self) -> anyhow::Result<Box<dyn PackageIndex>>;
    /// Refreshes the project's index sources whose cache is older than a day (`None`: none
    /// was). Runs beside searching, which goes on with the loaded index meanwhile.
    fn refresh_index(&self) -> BoxFuture<'static, Option<IndexRefresh>>;
    fn docker_state(&self) -> BoxFuture<'static, DockerState>;
    fn image_state(&self) -> BoxFuture<'static, ImageState>;
    /// The image doctor's verdict on the project's image, against its `image.profile`.
    fn doctor(&self) -> BoxFuture<'static, DoctorState>;
    /// The whole pipeline: build, image, then load into Docker or, with `push`, push to the
    /// project's registry. A missing builder is made first only with `create_builder`; else the
    /// error says so and [`Engine::builder_offer`] turns it into the question the UI asks.
    fn build(
        &self,
        push: bool,
        create_builder: Option<biar::docker::BuilderSource>,
        events: biar::progress::Sender,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Delivered>>;
    /// What `r` needs before it runs ([`Engine::run_attached`]): by default the whole pipeline;
    /// the real engine builds only the environment when it can run without an image.
    fn build_for_run(
        &self,
        events: biar::progress::Sender,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Delivered>> {
        self.build(false, None, events, cancel)
    }
    /// The closure explorer's model: the environment built (or found in the store), no image.
    fn closure(&self) -> BoxFuture<'static, anyhow::Result<biar::inspect::ClosureModel>> {
        Box::pin(async { anyhow::bail!("the closure is not available here") })
    }
    /// What a push would change and send, as lines for the preview (nothing is sent).
    fn preview_push(
        &self,
        _cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Vec<String>>> {
        Box::pin(async { anyhow::bail!("no preview here") })
    }
    /// The project's generations, newest first (blocking: a small file).
    fn generations(&self) -> anyhow::Result<Vec<GenerationView>> {
        anyhow::bail!("no generations here")
    }
    /// What changes from generation `from` to `to` (`None`: the current configuration).
    fn generation_diff(
        &self,
        _from: u64,
        _to: Option<u64>,
        _cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<DiffView>> {
        Box::pin(async { anyhow::bail!("no diff here") })
    }
    /// Generation `number`'s image in Docker, ready to run (its `name:tag`), or why not.
    fn generation_image(&self, _number: u64) -> BoxFuture<'static, anyhow::Result<String>> {
        Box::pin(async { anyhow::bail!("no generations here") })
    }
    /// Runs `image` (an earlier generation's) attached, as [`Engine::run_attached`] runs the
    /// project's own.
    fn run_image(&self, _image: String) -> BoxFuture<'static, anyhow::Result<(i64, Vec<String>)>> {
        Box::pin(async { anyhow::bail!("no images here") })
    }
    /// When `error` (from [`Engine::build`]) says the builder is missing: what making it would do.
    fn builder_offer(&self, error: &anyhow::Error, push: bool) -> Option<BuilderOffer>;
    /// Runs the environment attached to this terminal (the caller has handed the terminal over):
    /// the exit code, and what the run said besides (workdir/ copied to a remote engine and
    /// back), for the status line.
    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<(i64, Vec<String>)>>;
}

/// The running backend: send requests, answers arrive on the action channel.
pub struct Backend {
    requests: mpsc::UnboundedSender<Request>,
}

impl Backend {
    pub fn spawn(engine: Arc<dyn Engine>, out: mpsc::UnboundedSender<Action>) -> Backend {
        let (requests, rx) = mpsc::unbounded_channel();
        tokio::spawn(serve(engine, rx, out));
        Backend { requests }
    }

    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

async fn serve(
    engine: Arc<dyn Engine>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    out: mpsc::UnboundedSender<Action>,
) {
    // Edits run one at a time, in order: two quick adds must not race on the same file.
    let (edit_tx, edit_rx) = mpsc::unbounded_channel::<Request>();
    tokio::spawn(edits(engine.clone(), edit_rx, out.clone()));
    // Searches: only the newest query matters, so a watch channel (which keeps the last value).
    let (query_tx, query_rx) = watch::channel::<Option<(u64, String)>>(None);
    tokio::spawn(searches(engine.clone(), query_rx, out.clone()));
    let mut build: Option<CancellationToken> = None;
    let mut preview: Option<CancellationToken> = None;
    let mut comparing: Option<CancellationToken> = None;
    let shutdown = CancellationToken::new();
    let _cancel_on_exit = shutdown.clone().drop_guard();

    while let Some(request) = requests.recv().await {
        match request {
            Request::Init(_)
            | Request::LoadProject
            | Request::TogglePreset(_)
            | Request::Add(_)
            | Request::Remove { .. } => {
                let _ = edit_tx.send(request);
            }
            Request::Search { id, query } => {
                let _ = query_tx.send(Some((id, query)));
            }
            Request::CheckImage => {
                let fut = engine.image_state();
                let out = out.clone();
                tokio::spawn(async move {
                    let _ = out.send(Action::Image(fut.await));
                });
            }
            Request::Doctor => {
                let fut = engine.doctor();
                let out = out.clone();
                tokio::spawn(async move {
                    let _ = out.send(Action::Doctor(fut.await));
                });
            }
            Request::CheckDocker => {
                let fut = engine.docker_state();
                let out = out.clone();
                tokio::spawn(async move {
                    let _ = out.send(Action::Docker(fut.await));
                });
            }
            Request::Build
            | Request::BuildForRun
            | Request::Push
            | Request::CreateBuilder { .. } => {
                // One pipeline at a time, build or push.
                if build.as_ref().is_some_and(|t| !t.is_cancelled()) {
                    continue;
                }
                let for_run = request == Request::BuildForRun;
                let (push, create) = match request {
                    Request::CreateBuilder { push, source } => (push, Some(source)),
                    other => (other == Request::Push, None),
                };
                // A child token: quitting the UI (dropping the backend) cancels the build too.
                let token = shutdown.child_token();
                build = Some(token.clone());
                let (tx, rx) = biar::progress::channel();
                let fut = if for_run {
                    engine.build_for_run(tx, token.clone())
                } else {
                    engine.build(push, create, tx, token.clone())
                };
                let out = out.clone();
                let engine = engine.clone();
                tokio::spawn(async move {
                    let forward = tokio::spawn(forward_batches(rx, out.clone()));
                    let result = fut.await;
                    let _ = forward.await;
                    token.cancel(); // marks this build as over
                    let offer = match &result {
                        Err(e) => engine.builder_offer(e, push),
                        Ok(_) => None,
                    };
                    let _ = out.send(match offer {
                        Some(offer) => Action::BuilderMissing(offer),
                        None => finished(push, result),
                    });
                });
            }
            Request::Closure => {
                let fut = engine.closure();
                let out = out.clone();
                tokio::spawn(async move {
                    let result = fut
                        .await
                        .map(|m| super::components::explorer::ClosureView(Arc::new(m)))
                        .map_err(|e| error_message(&e));
                    let _ = out.send(Action::ClosureLoaded(result));
                });
            }
            Request::CancelPreview => {
                if let Some(token) = preview.take() {
                    token.cancel();
                }
            }
            Request::PreviewPush => {
                // Its build would hold Nix's locks the push's build then waits on.
                let token = shutdown.child_token();
                if let Some(old) = preview.replace(token.clone()) {
                    old.cancel();
                }
                let fut = engine.preview_push(token);
                let out = out.clone();
                tokio::spawn(async move {
                    let result = fut.await.map_err(|e| error_message(&e));
                    let _ = out.send(Action::PushPreview(result));
                });
            }
            Request::Generations => {
                let engine = engine.clone();
                let out = out.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || engine.generations())
                        .await
                        .map_err(|e| format!("internal error: {e}"))
                        .and_then(|r| r.map_err(|e| error_message(&e)));
                    let _ = out.send(Action::GenerationsLoaded(result));
                });
            }
            Request::CancelGenerationDiff => {
                if let Some(token) = comparing.take() {
                    token.cancel();
                }
            }
            Request::GenerationDiff { from, to } => {
                // Only the newest marks matter; an older diff's build stops.
                let token = shutdown.child_token();
                if let Some(old) = comparing.replace(token.clone()) {
                    old.cancel();
                }
                let fut = engine.generation_diff(from, to, token);
                let out = out.clone();
                let marks: Vec<u64> = std::iter::once(from).chain(to).collect();
                tokio::spawn(async move {
                    let result = fut.await.map_err(|e| error_message(&e));
                    let _ = out.send(Action::GenerationDiff { marks, result });
                });
            }
            Request::GenerationImage(number) => {
                let fut = engine.generation_image(number);
                let out = out.clone();
                tokio::spawn(async move {
                    let result = fut.await.map_err(|e| error_message(&e));
                    let _ = out.send(Action::GenerationReady { number, result });
                });
            }
            Request::CancelBuild => {
                if let Some(token) = &build {
                    token.cancel();
                }
            }
        }
    }
}

/// An error as the TUI shows it: each cause once, through the one sanitizer.
pub fn error_message(e: &anyhow::Error) -> String {
    super::present::shown(&crate::exit::error_text(e))
}

/// The action that ends a pipeline: a push ends as a push even when it failed while building.
fn finished(push: bool, result: anyhow::Result<Delivered>) -> Action {
    match result {
        Ok(Delivered::Loaded(reference)) => Action::BuildFinished(Ok(reference)),
        Ok(Delivered::Pushed(view)) => Action::PushFinished(Ok(view)),
        Err(e) if push => Action::PushFinished(Err(error_message(&e))),
        Err(e) => Action::BuildFinished(Err(error_message(&e))),
    }
}

async fn edits(
    engine: Arc<dyn Engine>,
    mut rx: mpsc::UnboundedReceiver<Request>,
    out: mpsc::UnboundedSender<Action>,
) {
    while let Some(request) = rx.recv().await {
        let engine = engine.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Action> {
            if let Request::Init(presets) = &request {
                return Ok(Action::ProjectCreated(engine.init(presets)?));
            }
            let message = match &request {
                Request::LoadProject => None,
                Request::TogglePreset(name) => Some(engine.toggle_preset(name)?),
                Request::Add(attr) => Some(engine.add_package(attr)?),
                Request::Remove { file, attr } => Some(engine.remove_package(file, attr)?),
                _ => unreachable!("only edits are queued here"),
            };
            let project = engine.load_project()?;
            Ok(match message {
                None => Action::ProjectLoaded(project),
                Some(message) => Action::Edited { project, message },
            })
        })
        .await;
        let action = match result {
            Ok(Ok(action)) => action,
            Ok(Err(e)) => Action::Error(error_message(&e)),
            Err(e) => Action::Error(format!("internal error: {e}")),
        };
        let _ = out.send(action);
    }
}

async fn searches(
    engine: Arc<dyn Engine>,
    mut queries: watch::Receiver<Option<(u64, String)>>,
    out: mpsc::UnboundedSender<Action>,
) {
    // The index loads in the background: the first frame never waits for it.
    let loaded = tokio::task::spawn_blocking({
        let engine = engine.clone();
        move || engine.load_index()
    })
    .await;
    let mut index = match loaded {
        Ok(Ok(index)) => index,
        Ok(Err(e)) => {
            let _ = out.send(Action::IndexFailed(format!(
                "the package index did not load: {}",
                error_message(&e)
            )));
            return;
        }
        Err(e) => {
            let _ = out.send(Action::IndexFailed(format!(
                "internal error loading the index: {e}"
            )));
            return;
        }
    };
    let _ = out.send(Action::IndexReady { names: index.len() });
    // Old caches are refreshed beside the searches; a fresher index replaces this one.
    let (swap_tx, mut swaps) = mpsc::unbounded_channel::<(Box<dyn PackageIndex>, String)>();
    tokio::spawn(refresh_index(engine.clone(), out.clone(), swap_tx));
    // A query typed before the index was ready is answered now.
    queries.mark_changed();
    loop {
        tokio::select! {
            changed = queries.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            Some((fresh, message)) = swaps.recv() => {
                index = fresh;
                let _ = out.send(Action::IndexReady { names: index.len() });
                let _ = out.send(Action::Notice(message));
                // The query on screen is answered again from the fresher index.
            }
        }
        let Some((id, query)) = queries.borrow_and_update().clone() else {
            continue;
        };
        let Ok((back, hits)) = tokio::task::spawn_blocking(move || {
            let hits = index.search(&query, SEARCH_LIMIT);
            (index, hits)
        })
        .await
        else {
            let _ = out.send(Action::IndexFailed("the search worker failed".into()));
            return;
        };
        index = back;
        // The app drops the answer if a newer query was sent meanwhile.
        let _ = out.send(Action::SearchResults { id, hits });
    }
}

/// The background refresh: update what is old, load the index again if that brought anything,
/// hand it to the search worker, and say what happened on the status line.
async fn refresh_index(
    engine: Arc<dyn Engine>,
    out: mpsc::UnboundedSender<Action>,
    swaps: mpsc::UnboundedSender<(Box<dyn PackageIndex>, String)>,
) {
    let Some(refresh) = engine.refresh_index().await else {
        return;
    };
    if refresh.reload {
        let loaded = tokio::task::spawn_blocking({
            let engine = engine.clone();
            move || engine.load_index()
        })
        .await;
        if let Ok(Ok(index)) = loaded {
            // The search worker says it once the fresher index is in use.
            let _ = swaps.send((index, refresh.message));
            return;
        }
    }
    let _ = out.send(Action::Notice(refresh.message));
}

/// Sends build events in batches: everything that arrived within [`BATCH`] becomes one action.
async fn forward_batches(mut rx: biar::progress::Receiver, out: mpsc::UnboundedSender<Action>) {
    let mut batch = Vec::new();
    loop {
        if rx.recv_many(&mut batch, 4096).await == 0 {
            return;
        }
        tokio::time::sleep(BATCH).await;
        batch.extend(rx.try_recv_all());
        if out
            .send(Action::BuildEvents(std::mem::take(&mut batch)))
            .is_err()
        {
            return;
        }
    }
}
