use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum PresetError {
    #[error("{0}")]
    Other(String),
}

impl PresetError {
    pub fn category(&self) -> Category {
        match self {
            PresetError::Other(_) => Category::Failure,
        }
    }
}
