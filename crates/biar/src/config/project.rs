//! A loaded environment project: reading and validating `config.json`, and rewriting it.

use std::path::{Component, Path, PathBuf};

use super::{Config, ConfigError, ImageRef, PackageSetPin};
use crate::fsutil::{
    check_regular, read_text, resolve_inside, MAX_CONFIG_JSON_BYTES, MAX_NIX_FILE_BYTES,
};
use crate::location::Location;

/// The configuration file a project may keep beside its work.
const LOCAL_NIX: &str = "workdir/local.nix";

/// An environment project folder and its parsed `config.json`.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder.
    pub root: PathBuf,
    pub config: Config,
}

impl Project {
    /// Reads and validates `DIR/config.json`: JSON syntax and types (errors say
    /// `config.json:line:column`), value ranges, and that the base and user files exist.
    /// A folder without `config.json` is [`ConfigError::NoProject`].
    pub fn load(dir: &Path) -> Result<Project, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::NoProject {
                dir: dir.to_path_buf(),
            });
        }
        let path = dir.join("config.json");
        let text = match resolve_inside(dir, Path::new("config.json"))
            .and_then(|p| read_text(&p, MAX_CONFIG_JSON_BYTES))
        {
            Ok(t) => t,
            Err(e) if e.is_not_found() => {
                return Err(ConfigError::NoProject {
                    dir: dir.to_path_buf(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let config = parse_config(&path, &text)?;
        let project = Project {
            root: dir.to_path_buf(),
            config,
        };
        project.validate(&text)?;
        Ok(project)
    }

    /// Where `"key":` is in config.json (line 1 if it cannot be found), for messages about a
    /// value that parsed but does not work.
    pub fn key_location(&self, key: &str) -> Location {
        locate_key(&self.config_path(), &self.config_text(), key)
    }

    /// Every key of `builder.trustedPublicKeys` is trusted by the user's own settings (see
    /// `trust.rs`): checked before each build, so a cloned project cannot bring its own key.
    pub fn check_keys_trusted(&self) -> Result<(), ConfigError> {
        super::check_keys_trusted(
            &self.config_path(),
            &self.config_text(),
            &self.config.builder.trusted_public_keys,
        )
    }

    /// config.json's text as it is now, for locating keys in messages ("" if it cannot be read).
    fn config_text(&self) -> String {
        resolve_inside(&self.root, Path::new("config.json"))
            .and_then(|p| read_text(&p, MAX_CONFIG_JSON_BYTES))
            .unwrap_or_default()
    }

    /// Where project file `entry` (relative to the project) really is, symlinks resolved; a file
    /// that resolves outside the project is refused (see `project_file.rs` for the rules). Read
    /// and write project files only through the path this returns.
    pub fn resolve(&self, entry: &str) -> Result<PathBuf, ConfigError> {
        Ok(resolve_inside(&self.root, Path::new(entry))?)
    }

    /// The configuration files, as (entry as written, resolved path): `baseConfig`, the
    /// `userConfig` entries in order, then `workdir/local.nix` if there is one. These are the
    /// only project files a build needs (upload each one's content, read with
    /// [`read_text`](super::read_text), under its entry name; never upload links).
    pub fn config_files(&self) -> Result<Vec<(String, PathBuf)>, ConfigError> {
        let mut files = vec![(
            self.config.base_config.clone(),
            self.resolve(&self.config.base_config)?,
        )];
        for e in &self.config.user_config {
            files.push((e.clone(), self.resolve(e)?));
        }
        if let Some(local) = self.local_file() {
            files.push(("workdir/local.nix".into(), local));
        }
        Ok(files)
    }

    /// Loads the project again (after a rewrite such as a preset toggle).
    pub fn reload(&self) -> Result<Project, ConfigError> {
        Project::load(&self.root)
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    pub fn base_file(&self) -> PathBuf {
        self.root.join(&self.config.base_config)
    }

    /// The userConfig files, in order.
    pub fn user_files(&self) -> Vec<PathBuf> {
        self.config
            .user_config
            .iter()
            .map(|f| self.root.join(f))
            .collect()
    }

    pub fn workdir(&self) -> PathBuf {
        self.root.join("workdir")
    }

    /// `workdir/local.nix`, when the project has one: packages the user keeps beside their
    /// work. It is built with the userConfig files and counts in the tag.
    /// Resolved like every project file: a `local.nix` that links out of the project is not
    /// used (loading the project refuses it).
    pub fn local_file(&self) -> Option<PathBuf> {
        resolve_inside(&self.root, Path::new(LOCAL_NIX))
            .ok()
            .filter(|f| f.is_file())
    }

    /// The file `add`/`remove` edit: `file` if given (an entry of userConfig, or
    /// `workdir/local.nix`), else `user.nix` if it is in userConfig, else the last entry that is
    /// not a preset. Returns the entry as written and its path.
    pub fn user_file(&self, file: Option<&str>) -> Result<(String, PathBuf), ConfigError> {
        let entries = &self.config.user_config;
        let invalid = |message: String| ConfigError::Invalid {
            at: self.key_location("userConfig"),
            message,
        };
        if let Some(f) = file {
            if let Some(e) = entries.iter().find(|e| same_entry(e, f)) {
                return Ok((e.clone(), self.resolve(e)?));
            }
            if same_entry(f, LOCAL_NIX) {
                if let Some(path) = self.local_file() {
                    return Ok((LOCAL_NIX.into(), path));
                }
            }
            return Err(invalid(format!(
                "{f:?} is not an entry of userConfig ({}); add it there first or pick one of them",
                entries.join(", ")
            )));
        }
        let chosen = entries
            .iter()
            .find(|e| same_entry(e, "user.nix"))
            .or_else(|| {
                entries
                    .iter()
                    .rev()
                    .find(|e| !normalise_entry(e).starts_with("presets"))
            });
        match chosen {
            Some(e) => Ok((e.clone(), self.resolve(e)?)),
            None => Err(invalid(
                "userConfig has no file of your own to edit (only presets); add \"user.nix\" to \
                 it, or pass --file"
                    .into(),
            )),
        }
    }

    /// The image this configuration maps to (see `docs/config.md` for what is hashed).
    pub fn image_ref(&self) -> Result<ImageRef, ConfigError> {
        super::identity::image_ref(self)
    }

    /// Replaces `userConfig` in `config.json`, keeping every other key, their order and the
    /// file's indentation; the write is atomic. `self` is not updated: [`reload`](Self::reload).
    ///
    /// Call it under the project's [`EditLock`](super::EditLock) with `self` loaded under that
    /// lock. If config.json's userConfig is no longer the one `self` was loaded with (an edit
    /// outside the lock), nothing is written: [`ConfigError::ChangedOnDisk`].
    pub fn set_user_config(&self, entries: &[String]) -> Result<(), ConfigError> {
        let path = self.resolve("config.json")?;
        let text = read_text(&path, MAX_CONFIG_JSON_BYTES)?;
        let mut doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| json_error(&path, &e))?;
        let on_disk: Option<Vec<String>> = doc
            .get("userConfig")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        if on_disk.as_ref() != Some(&self.config.user_config) {
            return Err(ConfigError::ChangedOnDisk { path });
        }
        let obj = doc.as_object_mut().ok_or_else(|| ConfigError::Invalid {
            at: Location::from_offset(&path, &text, 0),
            message: "config.json must hold a JSON object".into(),
        })?;
        obj.insert(
            "userConfig".to_string(),
            serde_json::Value::Array(
                entries
                    .iter()
                    .map(|e| serde_json::Value::String(e.clone()))
                    .collect(),
            ),
        );
        let out = splice_user_config(&text, entries)
            .filter(|spliced| {
                serde_json::from_str::<serde_json::Value>(spliced).ok() == Some(doc.clone())
            })
            .unwrap_or_else(|| to_json_like(&doc, &text));
        crate::fsutil::write_atomic(&path, out.as_bytes())
            .map_err(|source| ConfigError::Io { path, source })
    }

    /// A file config.json names: there, inside the project (links resolved), a regular file of
    /// a size a configuration file can have.
    fn check_file(&self, key: &'static str, entry: &str, at: Location) -> Result<(), ConfigError> {
        let result = resolve_inside(&self.root, Path::new(entry))
            .and_then(|p| check_regular(&p, MAX_NIX_FILE_BYTES));
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Err(ConfigError::MissingFile {
                at,
                key,
                file: entry.to_string(),
                path: self.root.join(entry),
            }),
            Err(problem) => Err(ConfigError::BadFile {
                at,
                key,
                file: entry.to_string(),
                problem: Box::new(problem),
            }),
        }
    }

    fn validate(&self, text: &str) -> Result<(), ConfigError> {
        let path = self.config_path();
        let at = |key: &str| locate_key(&path, text, key);
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            at: at(key),
            message,
        };
        let c = &self.config;
        check_relative(&c.base_config)
            .map_err(|m| invalid("baseConfig", format!("baseConfig {m}")))?;
        self.check_file("baseConfig", &c.base_config, at("baseConfig"))?;
        for (i, entry) in c.user_config.iter().enumerate() {
            check_relative(entry)
                .map_err(|m| invalid("userConfig", format!("userConfig entry {entry:?} {m}")))?;
            if c.user_config[..i].iter().any(|e| same_entry(e, entry)) {
                return Err(invalid(
                    "userConfig",
                    format!("userConfig lists {entry:?} twice; keep one"),
                ));
            }
            let place = locate_string(&path, text, entry).unwrap_or_else(|| at("userConfig"));
            self.check_file("userConfig", entry, place)?;
        }
        // `workdir/local.nix` is a configuration file when it is there at all.
        if std::fs::symlink_metadata(self.root.join(LOCAL_NIX)).is_ok() {
            match resolve_inside(&self.root, Path::new(LOCAL_NIX))
                .and_then(|p| check_regular(&p, MAX_NIX_FILE_BYTES))
            {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        match &c.nixpkgs {
            PackageSetPin::Tarball { url, sha256 } => {
                if url.trim().is_empty() || sha256.trim().is_empty() {
                    return Err(invalid(
                        "nixpkgs",
                        "nixpkgs: a tarball pin needs a non-empty url and sha256".into(),
                    ));
                }
            }
            PackageSetPin::Channel { channel } => {
                if channel.trim().is_empty() {
                    return Err(invalid("nixpkgs", "nixpkgs.channel is empty".into()));
                }
            }
            PackageSetPin::Path { path: p } => {
                if p.trim().is_empty() {
                    return Err(invalid("nixpkgs", "nixpkgs.path is empty".into()));
                }
            }
        }
        let img = &c.image;
        if !(2..=125).contains(&img.max_layers) {
            return Err(invalid(
                "maxLayers",
                format!(
                    "image.maxLayers is {}; use 2 to 125 (Docker refuses more than 125 layers)",
                    img.max_layers
                ),
            ));
        }
        if !valid_name_prefix(&img.name_prefix) {
            return Err(invalid(
                "namePrefix",
                format!(
                    "image.namePrefix {:?} is not valid in a repository name: use lowercase letters, \
                     digits and `.`, `_`, `-`, `/`, starting with a letter or digit",
                    img.name_prefix
                ),
            ));
        }
        if !valid_user(&img.user) {
            return Err(invalid(
                "user",
                format!(
                    "image.user {:?} is not a valid user name (lowercase letters, digits, `_`, `-`)",
                    img.user
                ),
            ));
        }
        check_container_workdir(&img.workdir)
            .map_err(|m| invalid("workdir", format!("image.workdir {:?} {m}", img.workdir)))?;
        if let Some(r) = &c.registry {
            if r.host.trim().is_empty() {
                return Err(invalid("registry", "registry.host is empty".into()));
            }
        }
        super::builder_check::check_builder(&path, text, &c.builder)?;
        if let Some(cache) = &c.binary_cache {
            let at = |key: &str, value: &str| {
                locate_string(&path, text, value).unwrap_or_else(|| locate_key(&path, text, key))
            };
            super::check_cache_url(&cache.url).map_err(|why| ConfigError::Invalid {
                at: at("url", &cache.url),
                message: format!("binaryCache.url {why}"),
            })?;
            super::check_public_key(&cache.public_key).map_err(|why| ConfigError::Invalid {
                at: at("publicKey", &cache.public_key),
                message: format!(
                    "binaryCache.publicKey {:?} is not a Nix public key: {why} (NAME:BASE64)",
                    cache.public_key
                ),
            })?;
        }
        Ok(())
    }
}

/// `image.workdir` is where `workdir/` is mounted in the container and a folder of the image's
/// root layer: a clean absolute path below `/` (no `.`, `..`, empty components or trailing `/`,
/// not `/nix`, which would hide the store) in printable characters without `:` or `\\`, which
/// mount specifications and tar paths give meanings of their own.
fn check_container_workdir(dir: &str) -> Result<(), String> {
    if !dir.starts_with('/') {
        return Err("must be an absolute path, such as /home/user/workdir".into());
    }
    if dir.chars().any(|c| c.is_control()) {
        return Err("holds a control character; use printable characters only".into());
    }
    if dir.contains(':') || dir.contains('\\') {
        return Err("holds `:` or `\\`, which are not allowed in the mount point".into());
    }
    let parts: Vec<&str> = dir[1..].split('/').collect();
    if dir == "/" {
        return Err(
            "is the root folder; name a folder below it, such as /home/user/workdir".into(),
        );
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(
            "is not a clean path (no `.`, `..`, `//` or trailing `/`); write it as /a/b".into(),
        );
    }
    if parts[0] == "nix" {
        return Err("is under /nix, where the image's store is; pick another folder".into());
    }
    if dir.len() > 1024 {
        return Err("is longer than 1024 bytes".into());
    }
    Ok(())
}

/// The `builder` settings of `DIR/config.json`, validated, or the defaults when there is no
/// config.json: the builder is shared by all projects, so `builder create`/`status` work
/// anywhere and need no complete project.
pub fn builder_settings(dir: &Path) -> Result<super::BuilderSettings, ConfigError> {
    Ok(read_builder_settings(dir)?.0)
}

/// [`builder_settings`] for baking into a builder image (`builder create`): the keys a project
/// names must also be trusted by the user's own settings, as for a build.
pub fn trusted_builder_settings(dir: &Path) -> Result<super::BuilderSettings, ConfigError> {
    let (settings, text) = read_builder_settings(dir)?;
    super::check_keys_trusted(
        &dir.join("config.json"),
        &text,
        &settings.trusted_public_keys,
    )?;
    Ok(settings)
}

/// The settings and config.json's text ("" when there is no config.json).
fn read_builder_settings(dir: &Path) -> Result<(super::BuilderSettings, String), ConfigError> {
    #[derive(serde::Deserialize)]
    struct OnlyBuilder {
        #[serde(default)]
        builder: super::BuilderSettings,
    }
    let path = dir.join("config.json");
    // Read like every project file (regular, size-limited, never through a link out).
    let text = match super::resolve_inside(dir, Path::new("config.json"))
        .and_then(|p| super::read_text(&p, super::MAX_CONFIG_JSON_BYTES))
    {
        Ok(text) => text,
        Err(e) if e.is_not_found() => {
            return Ok((super::BuilderSettings::default(), String::new()))
        }
        Err(e) => return Err(e.into()),
    };
    let only: OnlyBuilder = serde_json::from_str(&text).map_err(|e| json_error(&path, &e))?;
    super::builder_check::check_builder(&path, &text, &only.builder)?;
    Ok((only.builder, text))
}

/// Parses config.json into the typed model, with positions on every error.
fn parse_config(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    if !doc.is_object() {
        return Err(ConfigError::Invalid {
            at: Location::from_offset(path, text, text.len() - text.trim_start().len()),
            message:
                "config.json must hold a JSON object `{ \"baseConfig\": …, \"userConfig\": [ … ] }`"
                    .into(),
        });
    }
    check_pin_form(path, text, &doc)?;
    super::image_check::check_image_keys(path, text, &doc)?;
    serde_json::from_str(text).map_err(|e| json_error(path, &e))
}

/// `nixpkgs` is exactly one of its three forms: keys of two (`path` and `channel`) would
/// otherwise parse as whichever form comes first, the other silently ignored.
fn check_pin_form(path: &Path, text: &str, doc: &serde_json::Value) -> Result<(), ConfigError> {
    let Some(pin) = doc.get("nixpkgs").and_then(|p| p.as_object()) else {
        return Ok(());
    };
    let forms: Vec<&str> = [
        ("`url`/`sha256` (a tarball)", &["url", "sha256"][..]),
        ("`channel`", &["channel"]),
        ("`path`", &["path"]),
    ]
    .into_iter()
    .filter(|(_, keys)| keys.iter().any(|k| pin.contains_key(*k)))
    .map(|(name, _)| name)
    .collect();
    if forms.len() > 1 {
        return Err(ConfigError::Invalid {
            at: locate_key(path, text, "nixpkgs"),
            message: format!(
                "nixpkgs has {}: give exactly one form of pin (a tarball `{{\"url\", \"sha256\"}}`, \
                 a `{{\"channel\"}}` or a `{{\"path\"}}`)",
                forms.join(" and ")
            ),
        });
    }
    Ok(())
}

/// A serde_json error as `file:line:column: message` (its own "at line L column C" dropped).
fn json_error(path: &Path, e: &serde_json::Error) -> ConfigError {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let hint = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "; fix the JSON syntax"
        }
        _ => "; see docs/config.md for the keys and their types",
    };
    ConfigError::Invalid {
        at: Location {
            file: path.to_path_buf(),
            line: e.line().max(1),
            column: e.column().max(1),
        },
        message: format!("{msg}{hint}"),
    }
}

/// Where `"key":` first appears in the text (for messages about a valid JSON value).
pub(super) fn locate_key(path: &Path, text: &str, key: &str) -> Location {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let rest = text[at + needle.len()..].trim_start();
        if rest.starts_with(':') {
            return Location::from_offset(path, text, at);
        }
        from = at + needle.len();
    }
    Location::from_offset(path, text, 0)
}

/// Where the JSON string `"s"` appears.
pub(super) fn locate_string(path: &Path, text: &str, s: &str) -> Option<Location> {
    let needle = serde_json::to_string(s).ok()?;
    text.find(&needle)
        .map(|i| Location::from_offset(path, text, i))
}

/// A project file must be a relative path that stays inside the project.
fn check_relative(entry: &str) -> Result<(), String> {
    if entry.trim().is_empty() {
        return Err("is empty".into());
    }
    let p = Path::new(entry);
    if p.is_absolute() {
        return Err("must be relative to the project folder".into());
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("must stay inside the project folder (no `..`)".into());
    }
    Ok(())
}

/// Whether two userConfig entries name the same file (`./a.nix` and `a.nix` do).
pub fn same_entry(a: &str, b: &str) -> bool {
    normalise_entry(a) == normalise_entry(b)
}

/// An entry without `.` components, for comparisons.
pub fn normalise_entry(e: &str) -> PathBuf {
    Path::new(e)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn valid_name_prefix(p: &str) -> bool {
    p.len() <= 200
        && p.chars()
            .next()
            .is_none_or(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
        })
        && !p.contains("//")
}

fn valid_user(u: &str) -> bool {
    let mut chars = u.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        && u.len() <= 32
}

/// `text` with only the `userConfig` array's text replaced, every other byte kept.
fn splice_user_config(text: &str, entries: &[String]) -> Option<String> {
    let (start, end) = super::json_edit::top_level_value_span(text, "userConfig")?;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let array = super::json_edit::string_array_like(entries, &text[start..end], indent, eol);
    Some(format!("{}{array}{}", &text[..start], &text[end..]))
}

/// The whole document re-serialised (when the text could not be spliced): serialises `doc` with the indentation `original` uses (compact if it was on one line), and
/// its trailing newline if it had one.
fn to_json_like(doc: &serde_json::Value, original: &str) -> String {
    use serde::Serialize;
    let trimmed = original.trim_end();
    let mut out = if !trimmed.contains('\n') {
        serde_json::to_string(doc).expect("a Value serialises")
    } else {
        let indent = original
            .lines()
            .skip(1)
            .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
            .find(|ws| !ws.is_empty())
            .unwrap_or("  ");
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        doc.serialize(&mut ser).expect("a Value serialises");
        String::from_utf8(buf).expect("JSON is UTF-8")
    };
    if original.ends_with('\n') {
        out.push_str(if original.ends_with("\r\n") {
            "\r\n"
        } else {
            "\n"
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(config: &str, files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
        }
        dir
    }

    #[test]
    fn a_prototype_file_with_two_keys_is_valid() {
        let d = project(
            r#"{ "baseConfig": "base.nix", "userConfig": ["user.nix"] }"#,
            &["base.nix", "user.nix"],
        );
        let p = Project::load(d.path()).unwrap();
        assert_eq!(p.config.user_config, ["user.nix"]);
        assert_eq!(p.config.image.max_layers, 100);
        assert_eq!(p.user_files(), [d.path().join("user.nix")]);
    }

    #[test]
    fn no_config_json_is_no_project() {
        let d = tempfile::tempdir().unwrap();
        let e = Project::load(d.path()).unwrap_err();
        assert!(matches!(e, ConfigError::NoProject { .. }));
        assert_eq!(e.category(), crate::Category::BadInput);
        assert!(e.to_string().contains("no config.json"), "{e}");
    }

    #[test]
    fn a_file_or_a_missing_folder_is_no_project_and_non_utf8_is_invalid() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(matches!(
            Project::load(&f),
            Err(ConfigError::NoProject { .. })
        ));
        assert!(matches!(
            Project::load(&d.path().join("nope")),
            Err(ConfigError::NoProject { .. })
        ));
        std::fs::write(d.path().join("config.json"), b"{\"a\": \"\xff\"}").unwrap();
        let e = Project::load(d.path()).unwrap_err();
        assert_eq!(e.category(), crate::Category::BadInput);
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn malformed_json_says_line_and_column() {
        let d = project(
            "{\n  \"baseConfig\": \"base.nix\",\n  \"userConfig\": [\"user.nix\",]\n}\n",
            &[],
        );
        let e = Project::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json:3:29:"), "{e}");
        assert!(e.contains("fix the JSON syntax"), "{e}");
    }

    #[test]
    fn wrong_types_say_line_and_column() {
        let d = project(
            "{\n  \"baseConfig\": \"base.nix\",\n  \"userConfig\": \"user.nix\"\n}",
            &["base.nix"],
        );
        let e = Project::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json:3:"), "{e}");
        assert!(e.contains("expected a sequence"), "{e}");
        let d = project("[1]", &[]);
        let e = Project::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("must hold a JSON object"), "{e}");
        let d = project("{\"userConfig\": []}", &[]);
        let e = Project::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("missing field `baseConfig`"), "{e}");
    }

    #[test]
    fn missing_files_are_named() {
        let d = project(
            "{\n  \"baseConfig\": \"base.nix\",\n  \"userConfig\": [\"presets/python.nix\", \"user.nix\"]\n}",
            &["base.nix", "user.nix"],
        );
        let e = Project::load(d.path()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("config.json:3:18: userConfig names \"presets/python.nix\""),
            "{msg}"
        );
        assert_eq!(e.category(), crate::Category::BadInput);
        let d = project(r#"{"baseConfig": "nope.nix", "userConfig": []}"#, &[]);
        let msg = Project::load(d.path()).unwrap_err().to_string();
        assert!(msg.contains("baseConfig names \"nope.nix\""), "{msg}");
    }

    #[test]
    fn bad_values_are_rejected_with_their_key() {
        for (extra, needle) in [
            (r#""image": {"maxLayers": 200}"#, "maxLayers is 200"),
            (r#""image": {"namePrefix": "Biar-"}"#, "namePrefix"),
            (r#""image": {"user": "Root User"}"#, "image.user"),
            (r#""image": {"workdir": "work"}"#, "absolute"),
            (r#""image": {"workdir": "/"}"#, "root folder"),
            (
                r#""image": {"workdir": "/home/../etc"}"#,
                "not a clean path",
            ),
            (r#""image": {"workdir": "/home/user/"}"#, "not a clean path"),
            (r#""image": {"workdir": "/home//user"}"#, "not a clean path"),
            (r#""image": {"workdir": "/work:ro"}"#, "`:`"),
            (
                r#""image": {"workdir": "/work\u001b]0;x\u0007"}"#,
                "control character",
            ),
            (r#""image": {"workdir": "/nix/store"}"#, "/nix"),
            (r#""nixpkgs": {"url": "", "sha256": ""}"#, "tarball pin"),
            (
                r#""image": {"profile": "coderr"}"#,
                "image.profile \"coderr\"",
            ),
            (
                r#""image": {"uid": "abc"}"#,
                "image.uid \"abc\" is not a number",
            ),
            (r#""image": {"gid": -1}"#, "image.gid -1 is not a number"),
            (r#""image": {"uid": 0}"#, "image.uid 0"),
            (r#""image": {"uid": 1.5}"#, "image.uid 1.5"),
        ] {
            let d = project(
                &format!(r#"{{"baseConfig": "base.nix", "userConfig": [], {extra}}}"#),
                &["base.nix"],
            );
            let msg = Project::load(d.path()).unwrap_err().to_string();
            assert!(msg.contains(needle), "{extra}: {msg}");
        }
        // image.workdir's errors point at its key in config.json.
        let d = project(
            "{\"baseConfig\": \"base.nix\", \"userConfig\": [],\n  \"image\": {\"workdir\": \"/a/../b\"}}",
            &["base.nix"],
        );
        let e = Project::load(d.path()).unwrap_err();
        assert!(
            e.to_string().contains("config.json:2:13: image.workdir"),
            "{e}"
        );
        assert_eq!(e.category(), crate::Category::BadInput);
        let d = project(r#"{"baseConfig": "../base.nix", "userConfig": []}"#, &[]);
        let msg = Project::load(d.path()).unwrap_err().to_string();
        assert!(msg.contains("inside the project"), "{msg}");
        let d = project(
            r#"{"baseConfig": "base.nix", "userConfig": ["u.nix", "./u.nix"]}"#,
            &["base.nix", "u.nix"],
        );
        let msg = Project::load(d.path()).unwrap_err().to_string();
        assert!(msg.contains("twice"), "{msg}");
    }

    #[test]
    fn the_user_file_defaults_to_user_nix_then_the_last_own_file() {
        let d = project(
            r#"{"baseConfig": "base.nix", "userConfig": ["presets/go.nix", "./user.nix", "more.nix"]}"#,
            &["base.nix", "user.nix", "more.nix", "presets/go.nix"],
        );
        let p = Project::load(d.path()).unwrap();
        assert_eq!(p.user_file(None).unwrap().0, "./user.nix");
        assert_eq!(p.user_file(Some("more.nix")).unwrap().0, "more.nix");
        assert_eq!(
            p.user_file(Some("./presets/go.nix")).unwrap().0,
            "presets/go.nix"
        );
        let e = p.user_file(Some("other.nix")).unwrap_err();
        assert_eq!(e.category(), crate::Category::BadInput);
        assert!(e.to_string().contains("not an entry of userConfig"), "{e}");

        let d = project(
            r#"{"baseConfig": "base.nix", "userConfig": ["presets/go.nix", "mine.nix"]}"#,
            &["base.nix", "mine.nix", "presets/go.nix"],
        );
        let p = Project::load(d.path()).unwrap();
        assert_eq!(p.user_file(None).unwrap().0, "mine.nix");
        let d = project(
            r#"{"baseConfig": "base.nix", "userConfig": ["presets/go.nix"]}"#,
            &["base.nix", "presets/go.nix"],
        );
        let p = Project::load(d.path()).unwrap();
        assert!(p
            .user_file(None)
            .unwrap_err()
            .to_string()
            .contains("--file"));
    }

    #[test]
    fn rewriting_user_config_keeps_unknown_keys_order_and_indent() {
        let original = "{\n    \"zeta\": 1,\n    \"baseConfig\": \"base.nix\",\n    \"userConfig\": [\"user.nix\"],\n    \"DOCKER_REGISTRY_HOST\": \"localhost:5000\",\n    \"custom\": {\"b\": 1, \"a\": 2}\n}\n";
        let d = project(original, &["base.nix", "user.nix", "presets/go.nix"]);
        let p = Project::load(d.path()).unwrap();
        p.set_user_config(&["presets/go.nix".into(), "user.nix".into()])
            .unwrap();
        let text = std::fs::read_to_string(d.path().join("config.json")).unwrap();
        assert_eq!(
            text,
            original.replace("[\"user.nix\"]", "[\"presets/go.nix\", \"user.nix\"]")
        );
        let p = p.reload().unwrap();
        assert_eq!(p.config.user_config, ["presets/go.nix", "user.nix"]);
    }

    #[test]
    fn multi_line_user_config_stays_multi_line_with_crlf() {
        let original = "{\r\n\t\"baseConfig\": \"base.nix\",\r\n\t\"userConfig\": [\r\n\t\t\"user.nix\"\r\n\t],\r\n\t\"x\": {\"y\": [1, 2]}\r\n}";
        let d = project(original, &["base.nix", "user.nix", "a.nix"]);
        let p = Project::load(d.path()).unwrap();
        p.set_user_config(&["a.nix".into(), "user.nix".into()])
            .unwrap();
        let text = std::fs::read_to_string(d.path().join("config.json")).unwrap();
        assert_eq!(
            text,
            original.replace("\t\t\"user.nix\"", "\t\t\"a.nix\",\r\n\t\t\"user.nix\"")
        );
    }

    #[test]
    fn a_user_config_changed_since_loading_is_not_overwritten() {
        let d = project(
            r#"{"baseConfig": "base.nix", "userConfig": ["user.nix"]}"#,
            &["base.nix", "user.nix", "a.nix"],
        );
        let stale = Project::load(d.path()).unwrap();
        let changed = r#"{"baseConfig": "base.nix", "userConfig": ["a.nix", "user.nix"]}"#;
        std::fs::write(d.path().join("config.json"), changed).unwrap();
        let e = stale.set_user_config(&[]).unwrap_err();
        assert!(matches!(e, ConfigError::ChangedOnDisk { .. }), "{e}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("config.json")).unwrap(),
            changed
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let d = project(
            "{\"baseConfig\": \"base.nix\", \"userConfig\": [], \"userConfig\": []}",
            &["base.nix"],
        );
        let e = Project::load(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("config.json:1:") && e.contains("duplicate field `userConfig`"),
            "{e}"
        );
    }
}
