//! The folders the user (never a project) trusts to be uploaded as a package set from outside a
//! project: `trusted-paths` in `$XDG_CONFIG_HOME/biar/config.toml` (the file the TUI's settings
//! live in too).
//!
//! ```toml
//! trusted-paths = ["/home/me/src/nixpkgs", "~/biar-tui/tests/fixtures/pkgs"]
//! ```
//!
//! A `nixpkgs.path` pin is uploaded whole into the shared builder; a cloned project pinning `~`
//! or `/root` would send that folder there. So a pin outside its project is used only when it
//! lies in one of these folders.
//!
//! The signing keys the user trusts live here too, `trusted-public-keys`: a key a project's
//! `builder.trustedPublicKeys` names is passed to Nix only when listed there (or one of biar's
//! defaults). Otherwise a cloned project could add its own key and cache and get a forged path
//! into the shared store under a real name, shipped by every other project's image.
//!
//! ```toml
//! trusted-public-keys = ["my-cache-1:AbC…="]
//! ```
//!
//! And the user's binary cache, `[binary-cache]`: a cache every build substitutes from, the key
//! that signs what the user uploads, and whether to upload at all. A project's `binaryCache`
//! (config.json) is used only when its key is trusted here.
//!
//! ```toml
//! [binary-cache]
//! url = "https://nix-cache.example.org"      # optional: substitute from it in every project
//! public-key = "team-cache-1:AbC…="           # its key (trusted)
//! secret-key-file = "~/.config/biar/team-cache-1.sec"   # signs uploads
//! push = true                                  # upload what builds built
//! ```

use std::path::{Path, PathBuf};

use super::ConfigError;

/// `$XDG_CONFIG_HOME/biar` (or `~/.config/biar`): the user's own settings of biar-tui.
pub fn user_config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("biar"))
}

/// The key of the trust list in `config.toml`.
pub const TRUSTED_PATHS_KEY: &str = "trusted-paths";
/// The key of the trusted signing keys in `config.toml`.
pub const TRUSTED_KEYS_KEY: &str = "trusted-public-keys";
/// The table of the user's binary cache in `config.toml`.
pub const BINARY_CACHE_KEY: &str = "binary-cache";

/// The user's `[binary-cache]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserCache {
    /// A cache for every project (checked by [`super::check_cache_url`]).
    pub url: Option<String>,
    /// Its public key, trusted like `trusted-public-keys`.
    pub public_key: Option<String>,
    /// The secret key (`nix-store --generate-binary-cache-key`) uploads are signed with.
    pub secret_key_file: Option<PathBuf>,
    /// Upload the paths a successful build has to the cache.
    pub push: bool,
}

/// The user's trusted folders, resolved (links followed; entries that do not exist dropped).
#[derive(Debug, Clone, Default)]
pub struct TrustedPaths {
    /// The file they were read from (for messages), even when it does not exist.
    pub file: PathBuf,
    paths: Vec<PathBuf>,
    /// The Nix public keys the user trusts (`trusted-public-keys`).
    keys: Vec<String>,
    /// The user's `[binary-cache]`.
    pub cache: UserCache,
}

impl TrustedPaths {
    /// Reads the list from the user's `config.toml` ([`user_config_dir`]).
    pub fn load() -> Result<TrustedPaths, ConfigError> {
        match user_config_dir() {
            Some(dir) => TrustedPaths::load_from(&dir),
            None => Ok(TrustedPaths::default()),
        }
    }

    /// Reads the list from `dir/config.toml`; no file means an empty list.
    pub fn load_from(dir: &Path) -> Result<TrustedPaths, ConfigError> {
        let file = dir.join("config.toml");
        let invalid = |message: String| ConfigError::UserSettings {
            file: file.clone(),
            message,
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustedPaths {
                    file,
                    ..Default::default()
                })
            }
            Err(e) => return Err(invalid(e.to_string())),
        };
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| invalid(format!("not valid TOML: {}", e.message().trim_end())))?;
        let mut paths = Vec::new();
        match table.get(TRUSTED_PATHS_KEY) {
            None => {}
            Some(toml::Value::Array(entries)) => {
                for entry in entries {
                    let Some(s) = entry.as_str() else {
                        return Err(invalid(format!(
                            "`{TRUSTED_PATHS_KEY}` must be a list of folder paths (strings)"
                        )));
                    };
                    let path = expand_home(s);
                    if !path.is_absolute() {
                        return Err(invalid(format!(
                            "`{TRUSTED_PATHS_KEY}` entry {s:?} must be an absolute path (or \
                             start with ~/)"
                        )));
                    }
                    if let Ok(real) = path.canonicalize() {
                        paths.push(real);
                    }
                }
            }
            Some(_) => {
                return Err(invalid(format!(
                    "`{TRUSTED_PATHS_KEY}` must be a list of folder paths, e.g. \
                     {TRUSTED_PATHS_KEY} = [\"/home/me/nixpkgs\"]"
                )))
            }
        }
        let mut keys = Vec::new();
        match table.get(TRUSTED_KEYS_KEY) {
            None => {}
            Some(toml::Value::Array(entries)) => {
                for entry in entries {
                    let key = entry.as_str().ok_or_else(|| {
                        invalid(format!(
                            "`{TRUSTED_KEYS_KEY}` must be a list of Nix public keys (strings)"
                        ))
                    })?;
                    super::check_public_key(key).map_err(|why| {
                        invalid(format!(
                            "`{TRUSTED_KEYS_KEY}` entry {key:?} is not a Nix public key: {why}"
                        ))
                    })?;
                    keys.push(key.to_string());
                }
            }
            Some(_) => {
                return Err(invalid(format!(
                    "`{TRUSTED_KEYS_KEY}` must be a list of Nix public keys, e.g. \
                     {TRUSTED_KEYS_KEY} = [\"my-cache-1:AbC…=\"]"
                )))
            }
        }
        let cache = match table.get(BINARY_CACHE_KEY) {
            None => UserCache::default(),
            Some(toml::Value::Table(t)) => read_user_cache(t).map_err(invalid)?,
            Some(_) => {
                return Err(invalid(format!(
                    "`{BINARY_CACHE_KEY}` must be a table: [{BINARY_CACHE_KEY}] with url, \
                     public-key, secret-key-file and push"
                )))
            }
        };
        if let Some(k) = &cache.public_key {
            keys.push(k.clone());
        }
        Ok(TrustedPaths {
            file,
            paths,
            keys,
            cache,
        })
    }

    /// Whether the Nix public key `key` may be trusted for a build: the user lists it, or it is
    /// one of biar's own defaults (Nix's default too).
    pub fn trusts_key(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
            || super::BuilderSettings::default()
                .trusted_public_keys
                .iter()
                .any(|k| k == key)
    }

    /// Whether `path` (resolved: links followed) is one of the trusted folders or inside one.
    pub fn trusts(&self, path: &Path) -> bool {
        self.paths.iter().any(|t| path.starts_with(t))
    }
}

/// Whether the path pin `written` (the folder `dir`) may be used, by the user's trust list in
/// `$XDG_CONFIG_HOME/biar`: one inside `root` (the project) needs none. `Err` is why not, a
/// sentence for the user. Reading (to hash it) counts as using it, as uploading does: a cloned
/// project pinning `~` gets neither.
pub fn check_path_pin(root: &Path, written: &str, dir: &Path) -> Result<(), String> {
    check_path_pin_with(root, written, dir, TrustedPaths::load)
}

fn check_path_pin_with(
    root: &Path,
    written: &str,
    dir: &Path,
    trusted: impl FnOnce() -> Result<TrustedPaths, ConfigError>,
) -> Result<(), String> {
    let real = dir
        .canonicalize()
        .map_err(|e| format!("nixpkgs.path {written:?}: {}: {e}", dir.display()))?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if real.starts_with(&root) {
        return Ok(());
    }
    let trusted = trusted()
        .map_err(|e| format!("nixpkgs.path {written:?}: reading your trusted paths: {e}"))?;
    if trusted.trusts(&real) {
        return Ok(());
    }
    Err(format!(
        "nixpkgs.path {written:?} is {}, outside the project: a package set pinned by path is \
         uploaded whole into the shared builder, so one outside the project is used only when \
         your own settings trust it. If you mean to, add it to `{TRUSTED_PATHS_KEY}` in {}: \
         {TRUSTED_PATHS_KEY} = [{:?}]",
        real.display(),
        trusted.file.display(),
        real.display().to_string()
    ))
}

/// Every key of `keys` (a project's `builder.trustedPublicKeys`, from config.json at `path`
/// whose text is `text`) must be trusted by the user's own settings: refused, naming the key,
/// its place in config.json and how to trust it.
pub fn check_keys_trusted(path: &Path, text: &str, keys: &[String]) -> Result<(), ConfigError> {
    check_keys_trusted_with(path, text, keys, TrustedPaths::load)
}

fn check_keys_trusted_with(
    path: &Path,
    text: &str,
    keys: &[String],
    trusted: impl FnOnce() -> Result<TrustedPaths, ConfigError>,
) -> Result<(), ConfigError> {
    let defaults = super::BuilderSettings::default().trusted_public_keys;
    if keys.iter().all(|k| defaults.contains(k)) {
        return Ok(());
    }
    let trusted = trusted()?;
    let Some(key) = keys.iter().find(|k| !trusted.trusts_key(k)) else {
        return Ok(());
    };
    Err(ConfigError::Invalid {
        at: super::project::locate_string(path, text, key)
            .unwrap_or_else(|| super::project::locate_key(path, text, "trustedPublicKeys")),
        message: format!(
            "builder.trustedPublicKeys names the key {key:?}, which your own settings do not \
             trust: a key a project brings could sign forged store paths into the shared store, \
             so nothing was built. If you trust it, add it to `{TRUSTED_KEYS_KEY}` in {}: \
             {TRUSTED_KEYS_KEY} = [{key:?}] (or remove it from config.json)",
            trusted.file.display()
        ),
    })
}

fn read_user_cache(t: &toml::Table) -> Result<UserCache, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{BINARY_CACHE_KEY}.{key}` must be a string")),
        }
    };
    let mut cache = UserCache::default();
    for key in t.keys() {
        if !["url", "public-key", "secret-key-file", "push"].contains(&key.as_str()) {
            return Err(format!(
                "`{BINARY_CACHE_KEY}.{key}` is not a setting (url, public-key, secret-key-file, \
                 push)"
            ));
        }
    }
    if let Some(url) = text("url")? {
        super::check_cache_url(&url).map_err(|why| format!("`{BINARY_CACHE_KEY}.url` {why}"))?;
        cache.url = Some(url);
    }
    if let Some(key) = text("public-key")? {
        super::check_public_key(&key).map_err(|why| {
            format!("`{BINARY_CACHE_KEY}.public-key` {key:?} is not a Nix public key: {why}")
        })?;
        cache.public_key = Some(key);
    }
    if let Some(file) = text("secret-key-file")? {
        let path = expand_home(&file);
        if !path.is_absolute() {
            return Err(format!(
                "`{BINARY_CACHE_KEY}.secret-key-file` {file:?} must be an absolute path (or start \
                 with ~/)"
            ));
        }
        cache.secret_key_file = Some(path);
    }
    match t.get("push") {
        None => {}
        Some(toml::Value::Boolean(b)) => cache.push = *b,
        Some(_) => return Err(format!("`{BINARY_CACHE_KEY}.push` must be true or false")),
    }
    if cache.push && cache.secret_key_file.is_none() {
        return Err(format!(
            "`{BINARY_CACHE_KEY}.push = true` needs `secret-key-file`, the key uploads are signed \
             with (make one with `nix-store --generate-binary-cache-key NAME-1 FILE.sec FILE.pub`)"
        ));
    }
    Ok(cache)
}

fn expand_home(s: &str) -> PathBuf {
    match s.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(s)),
        None if s == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from(s)),
        None => PathBuf::from(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_folders_and_their_insides_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let pkgs = dir.path().join("pkgs");
        std::fs::create_dir_all(pkgs.join("sub")).unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "theme = \"light\"\ntrusted-paths = [{:?}, \"/no/such/folder\"]\n",
                pkgs.display().to_string()
            ),
        )
        .unwrap();
        let t = TrustedPaths::load_from(dir.path()).unwrap();
        let real = pkgs.canonicalize().unwrap();
        assert!(t.trusts(&real));
        assert!(t.trusts(&real.join("sub")));
        assert!(!t.trusts(real.parent().unwrap()));
        assert!(!t.trusts(Path::new("/root")));
    }

    #[test]
    fn a_project_key_needs_the_users_trust() {
        let settings = tempfile::tempdir().unwrap();
        let load = || TrustedPaths::load_from(settings.path());
        let cfg = Path::new("/p/config.json");
        let key = "evil-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string();
        let text = format!("{{\n  \"builder\": {{ \"trustedPublicKeys\": [{key:?}] }}\n}}");
        // Biar's defaults and no keys at all need no trust.
        let defaults = crate::config::BuilderSettings::default().trusted_public_keys;
        assert!(check_keys_trusted_with(cfg, &text, &defaults, load).is_ok());
        assert!(check_keys_trusted_with(cfg, &text, &[], load).is_ok());
        let e = check_keys_trusted_with(cfg, &text, std::slice::from_ref(&key), load)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/p/config.json:2:") && e.contains(&key) && e.contains(TRUSTED_KEYS_KEY),
            "{e}"
        );
        std::fs::write(
            settings.path().join("config.toml"),
            format!("{TRUSTED_KEYS_KEY} = [{key:?}]"),
        )
        .unwrap();
        assert!(check_keys_trusted_with(cfg, &text, &[key], load).is_ok());
        std::fs::write(
            settings.path().join("config.toml"),
            format!("{TRUSTED_KEYS_KEY} = [\"not a key\"]"),
        )
        .unwrap();
        assert!(TrustedPaths::load_from(settings.path()).is_err());
    }

    #[test]
    fn a_pin_outside_the_project_needs_a_listed_folder() {
        let settings = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(project.path().join("pkgs")).unwrap();
        let load = || TrustedPaths::load_from(settings.path());
        let inside = project.path().join("pkgs");
        assert_eq!(
            check_path_pin_with(project.path(), "pkgs", &inside, load),
            Ok(())
        );
        let e = check_path_pin_with(project.path(), "/x", outside.path(), load).unwrap_err();
        assert!(
            e.contains("outside the project") && e.contains(TRUSTED_PATHS_KEY),
            "{e}"
        );
        std::fs::write(
            settings.path().join("config.toml"),
            format!(
                "trusted-paths = [{:?}]",
                outside.path().display().to_string()
            ),
        )
        .unwrap();
        assert_eq!(
            check_path_pin_with(project.path(), "/x", outside.path(), load),
            Ok(())
        );
    }

    #[test]
    fn the_users_binary_cache_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = "team-1:4bla6XJrsvT5YZLDmBAYWbblvBN9iESPLXZ/GDhlREk=";
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[binary-cache]\nurl = \"http://127.0.0.1:1\"\npublic-key = {key:?}\n\
                 secret-key-file = \"/k.sec\"\npush = true\n"
            ),
        )
        .unwrap();
        let t = TrustedPaths::load_from(dir.path()).unwrap();
        assert_eq!(t.cache.url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(
            t.cache.secret_key_file.as_deref(),
            Some(Path::new("/k.sec"))
        );
        assert!(t.cache.push);
        // The user's own cache key is trusted.
        assert!(t.trusts_key(key));
        for (text, needle) in [
            ("[binary-cache]\nurl = \"s3://b\"", "S3 support"),
            ("[binary-cache]\nurl = \"ftp://x\"", "ftp://"),
            ("[binary-cache]\npush = true", "secret-key-file"),
            ("[binary-cache]\npush = 1", "true or false"),
            ("[binary-cache]\nurl = \"http://x\"\nurll = 1", "urll"),
            ("binary-cache = 1", "must be a table"),
        ] {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            let e = TrustedPaths::load_from(dir.path()).unwrap_err().to_string();
            assert!(
                e.contains("config.toml") && e.contains(needle),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn no_file_trusts_nothing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrustedPaths::load_from(dir.path()).unwrap();
        assert!(!t.trusts(Path::new("/")));
        for (text, needle) in [
            ("trusted-paths = \"/x\"", "must be a list"),
            ("trusted-paths = [1]", "must be a list"),
            ("trusted-paths = [\"rel/x\"]", "absolute"),
            ("trusted-paths = [", "not valid TOML"),
        ] {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            let e = TrustedPaths::load_from(dir.path()).unwrap_err();
            assert_eq!(e.category(), crate::Category::BadInput);
            let msg = e.to_string();
            assert!(msg.contains("config.toml") && msg.contains(needle), "{msg}");
        }
    }
}
