//! Source 1: a channel's `packages.json` (brotli `.br`, xz `.xz` or plain) over HTTP.
//!
//! The request carries the previous fetch's `ETag` / `Last-Modified`, so an unchanged channel
//! answers 304 and nothing is downloaded. The body is decompressed and parsed while it arrives
//! (reqwest's byte stream → a blocking reader on a `spawn_blocking` thread → decoder → JSON
//! visitor), so neither the compressed nor the decompressed file is ever held whole.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use futures::TryStreamExt;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::cache::CacheMeta;
use super::packages_json::{self, Shape};
use super::sources::channel_source;
use super::store::Index;
use super::IndexError;

/// What a fetch brought.
pub enum Fetched {
    /// The server said 304: the cached index is current.
    NotModified,
    /// A new index and the validators to send next time.
    New(Box<Index>, CacheMeta),
}

const XZ_MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0];

/// Fetches and parses `url`, sending `previous`'s validators.
pub async fn fetch(url: &str, previous: Option<&CacheMeta>) -> Result<Fetched, IndexError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| IndexError::BadUrl { url: url.into() })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(IndexError::BadUrl { url: url.into() });
    }
    let http = |e: reqwest::Error| IndexError::Http {
        url: url.to_string(),
        reason: error_chain(&e.without_url()),
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("biar-tui/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(http)?;
    let mut req = client.get(parsed.clone());
    if let Some(prev) = previous {
        if let Some(etag) = &prev.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &prev.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = req.send().await.map_err(http)?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(IndexError::HttpStatus {
            url: url.into(),
            status: status.as_u16(),
        });
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let meta = CacheMeta {
        kind: "channel".into(),
        origin: url.into(),
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
        fetched_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let path = parsed.path().to_ascii_lowercase();
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let url_owned = url.to_string();
    let index = tokio::task::spawn_blocking(move || parse_body(reader, &path, &url_owned))
        .await
        .map_err(|e| IndexError::Other(format!("index parser thread: {e}")))??;
    Ok(Fetched::New(Box::new(index), meta))
}

/// Picks the decoder from the URL's suffix, else from the first bytes, and parses.
fn parse_body(reader: impl Read, path: &str, url: &str) -> Result<Index, IndexError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(|e| IndexError::Http {
        url: url.into(),
        reason: e.to_string(),
    })?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let decoder: Box<dyn Read> = if path.ends_with(".xz") || head.starts_with(XZ_MAGIC) {
        Box::new(xz2::read::XzDecoder::new(buffered))
    } else if path.ends_with(".br") || !matches!(first, Some(b'{') | None) {
        Box::new(brotli::Decompressor::new(buffered, 1 << 16))
    } else {
        Box::new(buffered)
    };
    let mut entries = Vec::with_capacity(130_000);
    packages_json::parse(decoder, Shape::Channel, |e| entries.push(e)).map_err(|reason| {
        IndexError::Parse {
            origin: url.into(),
            reason,
        }
    })?;
    Ok(Index::from_entries(channel_source(url), entries).with_aliases())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const DOC: &str = r#"{"version": 2, "packages": {
        "hello": {"pname": "hello", "version": "2.12.1",
                  "meta": {"description": "Says hello", "license": [{"spdxId": "GPL-3.0-or-later"}]}},
        "ripgrep": {"version": "14.1.1", "meta": {"license": {"spdxId": "MIT"}}}}}"#;

    fn check(body: Vec<u8>, path: &str) {
        let idx = parse_body(&body[..], path, "http://t/x").unwrap();
        assert_eq!(idx.len(), 2, "{path}");
        let h = &idx.search("hello", 1)[0];
        assert_eq!(h.version.as_deref(), Some("2.12.1"));
        assert_eq!(h.description.as_deref(), Some("Says hello"));
    }

    #[test]
    fn brotli_xz_and_plain_by_suffix_or_content() {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 9, 22);
            w.write_all(DOC.as_bytes()).unwrap();
        }
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(DOC.as_bytes()).unwrap();
        let xz = xz.finish().unwrap();
        check(br.clone(), "/packages.json.br");
        check(br, "/packages"); // no suffix: not JSON, so brotli
        check(xz.clone(), "/packages.json.xz");
        check(xz, "/download"); // xz magic
        check(DOC.as_bytes().to_vec(), "/packages.json");
    }

    #[test]
    fn truncated_compressed_data_is_an_error() {
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(DOC.as_bytes()).unwrap();
        let xz = xz.finish().unwrap();
        let cut = &xz[..xz.len() / 2];
        let e = parse_body(cut, "/p.json.xz", "http://t/x").unwrap_err();
        assert!(e.to_string().contains("http://t/x"), "{e}");
    }
}
