//! Learning [`ImageFacts`] of any image in the engine: its config from the engine's inspect, its
//! files from a container that is created and never started (the engine's archive API reads
//! its filesystem: stat for modes and links, a tar of a path for contents and owners). Paths
//! found in the image (its PATH, the user's home) only ever go to the engine as an API
//! parameter, never to a shell. The container is removed afterwards (and by the owner watcher
//! if this process dies first).

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::rules::{resolve_user, HomeFact, ImageFacts};
use super::DoctorError;
use crate::docker::{Engine, ImageFiles};

/// Go's `os.FileMode` bits in the engine's stat answer.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
const MODE_STICKY: u32 = 1 << 20;
/// The most links followed, and the most bytes read of a file the doctor reads (passwd, group).
const MAX_LINKS: usize = 16;
const MAX_FILE: usize = 1 << 20;
const MAX_PATH_DIRS: usize = 16;

/// The image's config (`Config.User`, `Env`, `Labels`) and files.
pub async fn image_facts(engine: &Engine, reference: &str) -> Result<ImageFacts, DoctorError> {
    let Some(config) = engine.image_config(reference).await? else {
        return Err(DoctorError::NoImage {
            reference: reference.to_string(),
        });
    };
    let mut facts = ImageFacts {
        user: config.user,
        env: config.env,
        labels: config.labels,
        ..Default::default()
    };
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "biar-doctor-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let image = config.id.unwrap_or_else(|| reference.to_string());
    let files = Files {
        files: ImageFiles::create(engine, &name, &image, reference).await?,
    };
    let result = files.gather(&mut facts).await;
    files.files.remove().await;
    result.map(|()| facts)
}

struct Files<'a> {
    files: ImageFiles<'a>,
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    mode: u32,
}

impl Files<'_> {
    async fn gather(&self, facts: &mut ImageFacts) -> Result<(), DoctorError> {
        facts.passwd = self.read("/etc/passwd").await?;
        facts.group = self.read("/etc/group").await?;
        facts.os_release = self.resolve("/etc/os-release").await?.is_some()
            || self.resolve("/usr/lib/os-release").await?.is_some();
        facts.tmp = self.resolve("/tmp").await?.map(|(_, s)| {
            let sticky = if s.mode & MODE_STICKY != 0 { 0o1000 } else { 0 };
            (s.mode & MODE_DIR != 0, (s.mode & 0o777) | sticky)
        });
        facts.sh = self.is_file("/bin/sh").await?;
        facts.usr_bin_env = self.is_file("/usr/bin/env").await?;
        let cert = facts
            .env
            .iter()
            .find_map(|e| e.strip_prefix("SSL_CERT_FILE="))
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/etc/ssl/certs/ca-certificates.crt")
            .to_string();
        facts.ca_bundle = self.is_file(&cert).await?;
        let path = facts
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .to_string();
        'found: for dir in path
            .split(':')
            .filter(|d| d.starts_with('/'))
            .take(MAX_PATH_DIRS)
        {
            for tool in ["curl", "wget"] {
                let p = format!("{}/{tool}", dir.trim_end_matches('/'));
                if self.is_file(&p).await? {
                    facts.downloader = Some(p);
                    break 'found;
                }
            }
        }
        if let Some(u) = facts
            .passwd
            .as_deref()
            .and_then(|p| resolve_user(&facts.user, p))
        {
            facts.home = Some(match self.resolve(&u.home).await? {
                Some((at, s)) if s.mode & MODE_DIR != 0 => {
                    let (uid, gid) = self.owner(&at).await?.unwrap_or((u64::MAX, u64::MAX));
                    HomeFact {
                        path: u.home.clone(),
                        exists: true,
                        uid,
                        gid,
                    }
                }
                _ => HomeFact {
                    path: u.home.clone(),
                    exists: false,
                    uid: 0,
                    gid: 0,
                },
            });
        }
        Ok(())
    }

    async fn stat(&self, path: &str) -> Result<Option<(Stat, String)>, DoctorError> {
        Ok(self
            .files
            .stat(path)
            .await?
            .map(|s| (Stat { mode: s.mode }, s.link_target)))
    }

    /// Where `path` ends after its links, and what is there; `None` when nothing is.
    async fn resolve(&self, path: &str) -> Result<Option<(String, Stat)>, DoctorError> {
        let mut at = path.to_string();
        for _ in 0..MAX_LINKS {
            let Some((stat, target)) = self.stat(&at).await? else {
                return Ok(None);
            };
            if stat.mode & MODE_SYMLINK == 0 || target.is_empty() {
                return Ok(Some((at, stat)));
            }
            at = if target.starts_with('/') {
                target
            } else {
                let parent = at.rsplit_once('/').map_or("", |(p, _)| p);
                format!("{parent}/{target}")
            };
        }
        Ok(None)
    }

    async fn is_file(&self, path: &str) -> Result<bool, DoctorError> {
        Ok(self
            .resolve(path)
            .await?
            .is_some_and(|(_, s)| s.mode & MODE_DIR == 0))
    }

    /// The start of the engine's tar of `path` (at most `limit` bytes).
    async fn head(&self, path: &str, limit: usize) -> Result<Vec<u8>, DoctorError> {
        Ok(self.files.tar_head(path, limit).await?)
    }

    /// A small regular file's text (links followed); `None` when it is not there.
    async fn read(&self, path: &str) -> Result<Option<String>, DoctorError> {
        let Some((at, stat)) = self.resolve(path).await? else {
            return Ok(None);
        };
        if stat.mode & MODE_DIR != 0 {
            return Ok(None);
        }
        let bytes = self.head(&at, MAX_FILE + 64 * 1024).await?;
        let mut archive = tar::Archive::new(std::io::Cursor::new(bytes));
        let text = archive.entries().ok().and_then(|mut e| {
            let mut entry = e.next()?.ok()?;
            let mut s = String::new();
            entry.read_to_string(&mut s).ok()?;
            Some(s)
        });
        Ok(text)
    }

    /// The uid and gid of a directory (the first entry of its tar).
    async fn owner(&self, path: &str) -> Result<Option<(u64, u64)>, DoctorError> {
        let bytes = self.head(path, 64 * 1024).await?;
        let mut archive = tar::Archive::new(std::io::Cursor::new(bytes));
        Ok(archive.entries().ok().and_then(|mut e| {
            let entry = e.next()?.ok()?;
            let h = entry.header();
            Some((h.uid().ok()?, h.gid().ok()?))
        }))
    }
}
