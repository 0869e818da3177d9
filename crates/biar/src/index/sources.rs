//! Which index to use: the project's pinned package set when its index is cached, else the best
//! cached one (channel, then nix-env), else the bundled names. Blocking (file I/O and decoding):
//! call it from `spawn_blocking` in async code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::cache::{self, CacheMeta};
use super::store::{Index, SourceInfo};
use super::{bundled, IndexError};
use crate::config::{Config, PackageSetPin};

/// An index ready to search, with what the user should be told about how it was found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub index: Arc<Index>,
    /// The cache metadata when it came from a cache file.
    pub meta: Option<CacheMeta>,
    /// Things worth a line on stderr (a damaged cache that was rebuilt, an unreadable config).
    pub notes: Vec<String>,
}

/// The source of a channel file.
pub fn channel_source(url: &str) -> SourceInfo {
    SourceInfo {
        kind: "channel".into(),
        origin: url.to_string(),
    }
}

/// The source of `nix-env -qaP` over a project's pinned package set. A path pin is made absolute
/// so two projects pinning the same folder share it.
pub fn nixenv_source(project_root: &Path, pin: &PackageSetPin) -> SourceInfo {
    let origin = match pin {
        PackageSetPin::Tarball { url, sha256 } => format!("tarball {url} sha256:{sha256}"),
        PackageSetPin::Channel { channel } => format!("channel {channel}"),
        PackageSetPin::Path { path } => {
            let p = project_root.join(path);
            let p = std::fs::canonicalize(&p).unwrap_or(p);
            format!("path {}", p.display())
        }
    };
    SourceInfo {
        kind: "nix-env".into(),
        origin,
    }
}

/// Reads `DIR/config.json` if there is one. A missing file is no project; a broken one is a note
/// (searching must still work).
pub fn read_project_config(dir: &Path, notes: &mut Vec<String>) -> Option<Config> {
    let path = dir.join("config.json");
    // Read like every project file: a FIFO or a huge file must not stall a search.
    let text = match crate::config::resolve_inside(dir, Path::new("config.json"))
        .and_then(|p| crate::fsutil::read_text(&p, crate::fsutil::MAX_CONFIG_JSON_BYTES))
    {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            notes.push(format!(
                "{}: {e}; using the best index available",
                path.display()
            ));
            return None;
        }
    };
    match serde_json::from_str::<Config>(&text) {
        Ok(c) => Some(c),
        Err(e) => {
            notes.push(format!(
                "{}:{}:{}: {e}; using the best index available",
                path.display(),
                e.line(),
                e.column()
            ));
            None
        }
    }
}

/// The sources a project prefers, best first (only the configured ones).
pub fn project_sources(project_root: &Path, config: &Config) -> Vec<SourceInfo> {
    let mut out = Vec::new();
    if let Some(url) = &config.index.packages_url {
        out.push(channel_source(url));
    }
    out.push(nixenv_source(project_root, &config.nixpkgs));
    out
}

/// Reads one cache file; a damaged one is removed and reported in `notes`.
fn try_cache(path: &Path, notes: &mut Vec<String>) -> Option<(Index, CacheMeta)> {
    match cache::read(path) {
        // A cache written before the alias table (or with an older one) gets them now, and is
        // rewritten so the next load is the fast path again (a read-only cache only costs time).
        Ok(found) => found.map(|(index, meta)| {
            let before = index.len();
            let index = index.with_aliases();
            if index.len() != before {
                if let Err(e) = cache::write(path, &index, &meta) {
                    tracing::debug!("not rewriting {} with the aliases: {e}", path.display());
                }
            }
            (index, meta)
        }),
        Err(e) => {
            notes.push(e.to_string());
            let _ = std::fs::remove_file(path);
            None
        }
    }
}

/// Cache files of channel and nix-env sources, channel first, newest first.
fn cached_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(u8, std::cmp::Reverse<SystemTime>, PathBuf)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".idx") {
                continue;
            }
            let rank = if name.starts_with("channel-") {
                0
            } else if name.starts_with("nix-env-") {
                1
            } else {
                continue;
            };
            let mtime = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((rank, std::cmp::Reverse(mtime), e.path()));
        }
    }
    found.sort();
    found.into_iter().map(|(_, _, p)| p).collect()
}

/// The bundled names, from their cache file when it is there (and writing it when it is not).
pub fn load_bundled(notes: &mut Vec<String>) -> Result<Loaded, IndexError> {
    let source = bundled::source();
    let path = cache::cache_dir().map(|d| cache::cache_path(&d, &source));
    if let Some(p) = &path {
        if let Some((index, meta)) = try_cache(p, notes) {
            return Ok(Loaded {
                index: Arc::new(index),
                meta: Some(meta),
                notes: std::mem::take(notes),
            });
        }
    }
    let index = bundled::load()?;
    let meta = CacheMeta {
        kind: source.kind.clone(),
        origin: source.origin.clone(),
        ..CacheMeta::default()
    };
    if let Some(p) = &path {
        // A read-only cache folder only costs speed next time.
        if let Err(e) = cache::write(p, &index, &meta) {
            tracing::debug!("not caching the bundled index: {e}");
        }
    }
    Ok(Loaded {
        index: Arc::new(index),
        meta: None,
        notes: std::mem::take(notes),
    })
}

/// The index `search` uses in `project_dir` (which need not be a project).
pub fn load_for_search(project_dir: &Path) -> Result<Loaded, IndexError> {
    let mut notes = Vec::new();
    let config = read_project_config(project_dir, &mut notes);
    let Some(dir) = cache::cache_dir() else {
        return load_bundled(&mut notes);
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(config) = &config {
        for s in project_sources(project_dir, config) {
            candidates.push(cache::cache_path(&dir, &s));
        }
    }
    for p in cached_files(&dir) {
        if !candidates.contains(&p) {
            candidates.push(p);
        }
    }
    for p in candidates {
        if let Some((index, meta)) = try_cache(&p, &mut notes) {
            return Ok(Loaded {
                index: Arc::new(index),
                meta: Some(meta),
                notes,
            });
        }
    }
    load_bundled(&mut notes)
}
