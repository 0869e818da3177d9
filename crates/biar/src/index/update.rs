//! `index update`: refresh every configured source into its cache file, keeping the previous
//! index of a source that fails.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cache::{self, CacheMeta};
use super::channel::{self, Fetched};
use super::sources::{self, channel_source, read_project_config};
use super::store::SourceInfo;
use super::IndexError;

/// The kinds of source, for choosing which to update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The channel's packages.json (index.packagesUrl).
    Channel,
    /// nix-env over the pinned package set, in the builder.
    NixEnv,
    /// The names built into biar-tui.
    Bundled,
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "channel" => Ok(SourceKind::Channel),
            "nix-env" => Ok(SourceKind::NixEnv),
            "bundled" => Ok(SourceKind::Bundled),
            _ => Err(format!("unknown source {s:?}: channel, nix-env or bundled")),
        }
    }
}

/// What happened to one source.
#[derive(Debug)]
pub enum Outcome {
    /// A fresh index was loaded and cached.
    Loaded { count: usize, elapsed: Duration },
    /// The source said nothing changed (HTTP 304); the cached index stays.
    Unchanged { count: usize, elapsed: Duration },
    /// The source failed; `kept` is the size of the previous index still in use, if any.
    Failed {
        error: IndexError,
        kept: Option<usize>,
    },
    /// Not tried, and why.
    Skipped { reason: String },
}

#[derive(Debug)]
pub struct SourceReport {
    pub source: SourceInfo,
    pub outcome: Outcome,
}

impl SourceReport {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }

    /// Whether a failure is the user's configuration at fault (exit 2) or the source (exit 1).
    pub fn category(&self) -> Option<crate::Category> {
        match &self.outcome {
            Outcome::Failed { error, .. } => Some(error.category()),
            _ => None,
        }
    }
}

fn secs(d: &Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for SourceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.source;
        match &self.outcome {
            Outcome::Loaded { count, elapsed } => write!(
                f,
                "{} {}: loaded {} packages in {}",
                s.kind,
                s.origin,
                thousands(*count),
                secs(elapsed)
            ),
            Outcome::Unchanged { count, elapsed } => write!(
                f,
                "{} {}: unchanged since the last update ({} packages, checked in {})",
                s.kind,
                s.origin,
                thousands(*count),
                secs(elapsed)
            ),
            Outcome::Failed { error, kept } => {
                write!(f, "{} {}: failed: {error}; ", s.kind, s.origin)?;
                match kept {
                    Some(n) => write!(f, "kept the previous index ({} packages)", thousands(*n)),
                    None => write!(f, "no previous index of this source"),
                }
            }
            Outcome::Skipped { reason } => write!(f, "{} {}: skipped: {reason}", s.kind, s.origin),
        }
    }
}

/// Reads a source's cache file off the async threads; a damaged file counts as none.
async fn previous(path: std::path::PathBuf) -> Option<(usize, CacheMeta)> {
    tokio::task::spawn_blocking(move || match cache::read(&path) {
        Ok(Some((index, meta))) => Some((index.len(), meta)),
        _ => None,
    })
    .await
    .ok()
    .flatten()
}

/// Refreshes the channel index of `url`.
pub async fn update_channel(url: &str) -> SourceReport {
    let source = channel_source(url);
    let Some(dir) = cache::cache_dir() else {
        return SourceReport {
            source,
            outcome: Outcome::Skipped {
                reason: "no cache folder (set XDG_CACHE_HOME or HOME)".into(),
            },
        };
    };
    let path = cache::cache_path(&dir, &source);
    let prev = previous(path.clone()).await;
    let start = Instant::now();
    let outcome = match channel::fetch(url, prev.as_ref().map(|p| &p.1)).await {
        Ok(Fetched::NotModified) => match &prev {
            Some((count, _)) => Outcome::Unchanged {
                count: *count,
                elapsed: start.elapsed(),
            },
            None => Outcome::Failed {
                error: IndexError::Other("the server answered 304 to a first request".into()),
                kept: None,
            },
        },
        Ok(Fetched::New(index, meta)) => {
            let count = index.len();
            let written =
                tokio::task::spawn_blocking(move || cache::write(&path, &index, &meta)).await;
            match written {
                Ok(Ok(())) => Outcome::Loaded {
                    count,
                    elapsed: start.elapsed(),
                },
                Ok(Err(error)) => Outcome::Failed {
                    error,
                    kept: prev.map(|p| p.0),
                },
                Err(e) => Outcome::Failed {
                    error: IndexError::Other(e.to_string()),
                    kept: prev.map(|p| p.0),
                },
            }
        }
        Err(error) => Outcome::Failed {
            error,
            kept: prev.map(|p| p.0),
        },
    };
    SourceReport { source, outcome }
}

/// How old a source's cache may get before the TUI refreshes it in the background.
pub const REFRESH_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The sources `project_dir` configures whose cache is older than `max_age` (by the cache
/// file's time): its channel (`index.packagesUrl`) also when it has no cache yet, its nix-env
/// listing only once made (it needs the builder, so it is never started unasked). Empty outside
/// a project or without a cache folder.
pub fn stale_sources(project_dir: &Path, max_age: Duration) -> Vec<SourceKind> {
    let Some(dir) = cache::cache_dir() else {
        return Vec::new();
    };
    stale_sources_in(&dir, project_dir, max_age, std::time::SystemTime::now())
}

fn stale_sources_in(
    cache_dir: &Path,
    project_dir: &Path,
    max_age: Duration,
    now: std::time::SystemTime,
) -> Vec<SourceKind> {
    let Some(config) = read_project_config(project_dir, &mut Vec::new()) else {
        return Vec::new();
    };
    // `None`: no cache file.
    let age = |source: &SourceInfo| {
        let path = cache::cache_path(cache_dir, source);
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| now.duration_since(t).unwrap_or_default())
    };
    let mut out = Vec::new();
    if let Some(url) = &config.index.packages_url {
        if age(&channel_source(url)).is_none_or(|a| a > max_age) {
            out.push(SourceKind::Channel);
        }
    }
    let nixenv = sources::nixenv_source(project_dir, &config.nixpkgs);
    if age(&nixenv).is_some_and(|a| a > max_age) {
        out.push(SourceKind::NixEnv);
    }
    out
}

/// Refreshes every source `project_dir` configures (any folder: without a `config.json` only the
/// bundled names), in order of preference. `notes` receives remarks such as a broken config.
pub async fn update(
    project_dir: &Path,
    only: &[SourceKind],
    notes: &mut Vec<String>,
) -> Vec<SourceReport> {
    let wanted = |k: SourceKind| only.is_empty() || only.contains(&k);
    let mut reports = Vec::new();
    let config = read_project_config(project_dir, notes);
    match config
        .as_ref()
        .and_then(|c| c.index.packages_url.as_deref())
    {
        _ if !wanted(SourceKind::Channel) => {}
        Some(url) => reports.push(update_channel(url).await),
        None => notes.push(
            "no index.packagesUrl in config.json: no channel to download (set it to a channel's \
             packages.json.br URL)"
                .into(),
        ),
    }
    if let Some(config) = config.as_ref().filter(|_| wanted(SourceKind::NixEnv)) {
        reports.push(super::nixenv::update(project_dir, config).await);
    }
    if !wanted(SourceKind::Bundled) {
        return reports;
    }
    let start = Instant::now();
    let bundled = tokio::task::spawn_blocking(|| {
        let mut n = Vec::new();
        sources::load_bundled(&mut n).map(|l| (l.index.len(), n))
    })
    .await;
    let outcome = match bundled {
        Ok(Ok((count, n))) => {
            notes.extend(n);
            Outcome::Loaded {
                count,
                elapsed: start.elapsed(),
            }
        }
        Ok(Err(error)) => Outcome::Failed { error, kept: None },
        Err(e) => Outcome::Failed {
            error: IndexError::Other(e.to_string()),
            kept: None,
        },
    };
    reports.push(SourceReport {
        source: super::bundled::source(),
        outcome,
    });
    reports
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn a_configured_channel_is_stale_when_missing_or_a_day_old_and_nix_env_only_once_made() {
        let project = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let url = "https://channels.invalid/nixos-unstable/packages.json.br";
        std::fs::write(
            project.path().join("config.json"),
            serde_json::json!({
                "baseConfig": "base.nix",
                "userConfig": [],
                "nixpkgs": { "path": "." },
                "index": { "packagesUrl": url }
            })
            .to_string(),
        )
        .unwrap();
        let day = REFRESH_AFTER;
        let now = std::time::SystemTime::now();
        let stale = |now| stale_sources_in(cache.path(), project.path(), day, now);
        // No cache yet: the channel is fetched, nix-env is not started unasked.
        assert_eq!(stale(now), vec![SourceKind::Channel]);
        let channel = cache::cache_path(cache.path(), &channel_source(url));
        let nixenv = cache::cache_path(
            cache.path(),
            &sources::nixenv_source(
                project.path(),
                &crate::config::PackageSetPin::Path { path: ".".into() },
            ),
        );
        std::fs::write(&channel, b"x").unwrap();
        std::fs::write(&nixenv, b"x").unwrap();
        assert!(stale(now).is_empty(), "fresh caches");
        let later = now + day + Duration::from_secs(60);
        assert_eq!(stale(later), vec![SourceKind::Channel, SourceKind::NixEnv]);
        // No project: nothing to refresh.
        let empty = tempfile::tempdir().unwrap();
        assert!(stale_sources_in(cache.path(), empty.path(), day, later).is_empty());
    }
}
