//! The package index: sources (channel packages.json over HTTP, nix-env in the builder, the bundled names), on-disk cache, fuzzy search.

mod error;

pub use error::IndexError;
