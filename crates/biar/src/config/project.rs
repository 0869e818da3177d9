//! A loaded environment project: reading and validating `config.json`, and rewriting it.

use std::path::{Component, Path, PathBuf};

use super::{Config, ConfigError, ImageRef, PackageSetPin};
use crate::location::Location;

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
        let path = dir.join("config.json");
        if !dir.is_dir() {
            return Err(ConfigError::NoProject {
                dir: dir.to_path_buf(),
            });
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(ConfigError::Invalid {
                    at: Location {
                        file: path,
                        line: 1,
                        column: 1,
                    },
                    message: "config.json is not UTF-8 text; save it as UTF-8 JSON".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NoProject {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(ConfigError::Io { path, source }),
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
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        locate_key(&path, &text, key)
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
    pub fn local_file(&self) -> Option<PathBuf> {
        let f = self.workdir().join("local.nix");
        f.is_file().then_some(f)
    }

    /// The file `add`/`remove` edit: `file` if given (an entry of userConfig, or
    /// `workdir/local.nix`), else `user.nix` if it is in userConfig, else the last entry that is
    /// not a preset. Returns the entry as written and its path.
    pub fn user_file(&self, file: Option<&str>) -> Result<(String, PathBuf), ConfigError> {
        let entries = &self.config.user_config;
        let invalid = |message: String| ConfigError::Invalid {
            at: locate_key(
                &self.config_path(),
                &std::fs::read_to_string(self.config_path()).unwrap_or_default(),
                "userConfig",
            ),
            message,
        };
        if let Some(f) = file {
            if let Some(e) = entries.iter().find(|e| same_entry(e, f)) {
                return Ok((e.clone(), self.root.join(e)));
            }
            if same_entry(f, "workdir/local.nix") {
                let path = self.workdir().join("local.nix");
                if path.is_file() {
                    return Ok(("workdir/local.nix".into(), path));
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
            Some(e) => Ok((e.clone(), self.root.join(e))),
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
    pub fn set_user_config(&self, entries: &[String]) -> Result<(), ConfigError> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let mut doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| json_error(&path, &e))?;
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
        if !self.base_file().is_file() {
            return Err(ConfigError::MissingFile {
                at: at("baseConfig"),
                key: "baseConfig",
                file: c.base_config.clone(),
                path: self.base_file(),
            });
        }
        for (i, entry) in c.user_config.iter().enumerate() {
            check_relative(entry)
                .map_err(|m| invalid("userConfig", format!("userConfig entry {entry:?} {m}")))?;
            if c.user_config[..i].iter().any(|e| same_entry(e, entry)) {
                return Err(invalid(
                    "userConfig",
                    format!("userConfig lists {entry:?} twice; keep one"),
                ));
            }
            let file = self.root.join(entry);
            if !file.is_file() {
                return Err(ConfigError::MissingFile {
                    at: locate_string(&path, text, entry).unwrap_or_else(|| at("userConfig")),
                    key: "userConfig",
                    file: entry.clone(),
                    path: file,
                });
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
        if !img.workdir.starts_with('/') {
            return Err(invalid(
                "workdir",
                format!("image.workdir {:?} must be an absolute path", img.workdir),
            ));
        }
        if let Some(r) = &c.registry {
            if r.host.trim().is_empty() {
                return Err(invalid("registry", "registry.host is empty".into()));
            }
        }
        Ok(())
    }
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
    serde_json::from_str(text).map_err(|e| json_error(path, &e))
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
fn locate_key(path: &Path, text: &str, key: &str) -> Location {
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
fn locate_string(path: &Path, text: &str, s: &str) -> Option<Location> {
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
            (r#""nixpkgs": {"url": "", "sha256": ""}"#, "tarball pin"),
        ] {
            let d = project(
                &format!(r#"{{"baseConfig": "base.nix", "userConfig": [], {extra}}}"#),
                &["base.nix"],
            );
            let msg = Project::load(d.path()).unwrap_err().to_string();
            assert!(msg.contains(needle), "{extra}: {msg}");
        }
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
