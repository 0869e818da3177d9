//! Blobs: HEAD, cross-repository mount, and the streamed upload with its watchdog (a registry
//! that stops taking bytes, or never answers after the last one, is reported as not answering).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode, Url};

use super::authorize::Scope;
use super::classify::error_chain;
use super::http::{content_length, follow};
use super::{Client, RegistryError};
use crate::oci::{ByteStream, DigestMismatchError};

/// After a blob's last byte the registry stores it (on some backends a copy of the whole blob):
/// it gets this many answer timeouts for that.
const COMMIT_TIMEOUTS: u32 = 10;

/// The answer to a mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob is now in the repository; nothing to send.
    Mounted,
    /// The registry could not mount it and opened an upload session at this URL instead.
    Upload(Url),
}

impl Client {
    /// HEAD a blob: its size if the repository has it.
    pub async fn blob_exists(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<u64>, RegistryError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::pull(repository), || self.http.head(url.clone()))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(content_length(&resp).unwrap_or(0))),
            _ => Err(self.error(resp, "HEAD", &path, Some(repository)).await),
        }
    }

    /// Asks the registry to link `digest` from repository `from` into `repository`.
    pub async fn mount_blob(
        &self,
        repository: &str,
        digest: &str,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let path = format!("/v2/{repository}/blobs/uploads/");
        let mut url = self.url(&path);
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let resp = self
            .send(&Scope::mount(repository, from), || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(&resp, &path)?)),
            _ => Err(self.error(resp, "POST", &path, Some(repository)).await),
        }
    }

    /// Opens an upload session; the URL to PUT the blob to.
    pub async fn start_upload(&self, repository: &str) -> Result<Url, RegistryError> {
        let path = format!("/v2/{repository}/blobs/uploads/");
        let url = self.url(&path);
        let resp = self
            .send(&Scope::push(repository), || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.error(resp, "POST", &path, Some(repository)).await);
        }
        self.location(&resp, &path)
    }

    /// Abandons an upload session (best effort: the registry purges stale ones anyway).
    pub async fn cancel_upload(&self, repository: &str, session: Url) {
        if let Ok(rb) = self
            .authorize(self.http.delete(session), &Scope::push(repository))
            .await
        {
            let _ = self.send_raw(rb).await;
        }
    }

    /// Sends a whole blob in one streamed PUT to an upload session (monolithic upload: the body
    /// is never held in memory). `size` must be exact.
    pub async fn finish_upload(
        &self,
        repository: &str,
        session: Url,
        digest: &str,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let mut url = session;
        url.query_pairs_mut().append_pair("digest", digest);
        let path = url.path().to_string();
        let progress = Arc::new(UploadProgress::new());
        let body = Watched {
            inner: body,
            progress: progress.clone(),
        };
        // The POST before this one settled the auth, so the streamed body needs no retry.
        let rb = self
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        let rb = self.authorize(rb, &Scope::push(repository)).await?;
        let (http, req) = rb.build_split();
        let req = req.map_err(|e| self.interrupted(digest, e))?;
        // No overall timeout (a large layer takes as long as it takes): a watchdog notices a
        // registry that stops taking bytes or never answers.
        let resp = self
            .watch_upload(follow(&http, req, &self.base), &progress, &path)
            .await?
            .map_err(|e| self.interrupted(digest, e))?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.error(resp, "PUT", &path, Some(repository)).await);
        }
        Ok(())
    }

    /// Uploads a blob: a session, then one streamed PUT.
    pub async fn upload_blob(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let session = self.start_upload(repository).await?;
        self.finish_upload(repository, session, digest, size, body)
            .await
    }

    /// Runs a streamed upload, failing with `NoAnswer` when the registry stops taking bytes, or
    /// gets them all but does not answer (given longer: storing a blob may copy it).
    async fn watch_upload(
        &self,
        send: impl std::future::Future<Output = Result<Response, reqwest::Error>>,
        progress: &UploadProgress,
        path: &str,
    ) -> Result<Result<Response, reqwest::Error>, RegistryError> {
        let tick = (self.answer_timeout / 4).min(Duration::from_secs(1));
        let mut send = std::pin::pin!(send);
        loop {
            tokio::select! {
                r = &mut send => return Ok(r),
                _ = tokio::time::sleep(tick) => {
                    if let Some(waited) = progress.stalled(self.answer_timeout) {
                        return Err(RegistryError::NoAnswer {
                            registry: self.host.clone(),
                            request: path.to_string(),
                            seconds: waited.as_secs(),
                        });
                    }
                }
            }
        }
    }

    fn location(&self, resp: &Response, path: &str) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .ok_or_else(|| RegistryError::Api {
                registry: self.host.clone(),
                method: "POST".into(),
                path: path.to_string(),
                status: resp.status().as_u16(),
                detail: ": no Location header for the upload session".into(),
            })?;
        // Relative locations are resolved against the registry.
        self.base.join(loc).map_err(|e| RegistryError::Api {
            registry: self.host.clone(),
            method: "POST".into(),
            path: path.to_string(),
            status: resp.status().as_u16(),
            detail: format!(": bad Location `{loc}`: {e}"),
        })
    }

    fn interrupted(&self, digest: &str, e: reqwest::Error) -> RegistryError {
        // A body error is our own stream failing (the layer source, or a digest check).
        let chain = error_chain(&e);
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if let Some(inner) = io.get_ref() {
                    if let Some(m) = inner.downcast_ref::<DigestMismatchError>() {
                        return RegistryError::DigestMismatch {
                            digest: digest.to_string(),
                            actual: m.0.clone(),
                        };
                    }
                }
                return RegistryError::Source {
                    digest: digest.to_string(),
                    reason: io.to_string(),
                };
            }
            source = s.source();
        }
        RegistryError::Interrupted {
            registry: self.host.clone(),
            what: format!("blob {digest}"),
            reason: chain,
        }
    }
}

/// When an upload last moved: reqwest asking the body for more means the registry took what it
/// had; a body that is itself waiting (a slow layer source) is not the registry's fault.
struct UploadProgress {
    start: Instant,
    /// Milliseconds after `start` of the last time the body was asked for bytes.
    last_ms: AtomicU64,
    /// 0: the body handed out a chunk (the registry's turn), 1: the body is waiting for its
    /// source, 2: the body is all sent (the registry's turn to answer).
    state: std::sync::atomic::AtomicU8,
}

impl UploadProgress {
    fn new() -> UploadProgress {
        UploadProgress {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            state: std::sync::atomic::AtomicU8::new(0),
        }
    }

    fn polled(&self, state: u8) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::SeqCst);
        self.state.store(state, Ordering::SeqCst);
    }

    /// How long the registry has kept us waiting, if longer than it may.
    fn stalled(&self, limit: Duration) -> Option<Duration> {
        let limit = match self.state.load(Ordering::SeqCst) {
            1 => return None,
            2 => limit * COMMIT_TIMEOUTS,
            _ => limit,
        };
        let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
        let waited = self.start.elapsed().saturating_sub(last);
        (waited > limit).then_some(waited)
    }
}

/// An upload body that tells its [`UploadProgress`] each time it is asked for bytes.
struct Watched {
    inner: ByteStream,
    progress: Arc<UploadProgress>,
}

impl Stream for Watched {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let poll = self.inner.as_mut().poll_next(cx);
        let state = match &poll {
            std::task::Poll::Ready(Some(_)) => 0,
            std::task::Poll::Pending => 1,
            std::task::Poll::Ready(None) => 2,
        };
        self.progress.polled(state);
        poll
    }
}
