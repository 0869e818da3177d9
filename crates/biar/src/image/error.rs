use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("{0}")]
    Other(String),
}

impl ImageError {
    pub fn category(&self) -> Category {
        match self {
            ImageError::Other(_) => Category::Failure,
        }
    }
}
