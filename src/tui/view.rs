//! What the UI knows about the engine: plain data the backend hands over, so drawing never
//! touches the library, the disk or Docker.

/// One preset of `presets/*.nix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetView {
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

/// One entry of `userConfig` and its packages (as written in the file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileView {
    /// The file as `config.json` names it (relative to the project).
    pub name: String,
    pub packages: Vec<String>,
    /// Why the packages could not be read (the file does not parse…).
    pub error: Option<String>,
}

/// The project as the panes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    /// The project folder, for the title.
    pub root: String,
    /// `name:tag`, or why it could not be computed.
    pub image: Result<String, String>,
    pub presets: Vec<PresetView>,
    pub files: Vec<FileView>,
    /// Where `P` pushes (`host[/namespace]`), `None` when the project configures no registry.
    pub registry: Option<String>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub attr: String,
    pub version: Option<String>,
    pub description: Option<String>,
    /// Char indices of `attr` the query matched (highlighted).
    pub matched: Vec<usize>,
}

/// The builder a build needs is missing: what making it would do, each way (lines already
/// through the sanitizer), for the TUI to ask before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderOffer {
    /// The pipeline that found it missing was a push.
    pub push: bool,
    /// The steps with the official Nix image (pulled).
    pub official: Vec<String>,
    /// The steps with this host's Debian packages.
    pub offline: Vec<String>,
}

/// A background refresh of the project's index sources happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRefresh {
    /// What it did, for the status line (through the sanitizer).
    pub message: String,
    /// A source brought new entries: load the index again.
    pub reload: bool,
}

/// Where a finished pipeline put the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Loaded into Docker as this `name:tag`.
    Loaded(String),
    Pushed(PushView),
}

/// What a push did: where it went, and the library's own summary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushView {
    /// `host/namespace/name:tag`.
    pub remote: String,
    /// The registry had this tag already: nothing was built or sent.
    pub up_to_date: bool,
    pub summary: biar::registry::PushSummary,
}

/// One generation of the project (a build or push), as the generations list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationView {
    pub number: u64,
    /// `2026-12-02 05:33` (UTC).
    pub time: String,
    pub pushed: bool,
    /// The local `name:tag` (what the current configuration's image is compared with).
    pub reference: String,
    /// Where it was pushed (`host/namespace/name:tag`), for a push.
    pub remote: Option<String>,
    pub packages: usize,
    pub closure_size: Option<u64>,
}

/// What changes between two generations (or one and the current configuration): the library's
/// own diff with its text through the sanitizer, and what a push of the current configuration
/// would send, as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffView {
    pub diff: biar::inspect::Diff,
    pub push: Option<String>,
}

/// Is the configuration's image built?
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ImageState {
    #[default]
    Unknown,
    Checking,
    Local,
    Registry,
    NotBuilt,
    /// No image in Docker, but the environment was built for `r` and runs from the store
    /// volume.
    Environment,
}

/// The image doctor's verdict on the project's image (what `biar-tui doctor` says), as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorView {
    /// The image checked (`name:tag`): a verdict on another image is stale.
    pub image: String,
    /// The profile whose rules were checked (the project's `image.profile`).
    pub profile: String,
    pub checks: Vec<CheckView>,
}

/// One rule of the doctor's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckView {
    pub rule: String,
    pub passed: bool,
    pub why: String,
    pub fix: Option<String>,
}

impl DoctorView {
    pub fn failing(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }
}

/// Where the doctor is for the current image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DoctorState {
    /// No built image to check (yet).
    #[default]
    Unknown,
    Checking,
    Done(DoctorView),
    /// The doctor could not look (Docker down, the image gone meanwhile).
    Failed(String),
}

/// Can we reach the Docker Engine?
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DockerState {
    #[default]
    Connecting,
    Up {
        version: String,
    },
    Down {
        reason: String,
    },
}

impl Default for ProjectView {
    fn default() -> Self {
        ProjectView {
            root: String::new(),
            image: Err("not computed yet".to_string()),
            presets: Vec::new(),
            files: Vec::new(),
            registry: None,
        }
    }
}
