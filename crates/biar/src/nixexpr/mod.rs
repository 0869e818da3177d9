//! Nix files: rnix parse, in-place list edits that keep comments and layout, canonical hashing, and the generated build expression. Never evaluates Nix.

mod build_expr;
mod error;

pub use build_expr::{
    build_expression, nix_string, package_set_expression, BuildExpr, PackageSetSource,
};
pub use error::NixError;
