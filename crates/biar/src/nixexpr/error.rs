use std::path::PathBuf;

use thiserror::Error;

use crate::category::Category;
use crate::location::Location;

#[derive(Debug, Error)]
pub enum NixError {
    /// The file is not valid Nix syntax.
    #[error("{at}: Nix syntax error: {message}; fix the file (nothing was changed)")]
    Parse { at: Location, message: String },
    /// The file parses but holds no list of packages biar-tui can find and edit.
    #[error("{at}: no package list to edit: {reason}")]
    NoPackageList { at: Location, reason: String },
    /// A name that is not a valid Nix attribute path.
    #[error("`{attr}` is not a valid Nix attribute path: {reason} (nothing was changed)")]
    BadAttr { attr: String, reason: String },
    /// An edit produced text that does not parse: a bug, and the file was not written.
    #[error(
        "{path}: editing would have broken the file ({message}); nothing was written — please \
         report this with the file"
    )]
    EditBroke { path: PathBuf, message: String },
    /// A project file that cannot be read as one (a FIFO, too large, a BOM…).
    #[error(transparent)]
    File(#[from] crate::fsutil::FileError),
    /// The file changed on disk after it was read (an edit outside biar-tui's project lock):
    /// nothing was written, so that change is not lost.
    #[error(
        "{path}: changed on disk while biar-tui was editing it; nothing was written, run the \
         edit again"
    )]
    ChangedOnDisk { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl NixError {
    pub fn category(&self) -> Category {
        match self {
            NixError::Parse { .. } | NixError::NoPackageList { .. } | NixError::BadAttr { .. } => {
                Category::BadInput
            }
            // A file that is not there or not text is the user's to fix.
            NixError::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData
                ) =>
            {
                Category::BadInput
            }
            NixError::File(e) => e.category(),
            NixError::EditBroke { .. } | NixError::ChangedOnDisk { .. } | NixError::Io { .. } => {
                Category::Failure
            }
        }
    }
}
