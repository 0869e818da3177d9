//! Credentials from `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) and the
//! `WWW-Authenticate` challenges a registry answers with.
//!
//! Only `auths.<host>.auth` (base64 `user:password`, or separate `username`/`password`) is used.
//! Credential helpers (`credHelpers`, `credsStore`) are external programs we deliberately do not
//! run; a host that relies on one gets an error saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::RegistryError;

/// A user name and password for basic auth or for the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, even in debug output.
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// What the Docker config says about one registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAuth {
    None,
    Basic(Credentials),
    /// The host's credentials live in `docker-credential-<helper>`, which we do not run.
    Helper(String),
}

/// The Docker config file biar-tui reads: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
        .unwrap_or_default();
    home.join(".docker").join("config.json")
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Looks `host` up in the Docker config at `path`. A missing file means no credentials.
pub fn lookup(path: &Path, host: &str) -> Result<HostAuth, RegistryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostAuth::None),
        Err(e) => {
            return Err(RegistryError::DockerConfig {
                path: path.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            })
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|e| RegistryError::DockerConfig {
            path: path.to_path_buf(),
            reason: format!("line {}:{}: {e}", e.line(), e.column()),
        })?;
    lookup_in(&config, path, host)
}

fn lookup_in(config: &DockerConfig, path: &Path, host: &str) -> Result<HostAuth, RegistryError> {
    let bad = |reason: String| RegistryError::DockerConfig {
        path: path.to_path_buf(),
        reason,
    };
    // Entries may be written as `host`, `http://host`, `https://host/v1/`…
    let entry = config.auths.iter().find(|(key, _)| {
        let k = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let k = k.split('/').next().unwrap_or("");
        k == host
    });
    if let Some((key, entry)) = entry {
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| bad(format!("auths.\"{key}\".auth is not base64: {e}")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| bad(format!("auths.\"{key}\".auth is not UTF-8 once decoded")))?;
            let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                bad(format!(
                    "auths.\"{key}\".auth decodes to no `user:password` pair"
                ))
            })?;
            return Ok(HostAuth::Basic(Credentials {
                username: user.to_string(),
                password: pass.to_string(),
            }));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(HostAuth::Basic(Credentials {
                username: u.clone(),
                password: p.clone(),
            }));
        }
        if entry.identitytoken.is_some() {
            // An OAuth refresh token: only a helper-based login writes these.
            return Ok(HostAuth::Helper(
                config
                    .creds_store
                    .clone()
                    .unwrap_or_else(|| "identity-token".into()),
            ));
        }
    }
    if let Some(helper) = config.cred_helpers.get(host) {
        return Ok(HostAuth::Helper(helper.clone()));
    }
    if let (Some(store), Some(_)) = (&config.creds_store, entry) {
        return Ok(HostAuth::Helper(store.clone()));
    }
    Ok(HostAuth::None)
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses `Basic realm="x"` or `Bearer realm="…",service="…",scope="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(rest);
            let realm = params.get("realm")?.clone();
            Some(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
            })
        }
        _ => None,
    }
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            // Quoted: up to the next unescaped quote (scopes hold commas, so split on quotes).
            let mut v = String::new();
            let mut chars = r.char_indices();
            let mut end = r.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &r[end.min(r.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.insert(key, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(json: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, json).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_basic_auth_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3:cret");
        let (_d, p) = write(&format!(
            r#"{{"auths": {{"https://127.0.0.1:5000/v1/": {{"auth": "{auth}"}},
                "other:1": {{"username": "bob", "password": "pw"}} }}}}"#
        ));
        assert_eq!(
            lookup(&p, "127.0.0.1:5000").unwrap(),
            HostAuth::Basic(Credentials {
                username: "alice".into(),
                password: "s3:cret".into()
            })
        );
        assert!(
            matches!(lookup(&p, "other:1").unwrap(), HostAuth::Basic(c) if c.username == "bob")
        );
        assert_eq!(lookup(&p, "nowhere").unwrap(), HostAuth::None);
    }

    #[test]
    fn helpers_are_named_not_run() {
        let (_d, p) = write(
            r#"{"auths": {"a.example": {}}, "credsStore": "desktop", "credHelpers": {"b.example": "ecr-login"}}"#,
        );
        assert_eq!(
            lookup(&p, "a.example").unwrap(),
            HostAuth::Helper("desktop".into())
        );
        assert_eq!(
            lookup(&p, "b.example").unwrap(),
            HostAuth::Helper("ecr-login".into())
        );
        assert_eq!(lookup(&p, "c.example").unwrap(), HostAuth::None);
    }

    #[test]
    fn missing_file_is_no_credentials_and_bad_json_names_position() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            lookup(&dir.path().join("none.json"), "h").unwrap(),
            HostAuth::None
        );
        let (_d, p) = write("{\n  \"auths\": [\n");
        let err = lookup(&p, "h").unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="biar-test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:9/token".into(),
                service: Some("reg".into())
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
