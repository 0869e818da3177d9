//! Every state change of the UI is one of these: keys become actions, backend results arrive as
//! actions, and tests drive the whole app headless by sending them.

use biar::progress::BuildEvent;

use super::components::explorer::ClosureView;
use super::view::{DockerState, Hit, ImageState, ProjectView, PushView};

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
    DismissError,

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
    Run,
    /// `e`: open the closure explorer (the backend builds the closure, no image).
    ShowExplorer,
    HideExplorer,
    /// The closure explorer's model, or why it could not be built.
    ClosureLoaded(Result<ClosureView, String>),
    /// The explorer's sort order.
    ExplorerSort(biar::inspect::SortKey),
    /// `P`: show what the push changes and sends first (the push starts on `ConfirmPush`).
    PreviewPush,
    /// The preview's lines, or why it could not be computed.
    PushPreview(Result<Vec<String>, String>),
    HidePushPreview,
    /// Enter on the preview: push.
    ConfirmPush,
    /// `P`: build if needed and push to the project's registry (when it has one).
    Push,
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
