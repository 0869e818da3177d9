//! Nix files: rnix parse with positions, the package list of a configuration file and its
//! in-place editing (comments and layout kept), canonical hashing, and the generated build
//! expression. Never evaluates Nix.
//!
//! The entry points: [`PackageFile`] (load, [`packages`](PackageFile::packages),
//! [`add`](PackageFile::add), [`remove`](PackageFile::remove), [`save`](PackageFile::save)),
//! [`AttrPath::parse`] to validate what a user typed, and [`canonical_digest`] for identities.

mod attr;
mod build_expr;
mod compose;
mod error;
mod package_file;
mod parse;
mod python_list;

pub use attr::{is_identifier, AttrPath};
pub use build_expr::{
    build_expression, nix_string, package_set_expression, BuildExpr, PackageSetSource,
};
pub use compose::CONFLICT_MARK;
pub use error::NixError;
pub use package_file::{AddOutcome, OtherEntry, PackageEntry, PackageFile, RemoveOutcome};
pub use parse::{canonical_digest, canonical_digest_of, parse};
