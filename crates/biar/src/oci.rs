//! OCI vocabulary shared by the image builder and the registry client: media types, content
//! descriptors, the image manifest, `sha256:` digests, and a byte stream checked against its
//! digest while it flows.

use std::pin::Pin;

use bytes::Bytes;
use futures::{stream, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A stream of a blob's bytes; an `Err` aborts the upload (nothing is stored for that blob).
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Manifest media types we send and accept.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Media types of the blobs an image is made of.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A content-addressed blob: what a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    /// The descriptor of bytes held in memory (configs, manifests).
    pub fn of_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The OCI image manifest (schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl ImageManifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST.to_string(),
            config,
            layers,
        }
    }

    /// The canonical bytes (serde's field order, no whitespace): same image, same digest.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("manifest serializes"))
    }
}

/// What to push: the config (small, in memory) and the layers (opened on demand).
#[derive(Debug, Clone)]
pub struct PushImage {
    pub config: Bytes,
    pub layers: Vec<Descriptor>,
}

impl PushImage {
    pub fn config_descriptor(&self) -> Descriptor {
        Descriptor::of_bytes(OCI_CONFIG, &self.config)
    }

    pub fn manifest(&self) -> ImageManifest {
        ImageManifest::new(self.config_descriptor(), self.layers.clone())
    }
}

/// Hashes the bytes as they pass; a wrong digest or size ends the stream with an error, so the
/// registry never commits the blob.
pub fn verify_digest(body: ByteStream, digest: String, size: u64) -> ByteStream {
    let state = (body, Some(Sha256::new()), 0u64, digest, size);
    Box::pin(stream::unfold(
        state,
        |(mut body, hasher, seen, digest, size)| async move {
            let mut hasher = hasher?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    let seen = seen + chunk.len() as u64;
                    if seen > size {
                        let err = std::io::Error::other(format!(
                            "the layer is longer than its recorded size {size}"
                        ));
                        return Some((Err(err), (body, None, seen, digest, size)));
                    }
                    Some((Ok(chunk), (body, Some(hasher), seen, digest, size)))
                }
                Some(Err(e)) => Some((Err(e), (body, None, seen, digest, size))),
                None => {
                    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
                    if actual != digest || seen != size {
                        let err = std::io::Error::other(DigestMismatchError(actual));
                        Some((Err(err), (body, None, seen, digest, size)))
                    } else {
                        None
                    }
                }
            }
        },
    ))
}

/// Marks an upload stream that ended with bytes of another digest (see [`verify_digest`]).
#[derive(Debug)]
pub struct DigestMismatchError(pub String);

impl std::fmt::Display for DigestMismatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the bytes sent hash to {}", self.0)
    }
}

impl std::error::Error for DigestMismatchError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<std::io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(stream::iter(v))
    }

    #[tokio::test]
    async fn verify_passes_matching_bytes() {
        let d = sha256_digest(b"hello world");
        let out: Vec<_> = verify_digest(chunks(&[b"hello ", b"world"]), d, 11)
            .collect()
            .await;
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn verify_fails_on_other_bytes() {
        let d = sha256_digest(b"hello world");
        let out: Vec<_> = verify_digest(chunks(&[b"hello ", b"there"]), d, 11)
            .collect()
            .await;
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.to_string().contains("hash to sha256:"), "{last}");
    }

    #[test]
    fn manifest_is_canonical() {
        let img = PushImage {
            config: Bytes::from_static(b"{}"),
            layers: vec![Descriptor {
                media_type: OCI_LAYER_TAR.into(),
                digest: "sha256:00".into(),
                size: 1,
            }],
        };
        let text = String::from_utf8(img.manifest().to_bytes().to_vec()).unwrap();
        assert_eq!(
            text,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:00","size":1}]}"#
        );
    }
}
