use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("the image {image} is not in the Docker Engine\n  build it first: `biar-tui build` (or `biar-tui pull` to fetch it from the registry)")]
    ImageMissing { image: String },

    #[error("the Docker Engine failed to {what}: {reason}")]
    Docker { what: String, reason: String },

    #[error("the terminal could not be {what}: {reason}")]
    Terminal { what: String, reason: String },

    #[error("cannot mount {path} into the container: {reason}\n  the project's workdir/ must be a folder you can read")]
    Workdir { path: String, reason: String },

    #[error("detached from the environment (Ctrl-]): it was stopped and removed")]
    Detached,

    #[error("{0}")]
    Other(String),
}

impl RunError {
    pub fn category(&self) -> Category {
        match self {
            RunError::Workdir { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }

    pub(crate) fn docker(what: &str) -> impl FnOnce(bollard::errors::Error) -> RunError + '_ {
        move |e| RunError::Docker {
            what: what.to_string(),
            reason: e.to_string(),
        }
    }
}
