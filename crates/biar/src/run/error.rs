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

    #[error("{path} {reason} ({target}): it is not mounted into the environment\n  workdir/ must be a folder inside the project; replace the link with a folder (or a link to one inside the project)")]
    WorkdirOutside {
        path: String,
        target: String,
        reason: String,
    },

    #[error("detached from the environment (Ctrl-]): it was stopped and removed")]
    Detached,

    /// SIGTERM or SIGHUP arrived: the container was stopped and removed.
    #[error("stopped by {}: the environment was stopped and removed", signal_name(*.signal))]
    Interrupted { signal: i32 },

    /// The engine could not execute the command (`code` 127: not found, 126: not executable).
    #[error("the command could not be run in the environment: {reason}")]
    CommandNotRun { code: u8, reason: String },

    /// The environment could not be run from the store volume (no image); nothing was started.
    #[error("the environment cannot run from the store volume: {reason}")]
    DirectUnavailable { reason: String },

    #[error("{0}")]
    Other(String),
}

impl RunError {
    pub fn category(&self) -> Category {
        match self {
            RunError::Workdir { .. } | RunError::WorkdirOutside { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }

    /// The exit code a shell would give: 128 + the signal for [`RunError::Interrupted`], 126/127
    /// for [`RunError::CommandNotRun`]; `None` for the others (their category decides).
    pub fn exit_code(&self) -> Option<u8> {
        match self {
            RunError::Interrupted { signal } => Some((128 + signal) as u8),
            RunError::CommandNotRun { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn docker(what: &str) -> impl FnOnce(crate::docker::DockerError) -> RunError + '_ {
        move |e| RunError::Docker {
            what: what.to_string(),
            reason: e.reason(),
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP (the terminal closed)".into(),
        libc::SIGINT => "SIGINT".into(),
        n => format!("signal {n}"),
    }
}
