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
