//! Reading what a repository holds beyond manifests: its tags, and small blobs (an image's config)
//! read whole and checked against their digest.

use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;

use super::authorize::Scope;
use super::{Client, RegistryError};
use crate::oci::sha256_digest;

/// Tags listed per request (registries page the list; the `Link` header is not needed for ours).
const TAGS_PAGE: usize = 1000;

impl Client {
    /// The tags of `repository` (at most the first 1000); none when the repository does not exist.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let path = format!("/v2/{repository}/tags/list?n={TAGS_PAGE}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || self.http.get(url.clone()))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !resp.status().is_success() {
            return Err(self.error(resp, "GET", &path, Some(repository)).await);
        }
        let tags: Tags = resp.json().await.map_err(|e| self.unreachable(&path, e))?;
        Ok(tags.tags.unwrap_or_default())
    }

    /// A blob of at most `max` bytes, read whole; an error if it is larger or its bytes do not
    /// hash to `digest`.
    pub async fn small_blob(
        &self,
        repository: &str,
        digest: &str,
        max: u64,
    ) -> Result<Bytes, RegistryError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || self.http.get(url.clone()))
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(resp, "GET", &path, Some(repository)).await);
        }
        let too_large = || RegistryError::Api {
            registry: self.host.clone(),
            method: "GET".into(),
            path: path.clone(),
            status: 200,
            detail: format!(": the blob is larger than the {max} bytes expected"),
        };
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&path, e))?;
        if bytes.len() as u64 > max {
            return Err(too_large());
        }
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                digest: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}
