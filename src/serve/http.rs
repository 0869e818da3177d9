//! The read side of the OCI distribution API over hyper: `GET /v2/`, `GET|HEAD` manifests by tag
//! or digest, `GET|HEAD` blobs (with a single `Range`), OCI error bodies, and the start page.
//! Blobs stream from their files in chunks; a request that fails, even by a panic, ends only its
//! own connection.

use std::convert::Infallible;
use std::io::SeekFrom;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::builds::{Failure, Lookup, Server};
use super::names::{self, NameError};
use super::print::say;

type Body = BoxBody<Bytes, std::io::Error>;

/// Manifests are small: one larger than this in storage is not served as one.
const MAX_MANIFEST: u64 = 4 << 20;
/// Read size of blob files.
const CHUNK: usize = 256 << 10;

pub async fn serve(listener: tokio::net::TcpListener, server: Arc<Server>) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin or stop.
                say(&format!("accepting a connection: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(handle(&server, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(server: &Arc<Server>, req: Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let mut response = route(server, &req).await;
    response.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    if head {
        // Headers (Content-Length included) as for GET, no body.
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, empty());
    }
    response
}

async fn route(server: &Arc<Server>, req: &Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return error(&Failure::new(
            405,
            "UNSUPPORTED",
            "this registry only serves pulls (GET and HEAD)",
        ));
    }
    if path == "/" {
        let html = super::page::render(server);
        return bytes_response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from(html),
        );
    }
    if path == "/v2" || path == "/v2/" {
        return bytes_response(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(b"{}"),
        );
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return error(&Failure::new(
            404,
            "NAME_UNKNOWN",
            "not a registry path: try /v2/NAME/manifests/latest",
        ));
    };
    let mut parts = rest.rsplitn(3, '/');
    let (Some(reference), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return error(&Failure::new(404, "NAME_UNKNOWN", "not a registry path"));
    };
    match kind {
        "manifests" => manifest(server, name, reference).await,
        "blobs" => blob(server, reference, req.headers().get(header::RANGE)).await,
        // skopeo inspect lists the tags: every name has the server's package sets as tags.
        "tags" if reference == "list" => match names::parse(name) {
            Ok(_) => {
                let tags: Vec<&str> = server
                    .settings
                    .pins
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect();
                let body = serde_json::json!({ "name": name, "tags": tags });
                let bytes = Bytes::from(serde_json::to_vec(&body).expect("JSON serialises"));
                bytes_response(StatusCode::OK, "application/json", bytes)
            }
            Err(e) => error(&Failure::new(400, "NAME_INVALID", e.to_string())),
        },
        _ => error(&Failure::new(404, "NAME_UNKNOWN", "not a registry path")),
    }
}

async fn manifest(server: &Arc<Server>, name: &str, reference: &str) -> Response<Body> {
    if reference.starts_with("sha256:") {
        return manifest_by_digest(server, reference).await;
    }
    if biar::registry::validate_tag(reference).is_err() {
        return error(&Failure::new(400, "TAG_INVALID", "not a tag"));
    }
    let image = match names::parse(name) {
        Ok(n) => n,
        Err(e @ NameError::UnknownPreset { .. }) => {
            return error(&Failure::new(404, "NAME_UNKNOWN", e.to_string()))
        }
        Err(e) => return error(&Failure::new(400, "NAME_INVALID", e.to_string())),
    };
    match server.image(&image, reference).await {
        Lookup::Ready(stored) => manifest_by_digest(server, &stored.manifest.digest).await,
        Lookup::Failed(f) => error(&f),
        Lookup::Building(display) => {
            let mut r = error(&Failure::new(
                429,
                "TOOMANYREQUESTS",
                format!("{display} is still being built on the server: pull again in a minute"),
            ));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            r
        }
    }
}

async fn manifest_by_digest(server: &Server, digest: &str) -> Response<Body> {
    let unknown = || {
        error(&Failure::new(
            404,
            "MANIFEST_UNKNOWN",
            format!("no manifest {digest}"),
        ))
    };
    let Some(path) = server.storage.blobs().path_of(digest) else {
        return error(&Failure::new(400, "DIGEST_INVALID", "not a sha256 digest"));
    };
    let read = async {
        let file = tokio::fs::File::open(&path).await?;
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST + 1).read_to_end(&mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let Ok(bytes) = read.await else {
        return unknown();
    };
    if bytes.len() as u64 > MAX_MANIFEST {
        return unknown();
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shape {
        media_type: Option<String>,
        layers: Option<serde_json::Value>,
    }
    let Ok(shape) = serde_json::from_slice::<Shape>(&bytes) else {
        return unknown();
    };
    let (Some(media_type), Some(_)) = (shape.media_type, shape.layers) else {
        return unknown();
    };
    let Ok(content_type) = HeaderValue::from_str(&media_type) else {
        return unknown();
    };
    let len = bytes.len() as u64;
    let mut r = Response::new(full(Bytes::from(bytes)));
    set_len_digest(&mut r, Some(len), digest);
    r.headers_mut().insert(header::CONTENT_TYPE, content_type);
    r
}

async fn blob(server: &Server, digest: &str, range: Option<&HeaderValue>) -> Response<Body> {
    let Some(path) = server.storage.blobs().path_of(digest) else {
        return error(&Failure::new(400, "DIGEST_INVALID", "not a sha256 digest"));
    };
    if let Some(remote) = server.storage.remote_of(digest) {
        // `scheme://host/repository` → the registry's own blob URL.
        if let Some((scheme, rest)) = remote.split_once("://") {
            if let Some((host, repository)) = rest.split_once('/') {
                let url = format!("{scheme}://{host}/v2/{repository}/blobs/{digest}");
                if let Ok(location) = HeaderValue::from_str(&url) {
                    let mut r = Response::new(empty());
                    *r.status_mut() = StatusCode::TEMPORARY_REDIRECT;
                    r.headers_mut().insert(header::LOCATION, location);
                    r.headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                    return r;
                }
            }
        }
    }
    let opened = async {
        let file = tokio::fs::File::open(&path).await?;
        let size = file.metadata().await?.len();
        Ok::<_, std::io::Error>((file, size))
    };
    let Ok((mut file, size)) = opened.await else {
        return error(&Failure::new(
            404,
            "BLOB_UNKNOWN",
            format!("no blob {digest}"),
        ));
    };
    let wanted = match range.map(|v| parse_range(v.to_str().unwrap_or(""), size)) {
        None | Some(RangeAsk::Ignore) => None,
        Some(RangeAsk::Bytes(start, end)) => Some((start, end)),
        Some(RangeAsk::Unsatisfiable) => {
            let mut r = error(&Failure::new(416, "BLOB_UNKNOWN", "range not satisfiable"));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let (start, len) = match wanted {
        Some((s, e)) => (s, e - s + 1),
        None => (0, size),
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
        return error(&Failure::new(500, "UNKNOWN", "reading the blob"));
    }
    let stream =
        tokio_util::io::ReaderStream::with_capacity(file.take(len), CHUNK).map_ok(Frame::data);
    let mut r = Response::new(BoxBody::new(StreamBody::new(stream)));
    set_len_digest(&mut r, Some(len), digest);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((s, e)) = wanted {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {s}-{e}/{size}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// Not a single byte range we understand: the whole blob.
    Ignore,
    /// First and last byte, inclusive.
    Bytes(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`) of a blob of `size` bytes.
fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Ignore;
    };
    if spec.contains(',') {
        return RangeAsk::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        (false, false) => match (number(a), number(b)) {
            (Some(s), Some(e)) if s <= e => (s, e.min(size.saturating_sub(1))),
            _ => return RangeAsk::Ignore,
        },
        (false, true) => match number(a) {
            Some(s) => (s, size.saturating_sub(1)),
            None => return RangeAsk::Ignore,
        },
        (true, false) => match number(b) {
            Some(0) => return RangeAsk::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            None => return RangeAsk::Ignore,
        },
        (true, true) => return RangeAsk::Ignore,
    };
    if size == 0 || start >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Bytes(start, end)
}

fn set_len_digest(r: &mut Response<Body>, len: Option<u64>, digest: &str) {
    // Explicit, so a HEAD (whose body is dropped) still says the length.
    if let Some(len) = len {
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Ok(v) = HeaderValue::from_str(digest) {
        r.headers_mut().insert("Docker-Content-Digest", v);
    }
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn bytes_response(status: StatusCode, content_type: &'static str, bytes: Bytes) -> Response<Body> {
    let len = bytes.len() as u64;
    let mut r = Response::new(full(bytes));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// An OCI error body: `{"errors":[{"code","message","detail"}]}`.
fn error(f: &Failure) -> Response<Body> {
    let body = serde_json::json!({
        "errors": [{ "code": f.code, "message": f.message, "detail": null }]
    });
    let bytes = Bytes::from(serde_json::to_vec(&body).expect("JSON serialises"));
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    bytes_response(status, "application/json", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsk::Bytes(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsk::Bytes(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsk::Bytes(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAsk::Bytes(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=x-", 100), RangeAsk::Ignore);
    }
}
