use thiserror::Error;

use crate::error::Category;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("{0}")]
    Other(String),
}

impl RegistryError {
    pub fn category(&self) -> Category {
        match self {
            RegistryError::Other(_) => Category::Failure,
        }
    }
}
