//! The identity of an environment: image name from the base configuration, tag from the user's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `name:tag`, both valid as a registry repository and tag. The registry host is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    pub name: String,
    pub tag: String,
}

impl ImageRef {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The repository path in a registry: `host/namespace/name` (no tag).
    pub fn repository_in(&self, host: &str, namespace: &str) -> String {
        let namespace = namespace.trim_matches('/');
        if namespace.is_empty() {
            format!("{host}/{}", self.name)
        } else {
            format!("{host}/{namespace}/{}", self.name)
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}
