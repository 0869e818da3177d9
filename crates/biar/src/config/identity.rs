//! The identity hashes: image name from the base configuration, tag from the user's.
//!
//! Everything fed to a hash is a labelled, length-prefixed field after a domain tag, so no two
//! different inputs can run together into the same byte stream. Nix files enter as their
//! canonical digest (tokens without whitespace and comments), never as paths or times.
//! `docs/config.md` describes the same thing for users: keep them in step.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{ConfigError, ImageRef, PackageSetPin, Project};
use crate::nixexpr::canonical_digest;

/// Hex digits kept from each sha256 (128 bits).
const HEX_LEN: usize = 32;

/// sha256 over labelled, length-prefixed fields.
struct FieldHasher(Sha256);

impl FieldHasher {
    fn new(domain: &str) -> Self {
        let mut h = FieldHasher(Sha256::new());
        h.field("domain", domain.as_bytes());
        h
    }

    fn field(&mut self, label: &str, value: &[u8]) {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    fn hex(self) -> String {
        let mut s = hex::encode(self.0.finalize());
        s.truncate(HEX_LEN);
        s
    }
}

pub(super) fn image_ref(project: &Project) -> Result<ImageRef, ConfigError> {
    Ok(ImageRef {
        name: format!(
            "{}{}",
            project.config.image.name_prefix,
            base_hash(project)?
        ),
        tag: user_hash(project)?,
    })
}

/// The base configuration: base file, package-set pin, image settings.
pub(super) fn base_hash(project: &Project) -> Result<String, ConfigError> {
    let mut h = FieldHasher::new("biar image name v1");
    h.field(
        "base",
        &nix_digest(&project.resolve(&project.config.base_config)?)?,
    );
    match &project.config.nixpkgs {
        PackageSetPin::Tarball { url, sha256 } => {
            h.field("pin", b"tarball");
            h.field("url", url.as_bytes());
            h.field("sha256", sha256.as_bytes());
        }
        PackageSetPin::Channel { channel } => {
            h.field("pin", b"channel");
            h.field("channel", channel.as_bytes());
        }
        PackageSetPin::Path { path } => {
            h.field("pin", b"path");
            let dir = project.root.join(path);
            // Hashing reads every file of the folder: only one the user trusts (or inside).
            if dir.exists() {
                super::check_path_pin(&project.root, path, &dir).map_err(|message| {
                    ConfigError::Invalid {
                        at: project.key_location("nixpkgs"),
                        message,
                    }
                })?;
            }
            hash_folder(&mut h, project, &dir, path)?;
        }
    }
    let img = &project.config.image;
    h.field("maxLayers", img.max_layers.to_string().as_bytes());
    h.field("user", img.user.as_bytes());
    h.field("workdir", img.workdir.as_bytes());
    h.field("namePrefix", img.name_prefix.as_bytes());
    // Hashed only when not the default, so a project without them keeps its image name (the
    // plain image and uid/gid 1000 are what every earlier image was). Labelled fields: the
    // conditional ones cannot run into each other.
    if img.profile != crate::profile::Profile::Plain {
        h.field("profile", img.profile.name().as_bytes());
    }
    if img.uid != crate::profile::DEFAULT_ID {
        h.field("uid", img.uid.to_string().as_bytes());
    }
    if img.gid != crate::profile::DEFAULT_ID {
        h.field("gid", img.gid.to_string().as_bytes());
    }
    Ok(h.hex())
}

/// The user configuration: the userConfig files' contents in order, then `workdir/local.nix`.
pub(super) fn user_hash(project: &Project) -> Result<String, ConfigError> {
    let mut h = FieldHasher::new("biar image tag v1");
    let entries = &project.config.user_config;
    h.field("count", entries.len().to_string().as_bytes());
    for e in entries {
        h.field("file", &nix_digest(&project.resolve(e)?)?);
    }
    if let Some(local) = project.local_file() {
        h.field("local", &nix_digest(&local)?);
    }
    Ok(h.hex())
}

fn nix_digest(path: &Path) -> Result<[u8; 32], ConfigError> {
    let text = super::read_text(path, super::MAX_NIX_FILE_BYTES)?;
    Ok(canonical_digest(path, &text)?)
}

/// Every file under `dir` (`.git` skipped), sorted by relative path: its path relative to `dir`,
/// its kind (file, executable, symlink) and the sha256 of its content or the link's target.
fn hash_folder(
    h: &mut FieldHasher,
    project: &Project,
    dir: &Path,
    as_written: &str,
) -> Result<(), ConfigError> {
    if !dir.join("default.nix").is_file() {
        return Err(ConfigError::Invalid {
            at: project.key_location("nixpkgs"),
            message: format!(
                "nixpkgs.path {as_written:?} is not a package set: {} has no default.nix; point \
                 it at a folder holding one",
                dir.display()
            ),
        });
    }
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files)?;
    files.sort();
    h.field("files", files.len().to_string().as_bytes());
    for rel in files {
        let full = dir.join(&rel);
        let io = |source| ConfigError::Io {
            path: full.clone(),
            source,
        };
        let meta = std::fs::symlink_metadata(&full).map_err(io)?;
        // Relative paths with `/`, whatever the platform.
        let rel_s: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        h.field("path", rel_s.join("/").as_bytes());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(io)?;
            h.field("symlink", target.to_string_lossy().as_bytes());
        } else if !meta.is_file() {
            // A FIFO would block the read forever, a device never end.
            return Err(super::FileError::NotRegular {
                path: full.clone(),
                kind: "a FIFO, device or socket",
            }
            .into());
        } else {
            use std::os::unix::fs::PermissionsExt;
            let exec = meta.permissions().mode() & 0o111 != 0;
            h.field("kind", if exec { b"executable" } else { b"regular" });
            let digest = file_digest(&full, &meta).map_err(io)?;
            h.field("content", &digest);
        }
    }
    Ok(())
}

/// What a file's metadata says about its content: if all of it is unchanged, the content is
/// taken to be too (ctime moves on any write, even one that restores the mtime).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// Content digests of package-set files, per process, so the TUI can ask for the reference
/// after every edit without reading a large path-pinned package set again. Keyed by path, checked
/// by [`Stamp`]; the digest itself is of content only.
static DIGESTS: std::sync::Mutex<Option<DigestCache>> = std::sync::Mutex::new(None);

type DigestCache = std::collections::HashMap<PathBuf, (Stamp, [u8; 32])>;

fn file_digest(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<[u8; 32]> {
    use std::os::unix::fs::MetadataExt;
    let stamp = Stamp {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
    };
    if let Some((s, d)) = DIGESTS
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(path).copied()))
    {
        if s == stamp {
            return Ok(d);
        }
    }
    // Non-blocking and checked on the descriptor: the file may have been swapped for a FIFO.
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?
    };
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut content = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        content.update(&buf[..n]);
    }
    let digest: [u8; 32] = content.finalize().into();
    if let Ok(mut m) = DIGESTS.lock() {
        m.get_or_insert_with(Default::default)
            .insert(path.to_path_buf(), (stamp, digest));
    }
    Ok(digest)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), ConfigError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|source| ConfigError::Io {
        path: dir.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Io {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let ty = entry.file_type().map_err(|source| ConfigError::Io {
            path: entry.path(),
            source,
        })?;
        let child = rel.join(&name);
        if ty.is_dir() {
            walk(root, &child, out)?;
        } else {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A project with a path pin, in a fresh folder.
    fn make(config: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "config.json", config);
        write(
            d.path(),
            "base.nix",
            "{ pkgs }: with pkgs; [ bashInteractive coreutils ]\n",
        );
        write(
            d.path(),
            "user.nix",
            "# mine\n{ pkgs }: with pkgs; [\n  jq\n]\n",
        );
        write(
            d.path(),
            "presets/go.nix",
            "# Go\n{ pkgs }: with pkgs; [ go gopls ]\n",
        );
        write(d.path(), "pkgs/default.nix", "{ }: { hello = 1; }\n");
        write(d.path(), "pkgs/lib/x.nix", "1\n");
        d
    }

    const CONFIG: &str = r#"{"baseConfig": "base.nix", "userConfig": ["presets/go.nix", "user.nix"], "nixpkgs": {"path": "pkgs"}}"#;

    fn reference(d: &tempfile::TempDir) -> ImageRef {
        Project::load(d.path()).unwrap().image_ref().unwrap()
    }

    #[test]
    fn the_same_project_in_two_folders_has_the_same_reference() {
        let a = make(CONFIG);
        let b = make(CONFIG);
        let (ra, rb) = (reference(&a), reference(&b));
        assert_eq!(ra, rb);
        assert!(ra.name.starts_with("biar-"));
        assert_eq!(ra.name.len(), "biar-".len() + 32);
        assert_eq!(ra.tag.len(), 32);
        assert!(ra
            .tag
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn a_fifo_in_a_path_pinned_package_set_is_refused_without_hanging() {
        let d = make(CONFIG);
        let fifo = d.path().join("pkgs/lib/pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = Project::load(d.path()).unwrap().image_ref().unwrap_err();
        assert_eq!(e.category(), crate::Category::BadInput, "{e}");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn comment_and_layout_edits_keep_the_reference() {
        let d = make(CONFIG);
        let before = reference(&d);
        write(
            d.path(),
            "user.nix",
            "# my packages, reformatted\r\n{ pkgs }:\r\nwith pkgs; [ jq /* json */ ]\r\n",
        );
        write(
            d.path(),
            "base.nix",
            "{pkgs}: with pkgs; [\n\tbashInteractive # shell\n\tcoreutils\n]",
        );
        assert_eq!(reference(&d), before);
    }

    #[test]
    fn adding_a_package_changes_the_tag_only() {
        let d = make(CONFIG);
        let before = reference(&d);
        write(
            d.path(),
            "user.nix",
            "# mine\n{ pkgs }: with pkgs; [\n  jq\n  ripgrep\n]\n",
        );
        let after = reference(&d);
        assert_eq!(after.name, before.name);
        assert_ne!(after.tag, before.tag);
    }

    #[test]
    fn reordering_user_config_changes_the_tag() {
        let d = make(CONFIG);
        let before = reference(&d);
        write(
            d.path(),
            "config.json",
            r#"{"baseConfig": "base.nix", "userConfig": ["user.nix", "presets/go.nix"], "nixpkgs": {"path": "pkgs"}}"#,
        );
        let after = reference(&d);
        assert_eq!(after.name, before.name);
        assert_ne!(after.tag, before.tag);
    }

    #[test]
    fn local_nix_counts_in_the_tag() {
        let d = make(CONFIG);
        let before = reference(&d);
        write(d.path(), "workdir/local.nix", "{ pkgs }: [ pkgs.hello ]\n");
        assert_ne!(reference(&d).tag, before.tag);
    }

    #[test]
    fn the_base_the_pin_and_image_settings_change_the_name() {
        let d = make(CONFIG);
        let base = reference(&d);
        let mut seen = vec![base.name.clone()];
        let mut check = |d: &tempfile::TempDir| {
            let r = reference(d);
            assert_eq!(r.tag, base.tag);
            assert!(!seen.contains(&r.name), "{}", r.name);
            seen.push(r.name);
        };
        write(d.path(), "pkgs/lib/x.nix", "2\n");
        check(&d);
        write(d.path(), "pkgs/lib/y.nix", "2\n");
        check(&d);
        write(
            d.path(),
            "base.nix",
            "{ pkgs }: with pkgs; [ bashInteractive ]\n",
        );
        check(&d);
        for extra in [
            r#""image": {"maxLayers": 50}"#,
            r#""image": {"user": "dev"}"#,
            r#""image": {"workdir": "/work"}"#,
            r#""image": {"profile": "coder"}"#,
            r#""image": {"profile": "devcontainer"}"#,
            r#""image": {"uid": 4242}"#,
            r#""image": {"gid": 4242}"#,
        ] {
            write(
                d.path(),
                "config.json",
                &CONFIG.replace("}}", &format!("}}, {extra}}}")),
            );
            check(&d);
        }
        for pin in [
            r#"{"channel": "nixos-24.11"}"#,
            r#"{"channel": "nixos-25.05"}"#,
            r#"{"url": "https://example.invalid/a.tar.gz", "sha256": "0a"}"#,
            r#"{"url": "https://example.invalid/a.tar.gz", "sha256": "0b"}"#,
        ] {
            write(
                d.path(),
                "config.json",
                &CONFIG.replace(r#"{"path": "pkgs"}"#, pin),
            );
            check(&d);
        }
    }

    #[test]
    fn a_path_pin_without_a_package_set_is_bad_input_at_the_key() {
        let d = make(&CONFIG.replace("\"pkgs\"", "\"nowhere\""));
        let e = Project::load(d.path()).unwrap().image_ref().unwrap_err();
        assert_eq!(e.category(), crate::Category::BadInput);
        let msg = e.to_string();
        assert!(
            msg.contains("config.json:1:") && msg.contains("no default.nix"),
            "{msg}"
        );
    }

    #[test]
    fn a_same_size_rewrite_of_a_package_set_file_is_seen() {
        let d = make(CONFIG);
        let before = reference(&d);
        // Same size, and possibly the same mtime second: the stamp must still notice.
        write(d.path(), "pkgs/lib/x.nix", "7\n");
        let after = reference(&d);
        assert_ne!(after.name, before.name);
        write(d.path(), "pkgs/lib/x.nix", "1\n");
        assert_eq!(reference(&d).name, before.name);
    }

    #[test]
    fn the_name_prefix_leads_the_name() {
        let d = make(&CONFIG.replace("}}", r#"}, "image": {"namePrefix": "team/env-"}}"#));
        assert!(reference(&d).name.starts_with("team/env-"));
    }

    #[test]
    fn a_user_file_that_does_not_parse_is_bad_input_with_position() {
        let d = make(CONFIG);
        write(d.path(), "user.nix", "{ pkgs }: with pkgs; [\n  jq\n");
        let e = Project::load(d.path()).unwrap().image_ref().unwrap_err();
        assert_eq!(e.category(), crate::Category::BadInput);
        assert!(e.to_string().contains("user.nix:3:1"), "{e}");
    }
}
