use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("{0}")]
    Other(String),
}

impl RunError {
    pub fn category(&self) -> Category {
        match self {
            RunError::Other(_) => Category::Failure,
        }
    }
}
