//! What a build reports while it runs: from Nix's `internal-json` log, then from the image stage.
//! The CLI prints these; the TUI draws them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// A stage of the whole pipeline began (`evaluate`, `build`, `closure`, `layers`, `load`, `push`).
    Stage { name: String },
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
        winner: super::collisions::Provider,
        others: Vec<super::collisions::Provider>,
    },
    /// The pipeline finished with this image reference.
    Done { reference: String },
}
