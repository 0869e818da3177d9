use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
    /// A file the configuration names is missing or outside the project.
    #[error("{config}: {message}")]
    BadProject { config: PathBuf, message: String },
    /// config.json asks for something the user's own settings do not allow (a signing key).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A derivation's builder failed.
    #[error("building {name} failed ({drv})\n  {nix_error}{}", log_block(.log_tail))]
    Derivation {
        name: String,
        drv: String,
        nix_error: String,
        log_tail: Vec<String>,
    },
    /// The configuration does not evaluate: Nix's error names a file of the project.
    #[error("the configuration does not evaluate:\n{message}")]
    Evaluation { message: String },
    /// Nix failed before or outside a derivation's build, not at a project file's position.
    #[error("nix-build failed (exit code {code}):\n{message}")]
    Nix { code: i64, message: String },
    #[error("the build was cancelled")]
    Cancelled,
    /// Stopped while pushing: the manifest goes last, so nothing was tagged.
    #[error("push cancelled: nothing was tagged; re-run `biar-tui build --push` to finish (blobs already sent are skipped)")]
    PushCancelled,
    #[error("{0}")]
    Other(String),
}

fn log_block(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n  last lines of its log:");
    for line in lines {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

impl BuildError {
    pub fn category(&self) -> Category {
        match self {
            BuildError::BadProject { .. } | BuildError::Evaluation { .. } => Category::BadInput,
            BuildError::Docker(e) => e.category(),
            BuildError::Config(e) => e.category(),
            _ => Category::Failure,
        }
    }
}
