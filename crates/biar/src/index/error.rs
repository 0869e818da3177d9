use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("{0}")]
    Other(String),
}

impl IndexError {
    pub fn category(&self) -> Category {
        match self {
            IndexError::Other(_) => Category::Failure,
        }
    }
}
