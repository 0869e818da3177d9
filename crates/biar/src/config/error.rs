use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::category::Category;
use crate::location::Location;

use super::FileError;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{dir}: no config.json here (is this an environment project? try --project DIR)")]
    NoProject { dir: PathBuf },
    /// Malformed JSON, a wrong type, or a value out of range, at a place in config.json.
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// `baseConfig` or a `userConfig` entry names a file that is not there.
    #[error(
        "{at}: {key} names {file:?}, which does not exist ({path}); create it or fix the entry"
    )]
    MissingFile {
        at: Location,
        key: &'static str,
        file: String,
        path: PathBuf,
    },
    /// `baseConfig`, a `userConfig` entry or `workdir/local.nix` is there but cannot be a
    /// configuration file (a folder, a FIFO, too large, a link out of the project).
    #[error("{at}: {key} names {file:?}, which cannot be used: {problem}")]
    BadFile {
        at: Location,
        key: &'static str,
        file: String,
        problem: Box<FileError>,
    },
    /// A project file that cannot be read as one (see `project_file.rs`).
    #[error(transparent)]
    File(#[from] FileError),
    /// Another edit of the project held its lock for too long.
    #[error(
        "{path}: another edit of this project (biar-tui in another terminal?) held the lock for          {}s; try again", waited.as_secs()
    )]
    Locked { path: PathBuf, waited: Duration },
    /// The file changed on disk between reading and writing it (an edit outside biar-tui's lock):
    /// nothing was written, so that change is not lost.
    #[error("{path}: changed on disk while biar-tui was editing it; nothing was written, run the edit again")]
    ChangedOnDisk { path: PathBuf },
    /// The user's own settings file (`$XDG_CONFIG_HOME/biar/config.toml`) is unusable.
    #[error("{file}: {message}")]
    UserSettings { file: PathBuf, message: String },
    /// A Nix file of the configuration (hashing parses it).
    #[error(transparent)]
    Nix(#[from] crate::nixexpr::NixError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ConfigError {
    pub fn category(&self) -> Category {
        match self {
            // A folder where a file must be is the user's input at fault, not a failure.
            ConfigError::Io { source, .. } if source.kind() == std::io::ErrorKind::IsADirectory => {
                Category::BadInput
            }
            ConfigError::Io { .. }
            | ConfigError::Locked { .. }
            | ConfigError::ChangedOnDisk { .. } => Category::Failure,
            ConfigError::File(e) => e.category(),
            ConfigError::BadFile { problem, .. } => problem.category(),
            ConfigError::Nix(e) => e.category(),
            _ => Category::BadInput,
        }
    }
}
