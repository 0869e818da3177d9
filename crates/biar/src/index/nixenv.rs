//! Source 2: `nix-env -qaP --json --meta` over the project's pinned package set, run in a builder
//! container (works offline; the evaluation needs no network for a path pin). Its stdout is
//! streamed into the same JSON visitor as a channel file, on a blocking thread.

use std::path::Path;
use std::time::Instant;

use futures::TryStreamExt;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::cache::{self, CacheMeta};
use super::packages_json::{self, Shape};
use super::sources::nixenv_source;
use super::store::Index;
use super::update::{Outcome, SourceReport};
use super::IndexError;
use crate::config::{Config, Project};
use crate::docker::{connect, BuilderContainer};

/// Lists the project's package set in a fresh builder container.
pub async fn fetch(project_root: &Path, config: &Config) -> Result<Index, IndexError> {
    let err = |e: &dyn std::fmt::Display| IndexError::NixEnv(e.to_string());
    let engine = connect().await.map_err(|e| err(&e))?;
    let container = BuilderContainer::start(&engine, &config.builder, "index")
        .await
        .map_err(|e| err(&e))?;
    let result = list(&container, project_root, config).await;
    container.remove().await;
    result
}

async fn list(
    container: &BuilderContainer,
    project_root: &Path,
    config: &Config,
) -> Result<Index, IndexError> {
    let err = |e: &dyn std::fmt::Display| IndexError::NixEnv(e.to_string());
    let project = Project {
        root: project_root.to_path_buf(),
        config: config.clone(),
    };
    let uploaded = crate::nixbuild::upload_project(container, &project)
        .await
        .map_err(|e| err(&e))?;
    // nix-env -f takes a file: one that imports the package set as nixpkgs is imported.
    let expr = format!("import ({}) {{ }}\n", uploaded.package_set);
    container
        .exec_checked(&[
            "sh",
            "-c",
            "printf %s \"$1\" > /build/biar-index.nix",
            "sh",
            &expr,
        ])
        .await
        .map_err(|e| err(&e))?;
    let mut cmd: Vec<String> = [
        "nix-env",
        "-qaP",
        "--json",
        "--meta",
        "-f",
        "/build/biar-index.nix",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cmd.extend(uploaded.nix_args.iter().cloned());
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let stream = container
        .exec_stream_stdout(&args)
        .map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(Box::pin(stream)));
    let source = nixenv_source(project_root, &config.nixpkgs);
    tokio::task::spawn_blocking(move || {
        let mut entries = Vec::new();
        packages_json::parse(reader, Shape::NixEnv, |e| entries.push(e))
            .map_err(|reason| IndexError::NixEnv(format!("reading nix-env's output: {reason}")))?;
        Ok(Index::from_entries(source, entries).with_aliases())
    })
    .await
    .map_err(|e| err(&e))?
}

/// Refreshes the nix-env index of a project into its cache file.
pub async fn update(project_root: &Path, config: &Config) -> SourceReport {
    let source = nixenv_source(project_root, &config.nixpkgs);
    let Some(dir) = cache::cache_dir() else {
        return SourceReport {
            source,
            outcome: Outcome::Skipped {
                reason: "no cache folder (set XDG_CACHE_HOME or HOME)".into(),
            },
        };
    };
    let path = cache::cache_path(&dir, &source);
    let start = Instant::now();
    let outcome = match fetch(project_root, config).await {
        Ok(index) => {
            let count = index.len();
            let meta = CacheMeta {
                kind: source.kind.clone(),
                origin: source.origin.clone(),
                fetched_unix: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                ..CacheMeta::default()
            };
            match tokio::task::spawn_blocking(move || cache::write(&path, &index, &meta)).await {
                Ok(Ok(())) => Outcome::Loaded {
                    count,
                    elapsed: start.elapsed(),
                },
                Ok(Err(error)) => Outcome::Failed { error, kept: None },
                Err(e) => Outcome::Failed {
                    error: IndexError::Other(e.to_string()),
                    kept: None,
                },
            }
        }
        Err(error) => {
            let kept = tokio::task::spawn_blocking(move || {
                cache::read(&path).ok().flatten().map(|(i, _)| i.len())
            })
            .await
            .ok()
            .flatten();
            Outcome::Failed { error, kept }
        }
    };
    SourceReport { source, outcome }
}

/// The Nix expression behind [`case_matches`]: for each dotted path of the JSON list `paths`,
/// the attribute paths of the package set it names when each segment is an exact attribute
/// name or, failing that, equal to attribute names of its parent set but for ASCII case.
/// `nix-env -qaP` cannot answer this: it leaves out nested sets that are not recursed into
/// (`python312Packages` in the test set), so the sets themselves are asked, segment by segment.
/// An attribute whose value throws (nixpkgs' removed aliases) is passed over (`tryEval`).
fn case_expr(package_set: &str) -> String {
    let upper: Vec<String> = ('A'..='Z').map(|c| format!("\"{c}\"")).collect();
    let lower: Vec<String> = ('a'..='z').map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"{{ paths }}:
let
  pkgs = import ({package_set}) {{ }};
  lower = builtins.replaceStrings [ {upper} ] [ {lower} ];
  names = set: seg:
    if builtins.hasAttr seg set then [ seg ]
    else builtins.filter (n: lower n == lower seg) (builtins.attrNames set);
  walk = value: segs: prefix:
    if segs == [ ] then [ prefix ]
    else if !(builtins.isAttrs value) then [ ]
    else builtins.concatMap (n:
      let r = builtins.tryEval value.${{n}}; in
      if r.success then walk r.value (builtins.tail segs) (if prefix == "" then n else prefix + "." + n)
      else [ ])
      (names value (builtins.head segs));
  split = p: builtins.filter builtins.isString (builtins.split "[.]" p);
in map (p: walk pkgs (split p) "") (builtins.fromJSON paths)
"#,
        upper = upper.join(" "),
        lower = lower.join(" "),
    )
}

/// For each of `paths` (dotted attribute paths, already checked to be plain identifiers), the
/// attribute paths of the project's package set it names, ignoring ASCII case where no exact
/// attribute exists (`python312packages.numpy` → `python312Packages.numpy`); several when the
/// case is ambiguous, none when nothing matches. Evaluated in a fresh builder container.
pub async fn case_matches(
    project_root: &Path,
    config: &Config,
    paths: &[String],
) -> Result<Vec<Vec<String>>, IndexError> {
    let err = |e: &dyn std::fmt::Display| IndexError::NixEnv(e.to_string());
    let engine = connect().await.map_err(|e| err(&e))?;
    let container = BuilderContainer::start(&engine, &config.builder, "names")
        .await
        .map_err(|e| err(&e))?;
    let result = async {
        let project = Project {
            root: project_root.to_path_buf(),
            config: config.clone(),
        };
        let uploaded = crate::nixbuild::upload_project(&container, &project)
            .await
            .map_err(|e| err(&e))?;
        container
            .exec_checked(&[
                "sh",
                "-c",
                "printf %s \"$1\" > /build/biar-names.nix",
                "sh",
                &case_expr(&uploaded.package_set),
            ])
            .await
            .map_err(|e| err(&e))?;
        let json = serde_json::to_string(paths).map_err(|e| err(&e))?;
        let mut cmd: Vec<String> = [
            "nix-instantiate",
            "--eval",
            "--strict",
            "--json",
            "/build/biar-names.nix",
            "--argstr",
            "paths",
            &json,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cmd.extend(uploaded.nix_args.iter().cloned());
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let out = container.exec_checked(&args).await.map_err(|e| err(&e))?;
        let found: Vec<Vec<String>> = serde_json::from_slice(&out)
            .map_err(|e| IndexError::NixEnv(format!("reading nix-instantiate's output: {e}")))?;
        if found.len() != paths.len() {
            return Err(IndexError::NixEnv(
                "nix-instantiate answered for other names than asked".into(),
            ));
        }
        Ok(found)
    }
    .await;
    container.remove().await;
    result
}
