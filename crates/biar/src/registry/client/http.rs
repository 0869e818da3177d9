//! One request on the wire: the answer timeout, and redirects followed by us so that credentials
//! stay with the origin they were given for.

use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode, Url};

use super::{Client, RegistryError};

/// Redirects followed per request, as browsers and reqwest's default do at most.
const MAX_REDIRECTS: usize = 10;

impl Client {
    /// Sends one request (following redirects, credentials kept to the registry's origin), with
    /// the answer timeout: the request carries no streamed body, so it is small.
    pub(super) async fn send_raw(&self, rb: RequestBuilder) -> Result<Response, RegistryError> {
        let (http, req) = rb.build_split();
        let mut req = req.map_err(|e| self.transport(e))?;
        *req.timeout_mut() = Some(self.answer_timeout);
        follow(&http, req, &self.base)
            .await
            .map_err(|e| self.transport(e))
    }
}

/// Whether two URLs share an origin (scheme, host, port: the unit credentials are given for).
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Sends `req`, following redirects (as reqwest would: 301/302/303 turn a request with a body into
/// a GET, 307/308 repeat it; a streamed body cannot be repeated, so that answer is returned as it
/// is). Credentials (`Authorization`, cookies) stay on the request only while it goes to
/// `trusted`'s origin; once dropped they stay dropped. Past [`MAX_REDIRECTS`] the last redirect
/// is returned for the caller to report.
pub(super) async fn follow(
    http: &reqwest::Client,
    mut req: Request,
    trusted: &Url,
) -> Result<Response, reqwest::Error> {
    for _ in 0..MAX_REDIRECTS {
        let method = req.method().clone();
        let headers = req.headers().clone();
        let timeout = req.timeout().copied();
        let again = req.try_clone();
        let resp = http.execute(req).await?;
        let status = resp.status();
        let keeps_method = match status {
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
            _ => return Ok(resp),
        };
        let Some(next_url) = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| resp.url().join(l).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            return Ok(resp);
        };
        let mut next = if keeps_method || method == Method::GET || method == Method::HEAD {
            match again {
                Some(r) => r,
                None => return Ok(resp),
            }
        } else {
            let mut r = Request::new(Method::GET, next_url.clone());
            *r.headers_mut() = headers;
            for h in [
                CONTENT_TYPE,
                CONTENT_LENGTH,
                reqwest::header::TRANSFER_ENCODING,
            ] {
                r.headers_mut().remove(h);
            }
            r
        };
        *next.url_mut() = next_url;
        *next.timeout_mut() = timeout;
        if !same_origin(next.url(), trusted) {
            for h in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                next.headers_mut().remove(h);
            }
        }
        req = next;
    }
    http.execute(req).await
}

pub(super) fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn content_length(resp: &Response) -> Option<u64> {
    header(resp, "content-length").and_then(|v| v.parse().ok())
}
