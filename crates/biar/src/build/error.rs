use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("{0}")]
    Other(String),
}

impl BuildError {
    pub fn category(&self) -> Category {
        match self {
            BuildError::Other(_) => Category::Failure,
        }
    }
}
