//! Credentials from `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) and the
//! `WWW-Authenticate` challenges a registry answers with.
//!
//! As the docker CLI: `credHelpers."<host>"` names the credential helper for one registry, else
//! `credsStore` the one for all, else `auths.<host>.auth` (base64 `user:password`, or separate
//! `username`/`password`) holds them. Helpers are run by [`super::cred_helper`] when the registry
//! asks for credentials. Identity tokens (`identitytoken`) are not used; a host that relies on one
//! gets an error saying so. No message quotes a value of the file: it holds secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

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
    /// The host's credentials live in `docker-credential-<helper>` (`credHelpers` or
    /// `credsStore`); the name is checked to be a program name, not a path.
    Helper(String),
    /// The host's entry holds only an `identitytoken` (an OAuth refresh token), which we do not
    /// use.
    IdentityToken,
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

/// One `auths` entry, its fields checked to be strings.
#[derive(Debug, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// Looks `host` up in the Docker config at `path`. A missing file means no credentials.
///
/// The file holds secrets, so no message ever quotes a value from it: the file is read as plain
/// JSON and each part checked for its type by hand (serde's "invalid type: string \"…\"" would
/// quote it). An entry for another host that is malformed is skipped with a warning; for `host`
/// it is an error naming the host and the field.
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
    // Syntax errors name a position and what was expected, never the text found.
    let config: Value = serde_json::from_str(&text).map_err(|e| RegistryError::DockerConfig {
        path: path.to_path_buf(),
        reason: format!("line {}:{}: {}", e.line(), e.column(), syntax_reason(&e)),
    })?;
    lookup_in(&config, path, host)
}

/// serde_json's message without its own ` at line L column C` suffix (we say it first).
fn syntax_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// `a string`, `an object`…: what a value is, never what it holds.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether an `auths` key (`host`, `http://host`, `https://host/v1/`…) names `host`.
fn key_names(key: &str, host: &str) -> bool {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    k.split('/').next().unwrap_or("") == host
}

/// An `auths` entry's fields, or which field is of the wrong type (`.auth is a number…`).
fn parse_entry(value: &Value) -> Result<AuthEntry, String> {
    let Value::Object(fields) = value else {
        return Err(format!(" is {}, expected an object", json_type(value)));
    };
    let field = |name: &str| -> Result<Option<String>, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                ".{name} is {}, expected a string",
                json_type(other)
            )),
        }
    };
    Ok(AuthEntry {
        auth: field("auth")?,
        username: field("username")?,
        password: field("password")?,
        identitytoken: field("identitytoken")?,
    })
}

fn lookup_in(config: &Value, path: &Path, host: &str) -> Result<HostAuth, RegistryError> {
    let file = ConfigFile { path, host };
    let Value::Object(top) = config else {
        return Err(file.bad(format!(
            "the file is {}, expected a JSON object",
            json_type(config)
        )));
    };
    let auths = file.registries(top, "auths")?;
    let cred_helpers = file.registries(top, "credHelpers")?;

    // The docker CLI's order: credHelpers."<host>", then credsStore, then auths. An empty
    // credHelpers entry means "this host uses auths", credsStore or not.
    if let Some(helper) = file.helper(top, cred_helpers)? {
        return Ok(helper);
    }
    match file.auths_entry(auths)? {
        Some((key, entry)) => file.entry_auth(key, &entry),
        None => Ok(HostAuth::None),
    }
}

/// The Docker config file being read for `host`: names the file in every problem.
struct ConfigFile<'a> {
    path: &'a Path,
    host: &'a str,
}

impl ConfigFile<'_> {
    fn bad(&self, reason: String) -> RegistryError {
        RegistryError::DockerConfig {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    /// The top-level object `name` (`auths`, `credHelpers`), empty when absent.
    fn registries<'v>(
        &self,
        top: &'v serde_json::Map<String, Value>,
        name: &str,
    ) -> Result<&'v serde_json::Map<String, Value>, RegistryError> {
        // An absent object reads as an empty one; a static so the borrow outlives this call.
        static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> =
            std::sync::OnceLock::new();
        match top.get(name) {
            None | Some(Value::Null) => Ok(EMPTY.get_or_init(serde_json::Map::new)),
            Some(Value::Object(m)) => Ok(m),
            Some(other) => Err(self.bad(format!(
                "`{name}` is {}, expected an object of registries",
                json_type(other)
            ))),
        }
    }

    /// The credential helper for the host: its credHelpers entry, else credsStore; `None` when
    /// the host uses `auths` (no helper, or an empty name).
    fn helper(
        &self,
        top: &serde_json::Map<String, Value>,
        cred_helpers: &serde_json::Map<String, Value>,
    ) -> Result<Option<HostAuth>, RegistryError> {
        let host = self.host;
        let mut own_helper = None;
        for (key, value) in cred_helpers {
            match value {
                Value::String(helper) if key == host => own_helper = Some(helper.clone()),
                Value::String(_) => {}
                other if key == host => {
                    return Err(self.bad(format!(
                        "the entry for {host}, credHelpers.\"{key}\" is {}, expected a string",
                        json_type(other)
                    )))
                }
                other => tracing::warn!(
                    "{}: credHelpers.\"{key}\" is {}, expected a string; skipped",
                    self.path.display(),
                    json_type(other)
                ),
            }
        }
        match own_helper.as_deref() {
            Some("") => Ok(None),
            Some(helper) => self
                .helper_name(helper, format!("credHelpers.\"{host}\""))
                .map(Some),
            None => match top.get("credsStore") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(store)) if store.is_empty() => Ok(None),
                Some(Value::String(store)) => {
                    self.helper_name(store, "`credsStore`".into()).map(Some)
                }
                Some(other) => Err(self.bad(format!(
                    "`credsStore` (the credential helper for every registry, {host} too) is {}, expected a string",
                    json_type(other)
                ))),
            },
        }
    }

    /// A helper `name` found in `field`, if it is a program name (it becomes part of one).
    fn helper_name(&self, name: &str, field: String) -> Result<HostAuth, RegistryError> {
        if super::cred_helper::valid_helper_name(name) {
            Ok(HostAuth::Helper(name.to_string()))
        } else {
            Err(self.bad(format!(
                "{field} (the credential helper for {}) is not a program name: letters, digits, `-`, `_`, `.`",
                self.host
            )))
        }
    }

    /// The first `auths` entry naming the host, parsed; other malformed entries are skipped
    /// with a warning.
    fn auths_entry<'v>(
        &self,
        auths: &'v serde_json::Map<String, Value>,
    ) -> Result<Option<(&'v String, AuthEntry)>, RegistryError> {
        let host = self.host;
        let mut entry = None;
        for (key, value) in auths {
            let parsed = parse_entry(value);
            if entry.is_none() && key_names(key, host) {
                let parsed = parsed.map_err(|problem| {
                    self.bad(format!("the entry for {host}, auths.\"{key}\"{problem}"))
                })?;
                entry = Some((key, parsed));
            } else if let Err(problem) = parsed {
                tracing::warn!(
                    "{}: auths.\"{key}\"{problem}; skipped (biar-tui uses the entry for {host})",
                    self.path.display()
                );
            }
        }
        Ok(entry)
    }

    /// What the host's `auths."<key>"` entry offers: `auth` (base64 `user:password`), else a
    /// username and password, else an identity token, else nothing.
    fn entry_auth(&self, key: &str, entry: &AuthEntry) -> Result<HostAuth, RegistryError> {
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| self.bad(format!("auths.\"{key}\".auth is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| self.bad(format!("auths.\"{key}\".auth is not UTF-8 once decoded")))?;
            let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                self.bad(format!(
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
        if entry
            .identitytoken
            .as_deref()
            .is_some_and(|t| !t.is_empty())
        {
            return Ok(HostAuth::IdentityToken);
        }
        Ok(HostAuth::None)
    }
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

    /// The docker CLI's precedence: credHelpers."<host>" > credsStore > auths; an empty
    /// credHelpers entry sends its host to auths.
    #[test]
    fn helpers_are_found_in_docker_order() {
        let (_d, p) = write(
            r#"{"auths": {"a.example": {"username": "u", "password": "p"}, "c.example": {"username": "u", "password": "p"}},
                "credsStore": "desktop", "credHelpers": {"b.example": "ecr-login", "c.example": ""}}"#,
        );
        assert_eq!(
            lookup(&p, "a.example").unwrap(),
            HostAuth::Helper("desktop".into())
        );
        assert_eq!(
            lookup(&p, "b.example").unwrap(),
            HostAuth::Helper("ecr-login".into())
        );
        assert!(
            matches!(lookup(&p, "c.example").unwrap(), HostAuth::Basic(c) if c.username == "u")
        );
        // credsStore covers hosts without an auths entry too.
        assert_eq!(
            lookup(&p, "d.example").unwrap(),
            HostAuth::Helper("desktop".into())
        );
        let (_d, p) = write(r#"{"credHelpers": {"b.example": "pass"}}"#);
        assert_eq!(lookup(&p, "a.example").unwrap(), HostAuth::None);
        assert_eq!(
            lookup(&p, "b.example").unwrap(),
            HostAuth::Helper("pass".into())
        );
        // A helper name is a program name, never a path to run.
        for bad in [
            r#"{"credsStore": "../../tmp/x"}"#,
            r#"{"credHelpers": {"b.example": "/bin/sh"}}"#,
        ] {
            let (_d, p) = write(bad);
            let err = lookup(&p, "b.example").unwrap_err();
            assert!(matches!(err, RegistryError::DockerConfig { .. }), "{err}");
            assert!(err.to_string().contains("not a program name"), "{err}");
        }
    }

    #[test]
    fn missing_file_is_no_credentials_and_bad_json_names_position() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            lookup(&dir.path().join("none.json"), "h").unwrap(),
            HostAuth::None
        );
        // A syntax error (the file is read as plain JSON first, then checked field by field).
        let (_d, p) = write("{\n  \"auths\": {\"h\" 1}\n");
        let err = lookup(&p, "h").unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("line 2"),
            "{err}"
        );
    }

    /// A secret in every shape a hand-edited file may hold it: no message, for the host in use
    /// or another one, quotes it.
    #[test]
    fn malformed_entries_never_echo_a_secret() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("bob:Pa55-w0rd");
        let secrets = [b64.as_str(), "Pa55-w0rd", "bob:Pa55"];
        let shapes = [
            format!(r#"{{"auths": {{"reg:5000": "{b64}"}}}}"#),
            format!(r#"{{"auths": {{"reg:5000": ["{b64}"]}}}}"#),
            format!(r#"{{"auths": {{"reg:5000": {{"auth": ["{b64}"]}}}}}}"#),
            format!(r#"{{"auths": {{"reg:5000": {{"auth": {{"v": "{b64}"}}}}}}}}"#),
            r#"{"auths": {"reg:5000": {"username": "bob", "password": ["Pa55-w0rd"]}}}"#.into(),
            r#"{"auths": {"reg:5000": {"auth": "Pa55-w0rd!"}}}"#.into(),
            r#"{"auths": {"reg:5000": {"identitytoken": {"t": "Pa55-w0rd"}}}}"#.into(),
            r#"{"credHelpers": {"reg:5000": ["Pa55-w0rd"]}}"#.into(),
            format!(r#"{{"auths": ["{b64}"]}}"#),
            format!(r#"["{b64}"]"#),
            format!(r#"{{"auths": {{"reg:5000": {{"auth": "{b64}" "x"}}}}}}"#),
        ];
        for shape in &shapes {
            let (_d, p) = write(shape);
            let err = lookup(&p, "reg:5000").unwrap_err().to_string();
            for secret in secrets {
                assert!(!err.contains(secret), "{shape}\n  gave: {err}");
            }
            assert!(err.contains("config.json"), "{err}");
            // The entry of the host in use is named with the field at fault.
            if shape.contains("\"reg:5000\"") && !shape.contains("\"x\"") {
                assert!(err.contains("reg:5000"), "{shape}\n  gave: {err}");
            }
        }
        let err = lookup(&write(&shapes[2]).1, "reg:5000")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                r#"the entry for reg:5000, auths."reg:5000".auth is an array, expected a string"#
            ),
            "{err}"
        );
        // A malformed entry for another host is skipped: the host in use still gets its own.
        for (section, entry) in [
            ("auths", format!(r#""{b64}""#)),
            ("auths", format!(r#"{{"auth": 5, "password": ["{b64}"]}}"#)),
            ("credHelpers", r#"["Pa55-w0rd"]"#.to_string()),
        ] {
            let (_d, p) = write(&format!(
                r#"{{"{section}": {{"other:1": {entry}}}, "auths_": 0, "x": {{}}}}"#
            ));
            assert_eq!(lookup(&p, "ours:1").unwrap(), HostAuth::None);
            let mixed = if section == "auths" {
                format!(
                    r#"{{"auths": {{"other:1": {entry}, "ours:1": {{"username": "u", "password": "p"}}}}}}"#
                )
            } else {
                format!(
                    r#"{{"credHelpers": {{"other:1": {entry}}}, "auths": {{"ours:1": {{"username": "u", "password": "p"}}}}}}"#
                )
            };
            let (_d, p) = write(&mixed);
            assert!(
                matches!(lookup(&p, "ours:1").unwrap(), HostAuth::Basic(c) if c.username == "u")
            );
        }
    }

    #[test]
    fn identity_tokens_are_named_as_such() {
        let (_d, p) = write(r#"{"auths": {"reg:5000": {"identitytoken": "refresh-me"}}}"#);
        assert_eq!(lookup(&p, "reg:5000").unwrap(), HostAuth::IdentityToken);
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
