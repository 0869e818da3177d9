use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum InspectError {
    /// `--why X` (or the explorer's why) of something the closure does not hold.
    #[error(
        "{query:?} is not in the environment's closure (no store path, name or package matches it)"
    )]
    NotInClosure { query: String },
    /// A generation (`diff FROM`, `run --image`) that was never recorded or was dropped.
    #[error(
        "{query:?} is not a recorded generation or image of this project (see `biar-tui history`)"
    )]
    NoGeneration { query: String },
    /// A recorded generation whose image neither the Docker Engine nor the registry it was
    /// pushed to holds any more (removed, pruned, deleted).
    #[error(
        "generation #{number} ({reference}) is gone: the Docker Engine no longer has it{}\n  \
         its configuration can be built again, or pick another generation (`biar-tui history`)",
        gone_from(.remotes)
    )]
    GenerationGone {
        number: u64,
        reference: String,
        /// Where pushes of it went (each asked, none had it).
        remotes: Vec<String>,
    },
    /// A generation `run` made from the store volume: no image of it was ever made, and none
    /// of its configuration is in the Engine or the registry.
    #[error(
        "generation #{number} ran from the store volume: no image of it ({reference}) was made\n  \
         `biar-tui build` makes it while the configuration is the same, or pick another \
         generation (`biar-tui history`)"
    )]
    GenerationWithoutImage { number: u64, reference: String },
    /// The closure graph is not a graph of one environment (a missing path, a cycle).
    #[error("closure graph: {0}")]
    Graph(String),
    /// The state folder (generations, build times) could not be read or written.
    #[error("{path}: {source}")]
    State {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl InspectError {
    pub fn category(&self) -> Category {
        match self {
            InspectError::NotInClosure { .. } | InspectError::NoGeneration { .. } => {
                Category::BadInput
            }
            InspectError::GenerationGone { .. }
            | InspectError::GenerationWithoutImage { .. }
            | InspectError::Graph(_)
            | InspectError::State { .. } => Category::Failure,
        }
    }
}

fn gone_from(remotes: &[String]) -> String {
    match remotes {
        [] => " and it was never pushed".to_string(),
        _ => format!(" and neither has the registry ({})", remotes.join(", ")),
    }
}
