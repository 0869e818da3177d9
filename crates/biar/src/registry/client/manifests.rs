//! Manifests: HEAD, GET and PUT by tag or digest, OCI and Docker schema 2 alike.

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;

use super::authorize::Scope;
use super::http::header;
use super::{Client, RegistryError};
use crate::oci::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

fn manifest_accept() -> String {
    [
        OCI_MANIFEST,
        DOCKER_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
    ]
    .join(", ")
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Option<String>,
}

impl Client {
    /// HEAD a manifest: its digest (empty if the registry did not say) if the tag exists.
    pub async fn manifest_exists(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || {
                self.http
                    .head(url.clone())
                    .header(ACCEPT, manifest_accept())
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                header(&resp, "docker-content-digest").unwrap_or_default(),
            )),
            _ => Err(self.error(resp, "HEAD", &path, Some(repository)).await),
        }
    }

    /// GET a manifest (OCI or Docker schema 2); `ManifestUnknown` if the tag does not exist.
    pub async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || {
                self.http.get(url.clone()).header(ACCEPT, manifest_accept())
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestUnknown {
                registry: self.host.clone(),
                repository: repository.to_string(),
                tag: reference.to_string(),
            });
        }
        if !resp.status().is_success() {
            return Err(self.error(resp, "GET", &path, Some(repository)).await);
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let digest = header(&resp, "docker-content-digest");
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&path, e))?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// PUT a manifest under `reference` (a tag); returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::push(repository), || {
                self.http
                    .put(url.clone())
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.error(resp, "PUT", &path, Some(repository)).await);
        }
        Ok(header(&resp, "docker-content-digest").unwrap_or_default())
    }
}
