use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum DockerError {
    #[error("cannot reach the Docker Engine at {address}: {reason}\n  is Docker running? set DOCKER_HOST to use another engine")]
    Unreachable { address: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl DockerError {
    pub fn category(&self) -> Category {
        Category::Failure
    }
}
