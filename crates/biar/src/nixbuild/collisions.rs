//! Collisions said, not hidden: every file two packages of the environment provide.
//!
//! The generated expression builds nixpkgs' `buildEnv` with `ignoreCollisions` (so a collision
//! never fails a build the user cannot fix at once) and traces, at evaluation, each package with
//! its store path, the configuration file it comes from and its `meta.priority`
//! (`trace: biar-origins [...]`). After the build, the packages' files are listed in the builder
//! and compared the way `buildEnv` resolves them: the lowest priority number wins (`lib.hiPrio`
//! declares a winner, and a declared winner is no collision), among equals the first package in
//! configuration order wins; files with the same contents are no collision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BuildError;
use crate::docker::BuilderContainer;

/// What the trace line starts with (after Nix's `trace: `).
const ORIGINS_TAG: &str = "biar-origins ";

/// A package of the composed environment, as the expression traced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The configuration file naming it (relative to the project).
    pub file: String,
    /// The derivation's name (`vim-9.1.0`).
    pub name: String,
    /// Its store path.
    pub path: String,
    /// `meta.priority` (nixpkgs' default 5; `lib.hiPrio` gives -10).
    pub priority: i64,
}

pub use crate::progress::{describe_collision as describe, Provider};

/// One file of the environment that several packages provide, with different contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collision {
    /// The file, relative to the environment (`bin/vi`).
    pub file: String,
    /// The package whose file the environment has (first in configuration order).
    pub winner: Provider,
    /// The packages whose file was left out.
    pub others: Vec<Provider>,
}

/// The origins from one line of Nix's stderr (`@nix {"action":"msg",…,"msg":"trace: biar-origins
/// […]"}` or a plain `trace: …` line), or `None` for every other line.
pub fn origins_from_line(line: &str) -> Option<Vec<Origin>> {
    let msg = if let Some(json) = line.strip_prefix("@nix ") {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        value.get("msg")?.as_str()?.to_string()
    } else {
        line.to_string()
    };
    let rest = msg.trim_start().strip_prefix("trace: ")?;
    let json = rest.strip_prefix(ORIGINS_TAG)?;
    serde_json::from_str(json).ok()
}

/// The candidate collisions from each package's file list (paths relative to the package), before
/// contents are compared: for each file several packages have, the packages of the best
/// (lowest) priority, in configuration order, when there are two or more of them.
pub fn candidates(listings: &[(Origin, Vec<String>)]) -> BTreeMap<String, Vec<usize>> {
    let mut by_file: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (_, files)) in listings.iter().enumerate() {
        for f in files {
            by_file.entry(f.clone()).or_default().push(i);
        }
    }
    by_file
        .into_iter()
        .filter_map(|(file, owners)| {
            let best = owners.iter().map(|&i| listings[i].0.priority).min()?;
            let mut top: Vec<usize> = owners
                .into_iter()
                .filter(|&i| listings[i].0.priority == best)
                .collect();
            // The same store path named twice is one package.
            top.dedup_by(|a, b| listings[*a].0.path == listings[*b].0.path);
            (top.len() > 1).then_some((file, top))
        })
        .collect()
}

/// Lists the packages' files in `container` and returns every real collision.
pub async fn find(
    container: &BuilderContainer,
    origins: &[Origin],
) -> Result<Vec<Collision>, BuildError> {
    // Each distinct store path once, in configuration order.
    let mut packages: Vec<Origin> = Vec::new();
    for o in origins {
        if is_store_path(&o.path) && !packages.iter().any(|p| p.path == o.path) {
            packages.push(o.clone());
        }
    }
    if packages.len() < 2 {
        return Ok(Vec::new());
    }
    let mut args = vec!["find".to_string()];
    args.extend(packages.iter().map(|p| p.path.clone()));
    args.extend(["-mindepth", "1", "!", "-type", "d"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let listed = container.exec_output(&argv).await?;
    let text = String::from_utf8_lossy(&listed.stdout);
    let mut listings: Vec<(Origin, Vec<String>)> =
        packages.iter().map(|p| (p.clone(), Vec::new())).collect();
    for line in text.lines() {
        if let Some((i, rel)) = packages.iter().enumerate().find_map(|(i, p)| {
            line.strip_prefix(&p.path)
                .and_then(|r| r.strip_prefix('/'))
                .map(|r| (i, r))
        }) {
            listings[i].1.push(rel.to_string());
        }
    }
    let candidates = candidates(&listings);
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Same contents are no collision (as `buildEnv` checks): one digest per file, links
    // followed.
    let mut files: Vec<String> = Vec::new();
    for (file, owners) in &candidates {
        for &i in owners {
            files.push(format!("{}/{file}", listings[i].0.path));
        }
    }
    let digests = digests(container, &files).await?;
    let mut out = Vec::new();
    for (file, owners) in candidates {
        let digest_of = |i: usize| digests.get(&format!("{}/{file}", listings[i].0.path));
        let winner = owners[0];
        let others: Vec<Provider> = owners[1..]
            .iter()
            .filter(|&&i| digest_of(i).is_none() || digest_of(i) != digest_of(winner))
            .map(|&i| provider(&listings[i].0))
            .collect();
        if !others.is_empty() {
            out.push(Collision {
                file,
                winner: provider(&listings[winner].0),
                others,
            });
        }
    }
    Ok(out)
}

fn provider(o: &Origin) -> Provider {
    Provider {
        name: o.name.clone(),
        from: o.file.clone(),
    }
}

/// The sha256 of each file's contents (links followed), by path, from `nix-hash --flat` (which
/// every builder has); files it cannot read (a dangling link) are left out.
async fn digests(
    container: &BuilderContainer,
    files: &[String],
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut out = BTreeMap::new();
    for chunk in files.chunks(500) {
        let mut argv = vec!["nix-hash", "--flat", "--type", "sha256"];
        argv.extend(chunk.iter().map(String::as_str));
        let result = container.exec_output(&argv).await?;
        let hashes: Vec<String> = String::from_utf8_lossy(&result.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if result.exit_code == 0 && hashes.len() == chunk.len() {
            out.extend(chunk.iter().cloned().zip(hashes));
            continue;
        }
        // One unreadable file fails the whole call: ask file by file.
        for file in chunk {
            let one = container
                .exec_output(&["nix-hash", "--flat", "--type", "sha256", file])
                .await?;
            if one.exit_code == 0 {
                if let Some(h) = String::from_utf8_lossy(&one.stdout).lines().next() {
                    out.insert(file.clone(), h.to_string());
                }
            }
        }
    }
    Ok(out)
}

fn is_store_path(p: &str) -> bool {
    p.strip_prefix("/nix/store/").is_some_and(|rest| {
        !rest.is_empty()
            && !rest.contains('/')
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(name: &str, file: &str, priority: i64) -> Origin {
        Origin {
            file: file.into(),
            name: name.into(),
            path: format!("/nix/store/aaaa-{name}"),
            priority,
        }
    }

    #[test]
    fn the_trace_line_gives_the_origins() {
        let line = r#"@nix {"action":"msg","level":0,"msg":"trace: biar-origins [{\"file\":\"user.nix\",\"name\":\"vim-9.1.0\",\"path\":\"/nix/store/aaaa-vim-9.1.0\",\"priority\":5}]"}"#;
        assert_eq!(
            origins_from_line(line).unwrap(),
            [origin("vim-9.1.0", "user.nix", 5)]
        );
        assert!(
            origins_from_line(r#"@nix {"action":"msg","level":0,"msg":"trace: hello"}"#).is_none()
        );
        assert!(origins_from_line("building foo").is_none());
    }

    #[test]
    fn equal_priorities_collide_and_a_declared_winner_silences() {
        let listings = vec![
            (
                origin("vim", "presets/shell.nix", 5),
                vec!["bin/vi".into(), "bin/vim".into()],
            ),
            (origin("nvi", "user.nix", 5), vec!["bin/vi".into()]),
        ];
        let c = candidates(&listings);
        assert_eq!(c.len(), 1);
        assert_eq!(c["bin/vi"], [0, 1]);

        let declared = vec![
            (origin("vim", "presets/shell.nix", 5), vec!["bin/vi".into()]),
            (origin("nvi", "user.nix", -10), vec!["bin/vi".into()]),
        ];
        assert!(candidates(&declared).is_empty());
    }

    #[test]
    fn only_store_paths_are_listed() {
        assert!(is_store_path("/nix/store/abc-vim-9.1.0"));
        assert!(!is_store_path("/nix/store/abc/../etc"));
        assert!(!is_store_path("/etc/passwd"));
        assert!(!is_store_path("/nix/store/a b"));
    }
}
