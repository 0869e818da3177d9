//! The package index: sources (channel packages.json over HTTP, nix-env in the builder, the
//! bundled names), on-disk cache, fuzzy search. See `docs/search.md` for the ranking rules and
//! the API the TUI uses.
//!
//! Typical use (blocking calls: run them in `spawn_blocking` from async code):
//! ```no_run
//! let loaded = biar::index::load_for_search(std::path::Path::new(".")).unwrap();
//! let mut searcher = biar::index::Searcher::new(loaded.index.clone());
//! for hit in searcher.search("ripgr", 20) {
//!     println!("{} {:?}", hit.attr, hit.matched);
//! }
//! ```

mod aliases;
mod bundled;
pub mod cache;
mod channel;
mod check;
mod error;
mod nixenv;
mod packages_json;
mod rank_key;
#[cfg(test)]
mod ranking_tests;
mod search;
mod sources;
mod store;
mod typo;
mod update;

pub use bundled::BUNDLED_ORIGIN;
pub use check::UnknownAttr;
pub use error::IndexError;
/// The attribute paths a name means when its case is wrong (`docker pull` needs lower case).
pub use nixenv::case_matches;
/// Lists a project's pinned package set (`nix-env -qaP` in a fresh builder container): an index
/// of exactly that set, to check attribute paths against (the image server's "did you mean").
pub use nixenv::fetch as list_package_set;
pub use search::{MatchKind, SearchHit, Searcher, MAX_QUERY_CHARS};
pub use sources::{
    channel_source, load_bundled, load_for_search, nixenv_source, project_sources,
    read_project_config, Loaded,
};
pub use store::{Entry, Index, SourceInfo};
pub use update::{
    stale_sources, update, update_channel, Outcome, SourceKind, SourceReport, REFRESH_AFTER,
};

/// Parses a `packages.json` document (channel shape) from a reader, one entry at a time.
pub fn parse_packages_json(
    reader: impl std::io::Read,
    sink: impl FnMut(Entry),
) -> Result<(), String> {
    packages_json::parse(reader, packages_json::Shape::Channel, sink)
}

/// The bundled offline index, decoded afresh (no cache, no network).
pub fn bundled() -> Result<Index, IndexError> {
    bundled::load()
}
