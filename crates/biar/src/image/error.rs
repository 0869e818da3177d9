use thiserror::Error;

use crate::category::Category;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("image.maxLayers is {max_layers}: it must be between 2 and 125 (Docker refuses more than 125 layers)\n  set image.maxLayers in config.json, e.g. 100")]
    MaxLayers { max_layers: usize },
    #[error("the closure is incomplete: {path} references {reference}, which is not in the closure graph\n  this is a bug in the closure query; rebuild, and report it if it persists")]
    ClosureIncomplete { path: String, reference: String },
    #[error("the closure has a reference cycle through {path}; Nix store references cannot form cycles\n  the closure graph is corrupt: rebuild")]
    ClosureCycle { path: String },
    #[error("malformed NAR for {path}: {reason}\n  the store path may be corrupt: run `nix-store --verify --check-contents` in the builder")]
    Nar { path: String, reason: String },
    #[error("layer {digest} changed while it was sent again: the bytes hash to {actual}\n  the store or the layer cache is inconsistent: remove {cache} and rebuild")]
    DigestMismatch {
        digest: String,
        actual: String,
        cache: String,
    },
    #[error("the layer of {paths} streamed {actual} bytes where {expected} were announced: the load stopped before anything was tagged\n  the store changed while it was read, the size predicted from the store's listing was wrong, or the layer cache at {cache} is wrong (remove it); rebuild, and report it if it persists")]
    SizeMismatch {
        paths: String,
        expected: u64,
        actual: String,
        cache: String,
    },
    #[error(
        "the layer cache at {path}: {reason}\n  remove the folder (it is only a cache) and rebuild"
    )]
    Cache { path: String, reason: String },
    #[error("I/O error while {doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the Docker Engine refused {doing}: {reason}")]
    Docker { doing: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl ImageError {
    pub fn category(&self) -> Category {
        match self {
            ImageError::MaxLayers { .. } => Category::BadInput,
            _ => Category::Failure,
        }
    }

    pub(crate) fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
        let doing = doing.into();
        move |source| ImageError::Io { doing, source }
    }
}
