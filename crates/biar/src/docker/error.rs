use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum DockerError {
    /// `via` says how the engine was chosen (DOCKER_HOST, a context, the local socket).
    #[error("cannot reach the Docker Engine at {address} (chosen by {via}): {reason}\n  is the engine running? set DOCKER_HOST or DOCKER_CONTEXT to use another one")]
    Unreachable {
        address: String,
        via: String,
        reason: String,
    },
    /// The user named an engine wrongly: a malformed `DOCKER_HOST`, an unknown context, a
    /// certificate that cannot be read (exit 2).
    #[error("{value}: {reason}")]
    BadEndpoint { value: String, reason: String },
    #[error("the builder image {image} does not exist on the Docker Engine at {address}\n  run `biar-tui builder create` (or `biar-tui builder create --offline` with no network)")]
    BuilderImageMissing { image: String, address: String },
    #[error("the builder image {image} on the Docker Engine at {address} was made by an older biar-tui: builds in it run as root and could change what other projects' images ship\n  run `biar-tui builder create` (or `biar-tui builder create --offline`) to re-create it")]
    BuilderImageOutdated { image: String, address: String },
    #[error("the Nix store volume {volume} does not exist on the Docker Engine at {address}\n  run `biar-tui builder create`")]
    StoreVolumeMissing { volume: String, address: String },
    #[error("cannot pull {image}: {reason}\n  with no network, make the builder from this host's Debian packages: `biar-tui builder create --offline`")]
    Pull { image: String, reason: String },
    /// A call to the engine failed; `what` says which call on what, `status` the engine's HTTP
    /// status when it answered one, `reason` what went wrong.
    #[error("Docker Engine: {what}: {reason}")]
    Api {
        what: String,
        status: Option<u16>,
        reason: String,
    },
    /// A command run in a builder container exited non-zero.
    #[error("`{command}` exited with code {code} in builder container {container}{}", tail_block(.stderr_tail))]
    ExecFailed {
        command: String,
        container: String,
        code: i64,
        stderr_tail: String,
    },
    /// A host tool the offline builder needs (apt-get, apt-cache, dpkg) failed.
    #[error(
        "{tool} failed: {detail}\n  the offline builder needs Debian's apt and dpkg on this host (if apt does not know nix-bin, run `apt-get update`)"
    )]
    HostTool { tool: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

fn tail_block(tail: &str) -> String {
    let tail = tail.trim_end();
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

impl DockerError {
    pub fn category(&self) -> Category {
        match self {
            DockerError::BadEndpoint { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }

    /// Wraps an engine error with the call it came from.
    pub(super) fn api(
        what: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let what = what.into();
        move |source| DockerError::Api {
            what,
            status: status_of(&source),
            reason: source.to_string(),
        }
    }

    /// True when the engine answered 404 (no such image, container, volume).
    pub(super) fn is_not_found(err: &bollard::errors::Error) -> bool {
        status_of(err) == Some(404)
    }

    /// What went wrong, without the call: the engine's own words for an [`DockerError::Api`].
    pub fn reason(&self) -> String {
        match self {
            DockerError::Api { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

/// The HTTP status the engine answered, if it answered one.
fn status_of(err: &bollard::errors::Error) -> Option<u16> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}
