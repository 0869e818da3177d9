//! What a build reports while it runs: from Nix's `internal-json` log, then from the image stage.
//! The CLI prints these; the TUI draws them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// A stage of the whole pipeline began.
    Stage { name: Stage },
    /// Derivation counts from Nix's `builds` activity.
    Progress {
        done: u64,
        expected: u64,
        running: u64,
        failed: u64,
    },
    /// Nix started building a derivation (`drv` is its store path, `name` the readable part).
    DerivationStarted { drv: String, name: String },
    /// A derivation finished (successfully or not, see `Progress.failed`).
    DerivationFinished { drv: String },
    /// A build phase began (`unpackPhase`, `buildPhase`…).
    Phase { drv: String, phase: String },
    /// A line of a derivation's own build log (control sequences not yet neutralised).
    Log { drv: Option<String>, line: String },
    /// A message from Nix itself (warnings, errors, "these N derivations will be built").
    Message { level: u8, text: String },
    /// A layer of the image: `sent` bytes went to Docker or the registry; `reused` means nothing was sent.
    Layer {
        index: usize,
        total: usize,
        digest: String,
        size: u64,
        reused: bool,
    },
    /// A file several packages provide with different contents: the environment has the
    /// winner's (first in configuration order, or the one `lib.hiPrio` declares).
    Collision {
        file: String,
        winner: Provider,
        others: Vec<Provider>,
    },
    /// A step of making the builder, which was missing and the build was asked to make
    /// (`--create-builder`, or confirmed in the TUI).
    Builder { text: String },
    /// Nix began fetching a store path from a binary cache instead of building it.
    SubstituteStarted {
        path: String,
        name: String,
        cache: String,
    },
    /// A substitution ended (the path is in the store, or Nix fell back to building it).
    SubstituteFinished { path: String },
    /// Paths fetched from binary caches so far, of those Nix means to fetch.
    Substitution { done: u64, expected: u64 },
    /// Bytes downloaded from binary caches so far (compressed, as sent), of those expected, and
    /// the store bytes they unpacked to (a `file://` cache downloads nothing but unpacks).
    Downloaded {
        bytes: u64,
        expected: u64,
        unpacked: u64,
    },
    /// A binary cache could not be used (unreachable, signatures by an untrusted key, an
    /// upload refused, a project's cache the user does not trust): the build goes on without it.
    CacheWarning { cache: String, reason: String },
    /// The paths of a successful build were uploaded (signed) to a binary cache: `paths` were
    /// new to it.
    CachePushed { cache: String, paths: u64 },
    /// Nix said it will build (`fetch` false) or fetch this store path: it waits in the build
    /// tree. `estimate` is how long the last build of the same name took, in seconds, when the
    /// user's state folder remembers one.
    Planned {
        path: String,
        name: String,
        #[serde(default)]
        fetch: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimate: Option<f64>,
    },
    /// The build or fetch of `path` is needed by `parent` (the derivation graph, any Nix; or
    /// Nix's activity parent chain, Nix 2.24 and later): the tree draws it under that one, the
    /// latest such event winning.
    Under { path: String, parent: String },
    /// Bytes of the fetch of store path `path` so far, of `expected` (0: not known), as
    /// downloaded (or unpacked, from a cache that downloads nothing).
    Fetching {
        path: String,
        bytes: u64,
        expected: u64,
    },
    /// The build of `drv` failed (from Nix's own activities and counts, never from log text).
    DerivationFailed { drv: String },
    /// The build of `drv` stopped without finishing: Nix gave up on it (another build failed).
    DerivationStopped { drv: String },
    /// The pipeline finished with this image reference.
    Done { reference: String },
}

/// The stages of the whole pipeline, in the order they run (a load or a push after the layers).
/// Serialized as their lower-case names (`{"event":"stage","name":"layers"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nix evaluates the build expression.
    Evaluate,
    /// Nix builds (or substitutes) the derivations.
    Build,
    /// The closure of the environment is queried.
    Closure,
    /// The image's layers are described (digests from the cache, or measured).
    Layers,
    /// The layers Docker lacks are loaded into it.
    Load,
    /// The blobs the registry lacks are pushed, then the manifest.
    Push,
}

impl Stage {
    /// The stage's name as users see it (and as JSON carries it).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Evaluate => "evaluate",
            Stage::Build => "build",
            Stage::Closure => "closure",
            Stage::Layers => "layers",
            Stage::Load => "load",
            Stage::Push => "push",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A package providing a colliding file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The derivation's name.
    pub name: String,
    /// The configuration file naming it.
    pub from: String,
}

/// `collision: bin/vi from vim-9.1.0 (presets/shell.nix) wins over nvi-1.81.6 (user.nix); …`:
/// the one wording of a collision for every front end (not yet neutralised for a terminal).
pub fn describe_collision(file: &str, winner: &Provider, others: &[Provider]) -> String {
    let others: Vec<String> = others
        .iter()
        .map(|o| format!("{} ({})", o.name, o.from))
        .collect();
    format!(
        "collision: {file} from {} ({}) wins over {}; to choose another, wrap it in lib.hiPrio",
        winner.name,
        winner.from,
        others.join(", ")
    )
}
