//! Every state change of the UI is one of these: keys become actions, backend results arrive as
//! actions, and tests drive the whole app headless by sending them.

use biar::progress::BuildEvent;

use biar::docker::BuilderSource;

use super::components::explorer::ClosureView;
use super::view::{
    BuilderOffer, DiffView, DockerState, DoctorState, GenerationView, Hit, ImageState, ProjectView,
    PushView,
};

/// The three panes of the main screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Presets,
    Search,
    Config,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Only redraw: a component consumed a key and changed its own state (selection, text).
    Render,
    Quit,
    /// The terminal changed size (or came back from an attached container): redraw everything.
    Resize(u16, u16),
    Focus(Pane),
    FocusNext,
    FocusPrev,
    ToggleHelp,
    /// `D`: show or hide the image doctor's list.
    ToggleDoctor,
    DismissError,

    // A new project, where none is (no config.json).
    /// Offer to create a project in `dir` with a choice of these shipped presets.
    OfferInit {
        dir: String,
        presets: Vec<super::view::PresetView>,
    },
    /// Create the project with these presets on (as `biar-tui init --preset …`).
    CreateProject(Vec<String>),
    /// The project was written (what was written, for the status line): the main screen opens.
    ProjectCreated(String),

    // Edits (through the same library calls as the CLI).
    TogglePreset(String),
    AddPackage(String),
    RemovePackage {
        file: String,
        attr: String,
    },
    /// The search box's text changed.
    Search(String),

    // Build and run.
    Build,
    ShowBuild,
    HideBuild,
    /// Asks "cancel the build?" once.
    AskCancelBuild,
    CancelBuild,
    KeepBuilding,
    /// A second passed during a build (elapsed times move without events).
    Tick,
    /// `w` in the build view: save the failed derivation's log to the state folder.
    SaveFailedLog,
    /// `y` in the build view: copy the failed derivation's log to the clipboard (OSC 52).
    CopyFailedLog,
    Run,
    /// `e`: open the closure explorer (the backend builds the closure, no image).
    ShowExplorer,
    HideExplorer,
    /// The closure explorer's model, or why it could not be built.
    ClosureLoaded(Result<ClosureView, String>),
    /// The explorer's sort order.
    ExplorerSort(biar::inspect::SortKey),
    /// `h`: open the list of the project's generations (read from the state folder).
    ShowGenerations,
    HideGenerations,
    /// The generations, newest first, or why they could not be read.
    GenerationsLoaded(Result<Vec<GenerationView>, String>),
    /// Space on a generation: mark it (two marks compare with each other, one with the current
    /// configuration), or unmark it.
    MarkGeneration(u64),
    /// The marks changed (sorted, oldest first; empty: nothing to compare).
    CompareGenerations(Vec<u64>),
    /// The diff for these marks, or why it could not be computed.
    GenerationDiff {
        marks: Vec<u64>,
        result: Result<DiffView, String>,
    },
    /// Enter on a generation: run its image (as `run --image N`).
    RunGeneration(u64),
    /// The backend was asked for the generation's image (it may pull it back first).
    PreparingGeneration(u64),
    /// The generation's image is in Docker (its `name:tag`), or why it cannot run (gone).
    GenerationReady {
        number: u64,
        result: Result<String, String>,
    },
    /// `P`: show what the push changes and sends first (the push starts on `ConfirmPush`).
    PreviewPush,
    /// The preview's lines, or why it could not be computed.
    PushPreview(Result<Vec<String>, String>),
    HidePushPreview,
    /// Enter on the preview: push.
    ConfirmPush,
    /// `P`: build if needed and push to the project's registry (when it has one).
    Push,
    /// The build (or push) stopped because the builder is missing: the build view asks whether
    /// to make it.
    BuilderMissing(BuilderOffer),
    /// Make the builder this way, then go on with the build (and the run or push after it).
    CreateBuilder(BuilderSource),
    /// Not now: nothing is created, and nothing is built.
    DeclineBuilder,
    /// The push to this registry (`host[/namespace]`) was asked of the backend: the build view
    /// shows it.
    PushStarted(String),

    // From the backend.
    ProjectLoaded(ProjectView),
    Edited {
        project: ProjectView,
        message: String,
    },
    IndexReady {
        names: usize,
    },
    IndexFailed(String),
    SearchResults {
        id: u64,
        hits: Vec<Hit>,
    },
    Docker(DockerState),
    Image(ImageState),
    /// The image doctor's verdict on the project's image (asked once it is built).
    Doctor(DoctorState),
    /// A batch of build events (the backend batches them, so a chatty build costs one redraw).
    BuildEvents(Vec<BuildEvent>),
    /// The build ended: the image reference, or why not.
    BuildFinished(Result<String, String>),
    /// The push (and the build before it) ended.
    PushFinished(Result<PushView, String>),
    /// The attached environment exited with this code (or could not run).
    RunFinished(Result<i64, String>),
    /// Something failed: shown in the error banner.
    Error(String),
    /// A passing note for the status line.
    Notice(String),
    /// A note the user must read (what they asked for cannot be done, and how to fix that): the
    /// status line makes room for it.
    Warning(String),
}
