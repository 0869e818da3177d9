use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum NixError {
    #[error("{0}")]
    Other(String),
}

impl NixError {
    pub fn category(&self) -> Category {
        match self {
            NixError::Other(_) => Category::Failure,
        }
    }
}
