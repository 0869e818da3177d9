//! Error classification: a failed answer (status and the registry's `{"errors":[…]}` body) or a
//! request that got none, turned into the [`RegistryError`] that says what to do.

use reqwest::{Response, StatusCode};
use serde::Deserialize;

use super::{Client, RegistryError};

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    /// Free-form; the Debian registry puts the OS error here ("…: no space left on device").
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

impl Client {
    /// The error for a request that got no answer: unreachable, or silent past the timeout.
    pub(super) fn transport(&self, e: reqwest::Error) -> RegistryError {
        let url = e.url().cloned().unwrap_or_else(|| self.base.clone());
        if e.is_timeout() {
            return RegistryError::NoAnswer {
                registry: self.host.clone(),
                request: url.path().to_string(),
                seconds: self.answer_timeout.as_secs(),
            };
        }
        RegistryError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        }
    }

    pub(super) async fn expect_ok(
        &self,
        resp: Response,
        method: &str,
        path: &str,
        repository: Option<&str>,
    ) -> Result<Response, RegistryError> {
        if resp.status().is_success() {
            Ok(resp)
        } else if resp.status() == StatusCode::UNAUTHORIZED {
            Err(self.refused(resp).await)
        } else {
            Err(self.error(resp, method, path, repository).await)
        }
    }

    /// Turns a failed response into the error that explains it.
    pub(super) async fn error(
        &self,
        resp: Response,
        method: &str,
        path: &str,
        repository: Option<&str>,
    ) -> RegistryError {
        let status = resp.status().as_u16();
        if status == 401 {
            return self.refused(resp).await;
        }
        let body = decode_error_body(resp).await;
        classify(
            &self.host,
            method,
            path,
            repository,
            status,
            body,
            &self.config_path,
        )
    }

    pub(super) fn unreachable(&self, path: &str, e: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            url: self.url(path).to_string(),
            reason: error_chain(&e),
        }
    }
}

/// The error for a status and the registry's `{"errors":[{code,message}]}` body.
pub(super) fn classify(
    host: &str,
    method: &str,
    path: &str,
    repository: Option<&str>,
    status: u16,
    body: Option<(String, String)>,
    config: &std::path::Path,
) -> RegistryError {
    let (code, message) = body.clone().unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    if status == 507
        || lower.contains("no space left")
        || lower.contains("disk quota")
        || lower.contains("insufficient storage")
    {
        return RegistryError::DiskFull {
            registry: host.to_string(),
            message: if message.is_empty() {
                format!("{status} Insufficient Storage")
            } else {
                message
            },
        };
    }
    if code == "NAME_INVALID" {
        return RegistryError::NameInvalid {
            registry: host.to_string(),
            repository: repository.unwrap_or("").to_string(),
            message,
        };
    }
    if code == "DENIED" || status == 403 {
        return RegistryError::Denied {
            registry: host.to_string(),
            repository: repository.unwrap_or("").to_string(),
            code: if code.is_empty() { "403".into() } else { code },
            message,
            config: config.to_path_buf(),
        };
    }
    RegistryError::Api {
        registry: host.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        status,
        detail: match body {
            Some((c, m)) => format!(": {c}: {m}"),
            None => String::new(),
        },
    }
}

/// The first `{code, message}` of an error body, if it has one.
pub(super) async fn decode_error_body(resp: Response) -> Option<(String, String)> {
    let text = resp.text().await.ok()?;
    parse_error_body(&text)
}

pub(super) fn parse_error_body(text: &str) -> Option<(String, String)> {
    if let Ok(body) = serde_json::from_str::<ErrorBody>(text) {
        if let Some(first) = body.errors.into_iter().next() {
            let message = match first.detail {
                Some(serde_json::Value::String(d)) if !d.is_empty() && d != first.message => {
                    format!("{} ({d})", first.message)
                }
                _ => first.message,
            };
            return Some((first.code, message));
        }
    }
    let t = text.trim();
    if t.is_empty() {
        None
    } else {
        Some((String::new(), t.chars().take(300).collect()))
    }
}

pub(super) async fn decode_error_text(resp: Response) -> String {
    match decode_error_body(resp).await {
        Some((c, m)) if c.is_empty() => format!(": {m}"),
        Some((c, m)) => format!(": {c}: {m}"),
        None => String::new(),
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says "connection refused".
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_body(status: u16, body: &str) -> RegistryError {
        classify(
            "r:1",
            "PUT",
            "/v2/x/blobs/uploads/1",
            Some("x"),
            status,
            parse_error_body(body),
            std::path::Path::new("/h/.docker/config.json"),
        )
    }

    #[test]
    fn decodes_registry_error_bodies() {
        let e = classify_body(
            400,
            r#"{"errors":[{"code":"NAME_INVALID","message":"invalid repository name","detail":"x"}]}"#,
        );
        assert!(matches!(e, RegistryError::NameInvalid { .. }), "{e}");
        assert!(e.to_string().contains("lower-case letters"));

        let e = classify_body(
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"write /var/lib/registry/x: no space left on device"}]}"#,
        );
        assert!(matches!(e, RegistryError::DiskFull { .. }), "{e}");
        let e = classify_body(
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"write /srv/x/data: no space left on device"}]}"#,
        );
        assert!(matches!(e, RegistryError::DiskFull { .. }), "{e}");
        assert!(e.to_string().contains("/srv/x/data"), "{e}");
        let e = classify_body(507, "");
        assert!(e.to_string().contains("out of storage"), "{e}");

        let e = classify_body(
            403,
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
        );
        assert!(matches!(e, RegistryError::Denied { .. }), "{e}");

        let e = classify_body(
            400,
            r#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#,
        );
        assert_eq!(
            e.to_string(),
            "the registry r:1 answered PUT /v2/x/blobs/uploads/1 with 400: BLOB_UPLOAD_INVALID: blob upload invalid"
        );
    }
}
