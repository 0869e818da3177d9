//! The shared Nix binary cache: which caches a build substitutes from (passed per build on
//! `nix-build`'s command line, never baked into the builder image), and the upload of a
//! successful build's paths, signed with the user's key.
//!
//! Trust lives with the user, not the project: the user's `[binary-cache]` (config.toml under
//! `$XDG_CONFIG_HOME/biar/`) is used as it is; a project's `binaryCache` only when the user trusts
//! its key (`trusted-public-keys`), else it is skipped with a warning. A cache that cannot be
//! used (unreachable, paths signed by another key) is a warning and Nix builds instead
//! (`fallback`); a refused upload is a warning and the build's result is kept.

use std::path::PathBuf;

use crate::config::{CacheUrl, Project, TrustedPaths, TRUSTED_KEYS_KEY};
use crate::docker::tar_stream::{tar_stream, TarEntry};
use crate::docker::{BuilderContainer, ExecOutput};
use crate::progress::{self, neutralise_text, plain_text, BuildEvent};

use super::BuildError;

/// Where the signing key is while an upload runs (the container's own filesystem, not the shared
/// store volume; removed right after).
const KEY_IN_CONTAINER: &str = "/run/biar-cache-signing.key";

/// A cache a build substitutes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub url: String,
    /// Its key, when known (the user's `public-key` or the project's trusted `publicKey`).
    pub public_key: Option<String>,
}

/// Where a successful build's paths go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub url: String,
    pub secret_key_file: PathBuf,
}

/// The caches of one build, decided before it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePlan {
    /// Substituted from first, in order, before `builder.substituters`.
    pub caches: Vec<Cache>,
    pub push: Option<PushTarget>,
    /// Folders of `file://` caches, mounted into the builder at the same path.
    pub host_dirs: Vec<String>,
    /// Warnings to send when the build starts (a project cache the user does not trust).
    pub warnings: Vec<(String, String)>,
}

impl CachePlan {
    /// The plan for `project` under the user's settings (`$XDG_CONFIG_HOME/biar/config.toml`).
    pub fn for_project(project: &Project) -> Result<CachePlan, BuildError> {
        let trusted = TrustedPaths::load()?;
        Ok(CachePlan::with(project, &trusted))
    }

    pub fn with(project: &Project, trusted: &TrustedPaths) -> CachePlan {
        let mut plan = CachePlan::default();
        let user = &trusted.cache;
        if let Some(url) = &user.url {
            plan.caches.push(Cache {
                url: url.clone(),
                public_key: user.public_key.clone(),
            });
        }
        let mut project_cache = None;
        if let Some(c) = &project.config.binary_cache {
            let is_file = matches!(
                crate::config::check_cache_url(&c.url),
                Ok(CacheUrl::File { .. })
            );
            if is_file {
                // A file:// cache is a host folder mounted into the builder: the user's to name.
                plan.warnings.push((
                    c.url.clone(),
                    format!(
                        "not used: a project cannot name a file:// cache (it would mount a folder \
                         of this machine into the builder); put it in your own [binary-cache] \
                         url in {}",
                        trusted.file.display()
                    ),
                ));
            } else if trusted.trusts_key(&c.public_key) {
                project_cache = Some(c.url.clone());
                if !plan.caches.iter().any(|k| k.url == c.url) {
                    plan.caches.push(Cache {
                        url: c.url.clone(),
                        public_key: Some(c.public_key.clone()),
                    });
                }
            } else {
                plan.warnings.push((
                    c.url.clone(),
                    format!(
                        "not used: config.json's binaryCache.publicKey {:?} is not a key your own \
                         settings trust (a project's cache could hand forged paths to the shared \
                         store). To use it, add it to `{TRUSTED_KEYS_KEY}` in {}",
                        c.public_key,
                        trusted.file.display()
                    ),
                ));
            }
        }
        if user.push {
            match (user.url.clone().or(project_cache), &user.secret_key_file) {
                (Some(url), Some(key)) => {
                    plan.push = Some(PushTarget {
                        url,
                        secret_key_file: key.clone(),
                    })
                }
                _ => plan.warnings.push((
                    trusted.file.display().to_string(),
                    "binary-cache.push is on but there is no cache to push to (no \
                     binary-cache.url, and no trusted binaryCache in config.json): nothing is \
                     uploaded"
                        .into(),
                )),
            }
        }
        let urls = plan
            .caches
            .iter()
            .map(|c| c.url.as_str())
            .chain(plan.push.iter().map(|p| p.url.as_str()));
        for url in urls {
            if let Ok(CacheUrl::File { dir }) = crate::config::check_cache_url(url) {
                if !plan.host_dirs.contains(&dir) {
                    plan.host_dirs.push(dir);
                }
            }
        }
        plan
    }

    /// `substituters` for `nix-build`: the caches first, then the builder's.
    pub fn substituters(&self, builder: &[String]) -> String {
        let mut all: Vec<&str> = self.caches.iter().map(|c| c.url.as_str()).collect();
        for s in builder {
            if !all.contains(&s.as_str()) {
                all.push(s);
            }
        }
        all.join(" ")
    }

    /// `trusted-public-keys` for `nix-build`: the builder's and the caches' keys.
    pub fn trusted_keys(&self, builder: &[String]) -> String {
        let mut all: Vec<&str> = builder.iter().map(String::as_str).collect();
        for k in self.caches.iter().filter_map(|c| c.public_key.as_deref()) {
            if !all.contains(&k) {
                all.push(k);
            }
        }
        all.join(" ")
    }

    /// Makes the `file://` caches' folders (on this machine, which is the engine's with the
    /// local socket): Docker refuses to mount a missing folder.
    pub fn make_host_dirs(&self) -> Result<(), BuildError> {
        for dir in &self.host_dirs {
            std::fs::create_dir_all(dir).map_err(|e| {
                BuildError::Other(format!("making the file:// binary cache folder {dir}: {e}"))
            })?;
        }
        Ok(())
    }
}

/// Signs `env_path`'s closure with the user's key and copies to the push target what it lacks
/// (`nix store sign` + `nix copy --to`). Never fails the build: a refused upload, a missing key
/// file, an unreachable cache become a [`BuildEvent::CacheWarning`].
pub async fn push(
    container: &BuilderContainer,
    target: &PushTarget,
    env_path: &str,
    events: &progress::Sender,
) {
    let event = match push_inner(container, target, env_path).await {
        Ok(paths) => BuildEvent::CachePushed {
            cache: target.url.clone(),
            paths,
        },
        Err(reason) => BuildEvent::CacheWarning {
            cache: target.url.clone(),
            reason: format!(
                "upload refused, the build itself is kept (the image is made as usual): {reason}"
            ),
        },
    };
    events.send(event);
}

async fn push_inner(
    container: &BuilderContainer,
    target: &PushTarget,
    env_path: &str,
) -> Result<u64, String> {
    let file = &target.secret_key_file;
    let key = tokio::fs::read(file)
        .await
        .map_err(|e| format!("reading the signing key {}: {e}", file.display()))?;
    container
        .upload_tar(
            "/",
            tar_stream(vec![TarEntry::File {
                dest: PathBuf::from(KEY_IN_CONTAINER.trim_start_matches('/')),
                bytes: key,
                mode: 0o400,
            }]),
        )
        .await
        .map_err(|e| e.to_string())?;
    let result = sign_and_copy(container, &target.url, env_path).await;
    let _ = container.exec_output(&["rm", "-f", KEY_IN_CONTAINER]).await;
    result
}

async fn sign_and_copy(
    container: &BuilderContainer,
    url: &str,
    env_path: &str,
) -> Result<u64, String> {
    let nix = |args: &[&str]| {
        let mut cmd = vec!["nix", "--extra-experimental-features", "nix-command"];
        cmd.extend_from_slice(args);
        cmd.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let sign = nix(&[
        "store",
        "sign",
        "--key-file",
        KEY_IN_CONTAINER,
        "--recursive",
        env_path,
    ]);
    let (code, errors, _) = run(container, &sign).await?;
    if code != 0 {
        return Err(format!("signing failed: {errors}"));
    }
    let copy = nix(&[
        "copy",
        "--to",
        url,
        "--log-format",
        "internal-json",
        "-v",
        env_path,
    ]);
    let (code, errors, copied) = run(container, &copy).await?;
    if code != 0 {
        if errors.contains("does not appear to be a binary cache") {
            // Nix 2.8 creates `nix-cache-info` in an empty cache first; a refused PUT says this.
            return Err(format!(
                "{errors} (it has no nix-cache-info and did not accept one: does the server \
                 allow uploads, PUT?)"
            ));
        }
        return Err(errors);
    }
    Ok(copied)
}

/// Runs `cmd`: its exit code, Nix's errors (plain text) and how many paths it copied (the
/// copyPath activities of an internal-json log).
async fn run(container: &BuilderContainer, cmd: &[String]) -> Result<(i64, String, u64), String> {
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let mut exec = container
        .exec(&args, &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = super::internal_json::LineBuffer::default();
    let mut summary = Summary::default();
    while let Some(chunk) = exec.next().await {
        if let ExecOutput::Stderr(b) = chunk.map_err(|e| e.to_string())? {
            for line in lines.push(&b) {
                summary.feed(&line);
            }
        }
    }
    if let Some(line) = lines.finish() {
        summary.feed(&line);
    }
    let code = exec.exit_code().await.map_err(|e| e.to_string())?;
    Ok((code, summary.errors(), summary.copied))
}

/// What a `nix copy`/`nix store sign` said: its errors and the paths it copied.
#[derive(Default)]
struct Summary {
    errors: Vec<String>,
    copied: u64,
}

impl Summary {
    fn feed(&mut self, line: &str) {
        #[derive(serde::Deserialize)]
        struct Line {
            action: String,
            #[serde(rename = "type", default)]
            typ: u64,
            #[serde(default)]
            level: u8,
            #[serde(default)]
            msg: String,
        }
        match line.strip_prefix("@nix ") {
            Some(json) => match serde_json::from_str::<Line>(json) {
                Ok(l) if l.action == "start" && l.typ == 100 => self.copied += 1,
                Ok(l) if l.action == "msg" && l.level == 0 => self.push(&l.msg),
                _ => {}
            },
            None if line.contains("error") => self.push(line),
            None => {}
        }
    }

    fn push(&mut self, text: &str) {
        if self.errors.len() < 5 {
            self.errors.push(plain_text(text).trim().to_string());
        }
    }

    fn errors(&self) -> String {
        if self.errors.is_empty() {
            return "Nix said nothing more".into();
        }
        neutralise_text(&self.errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BinaryCacheSettings, Config};

    fn project(cache: Option<(&str, &str)>) -> Project {
        let mut config: Config =
            serde_json::from_str(r#"{"baseConfig": "base.nix", "userConfig": []}"#).unwrap();
        config.binary_cache = cache.map(|(url, key)| BinaryCacheSettings {
            url: url.into(),
            public_key: key.into(),
        });
        Project {
            root: PathBuf::from("/p"),
            config,
        }
    }

    const KEY: &str = "team-1:4bla6XJrsvT5YZLDmBAYWbblvBN9iESPLXZ/GDhlREk=";

    fn user(text: &str) -> (tempfile::TempDir, TrustedPaths) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        let t = TrustedPaths::load_from(dir.path()).unwrap();
        (dir, t)
    }

    #[test]
    fn a_project_cache_needs_the_users_trust() {
        let p = project(Some(("http://127.0.0.1:9/c", KEY)));
        let (_d, nobody) = user("");
        let plan = CachePlan::with(&p, &nobody);
        assert!(plan.caches.is_empty());
        assert_eq!(plan.warnings.len(), 1);
        assert!(
            plan.warnings[0].1.contains(TRUSTED_KEYS_KEY),
            "{:?}",
            plan.warnings
        );
        let (_d, trusting) = user(&format!("trusted-public-keys = [{KEY:?}]"));
        let plan = CachePlan::with(&p, &trusting);
        assert_eq!(plan.caches[0].url, "http://127.0.0.1:9/c");
        assert!(plan.warnings.is_empty());
        assert_eq!(
            plan.substituters(&["https://cache.nixos.org".into()]),
            "http://127.0.0.1:9/c https://cache.nixos.org"
        );
        assert_eq!(plan.trusted_keys(&[]), KEY);
        assert_eq!(plan.push, None);
    }

    #[test]
    fn a_project_cannot_mount_a_folder_through_a_file_cache() {
        let (_d, trusting) = user(&format!("trusted-public-keys = [{KEY:?}]"));
        let plan = CachePlan::with(&project(Some(("file:///root", KEY))), &trusting);
        assert!(plan.caches.is_empty() && plan.host_dirs.is_empty());
        assert!(
            plan.warnings[0].1.contains("file://"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn the_users_cache_comes_first_and_takes_the_uploads() {
        let (_d, t) = user(&format!(
            "[binary-cache]\nurl = \"file:///srv/c\"\npublic-key = {KEY:?}\n\
             secret-key-file = \"/k.sec\"\npush = true\n"
        ));
        let plan = CachePlan::with(&project(None), &t);
        assert_eq!(plan.caches[0].url, "file:///srv/c");
        assert_eq!(
            plan.push,
            Some(PushTarget {
                url: "file:///srv/c".into(),
                secret_key_file: "/k.sec".into()
            })
        );
        assert_eq!(plan.host_dirs, ["/srv/c"]);
    }

    #[test]
    fn upload_errors_are_nix_own_words() {
        let mut s = Summary::default();
        s.feed(r#"@nix {"action":"start","id":1,"type":100,"fields":["/nix/store/x"]}"#);
        s.feed(r#"@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m unable to upload 'http://x/y.narinfo': HTTP error 403"}"#);
        assert_eq!(s.copied, 1);
        assert!(s.errors().contains("HTTP error 403"), "{}", s.errors());
        assert!(!s.errors().contains('\u{1b}'));
    }
}
