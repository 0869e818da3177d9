//! Nix files: rnix parse, in-place list edits that keep comments and layout, canonical hashing, and the generated build expression. Never evaluates Nix.

mod error;

pub use error::NixError;
