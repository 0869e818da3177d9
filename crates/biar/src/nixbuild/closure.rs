//! The closure graph of a build: every store path with its NAR size and references.
//!
//! Serialised in Nix's `exportReferencesGraph` JSON shape (an array of
//! `{path, narSize, narHash, closureSize, references}`, each `references` including the path
//! itself), so recorded real graphs (`shared/data/closure-*.json`) load as they are.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorePathInfo {
    /// `/nix/store/<hash>-<name>`.
    pub path: String,
    pub nar_size: u64,
    /// `sha256:<nix base32>` as Nix prints it.
    #[serde(default)]
    pub nar_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure_size: Option<u64>,
    /// Store paths this one references (may include itself).
    #[serde(default)]
    pub references: Vec<String>,
}

/// The environment's closure: `roots` are the paths the build produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosureGraph {
    pub roots: Vec<String>,
    pub paths: Vec<StorePathInfo>,
}

impl ClosureGraph {
    /// Reads the `exportReferencesGraph` array form; roots are the paths nothing else references.
    pub fn from_export_json(json: &str) -> Result<ClosureGraph, serde_json::Error> {
        let paths: Vec<StorePathInfo> = serde_json::from_str(json)?;
        let referenced: std::collections::HashSet<&str> = paths
            .iter()
            .flat_map(|p| {
                p.references
                    .iter()
                    .filter(move |r| **r != p.path)
                    .map(String::as_str)
            })
            .collect();
        let mut roots: Vec<String> = paths
            .iter()
            .filter(|p| !referenced.contains(p.path.as_str()))
            .map(|p| p.path.clone())
            .collect();
        roots.sort();
        Ok(ClosureGraph { roots, paths })
    }

    pub fn total_nar_size(&self) -> u64 {
        self.paths.iter().map(|p| p.nar_size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_json_roots_are_the_unreferenced_paths() {
        let json = r#"[
          {"path": "/nix/store/a-app", "narSize": 10, "references": ["/nix/store/a-app", "/nix/store/b-lib"]},
          {"path": "/nix/store/b-lib", "narSize": 5, "references": ["/nix/store/b-lib"]}
        ]"#;
        let graph = ClosureGraph::from_export_json(json).unwrap();
        assert_eq!(graph.roots, vec!["/nix/store/a-app".to_string()]);
        assert_eq!(graph.total_nar_size(), 15);
    }
}
