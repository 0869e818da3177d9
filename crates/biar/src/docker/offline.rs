//! The builder image with no pull: this host's Debian packages (`nix-bin`, `busybox-static`,
//! `ca-certificates` and their dependency closure), fetched with apt's own configured sources,
//! unpacked with `dpkg -x` into a root filesystem, completed with what Nix needs in a container,
//! and streamed as a tar into the engine's image import (`POST /images/create?fromSrc=-`).
//!
//! Debian's `nix-bin` (Nix 2.8) lives in `/usr`, so the store volume at `/nix` may start empty.
//! The `.deb` files are cached under `$XDG_CACHE_HOME/biar/debs`, so a second run downloads
//! nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::StreamExt;
use tokio::process::Command;

use super::builder::split_reference;
use super::tar_stream::{tar_stream, TarEntry};
use super::{DockerError, Engine};
use crate::config::BuilderSettings;

/// The packages whose dependency closure makes the builder.
pub const ROOT_PACKAGES: [&str; 3] = ["nix-bin", "busybox-static", "ca-certificates"];

/// Busybox applets linked into `/bin` when no Debian package provides the command.
const APPLETS: [&str; 41] = [
    "sh", "ash", "cat", "cp", "mv", "rm", "ln", "ls", "mkdir", "rmdir", "chmod", "chown", "touch",
    "echo", "printf", "env", "sleep", "true", "false", "test", "[", "head", "tail", "sed", "grep",
    "awk", "find", "xargs", "sort", "uniq", "wc", "tr", "cut", "gzip", "gunzip", "zcat", "id",
    "ps", "kill", "tee", "tar",
];

pub async fn create_image(
    engine: &Engine,
    settings: &BuilderSettings,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), DockerError> {
    let cache = debs_cache_dir();
    std::fs::create_dir_all(&cache).map_err(|source| DockerError::Io {
        path: cache.clone(),
        source,
    })?;
    progress("resolving the Debian packages of the offline builder");
    let packages = dependency_closure(&ROOT_PACKAGES).await?;
    let missing: Vec<&String> = packages
        .iter()
        .filter(|p| cached_deb(&cache, p).is_none())
        .collect();
    if missing.is_empty() {
        progress(&format!(
            "{} packages, all cached in {}",
            packages.len(),
            cache.display()
        ));
    } else {
        progress(&format!(
            "downloading {} of {} packages into {}",
            missing.len(),
            packages.len(),
            cache.display()
        ));
        // Download into a private folder, then move finished files in: a concurrent create
        // never sees a half-written .deb.
        let partial = tempfile::Builder::new()
            .prefix("download-")
            .tempdir_in(&cache)
            .map_err(|source| DockerError::Io {
                path: cache.clone(),
                source,
            })?;
        run(Command::new("apt-get")
            .arg("download")
            .arg("-q")
            .args(&missing)
            .current_dir(partial.path()))
        .await?;
        for entry in std::fs::read_dir(partial.path()).map_err(|source| DockerError::Io {
            path: partial.path().to_path_buf(),
            source,
        })? {
            let entry = entry.map_err(|source| DockerError::Io {
                path: partial.path().to_path_buf(),
                source,
            })?;
            let to = cache.join(entry.file_name());
            std::fs::rename(entry.path(), &to).map_err(|source| DockerError::Io {
                path: to.clone(),
                source,
            })?;
        }
    }
    let rootfs_parent = tempfile::Builder::new()
        .prefix("biar-builder-rootfs-")
        .tempdir_in(&cache)
        .map_err(|source| DockerError::Io {
            path: cache.clone(),
            source,
        })?;
    let rootfs = rootfs_parent.path().join("rootfs");
    progress(&format!("unpacking {} packages", packages.len()));
    let mut debs = Vec::new();
    for pkg in &packages {
        debs.push(
            cached_deb(&cache, pkg).ok_or_else(|| DockerError::HostTool {
                tool: "apt-get download".into(),
                detail: format!("no .deb of {pkg} in {} after downloading", cache.display()),
            })?,
        );
    }
    // Packages own distinct files, so unpacking several at once into one tree is safe; it is
    // mostly decompression, so a few at a time use the cores.
    // Owned paths in the closure: with borrowed ones the future is not `Send` for every
    // lifetime, and the pipeline (which may make the builder) is spawned on the runtime.
    let target = rootfs.clone();
    let mut unpacks = futures::stream::iter(debs.into_iter().map(move |deb: PathBuf| {
        let rootfs = target.clone();
        async move { run(Command::new("dpkg").arg("-x").arg(&deb).arg(&rootfs)).await }
    }))
    .buffer_unordered(4);
    while let Some(result) = unpacks.next().await {
        result?;
    }
    let fs_root = rootfs.clone();
    let settings_copy = settings.clone();
    tokio::task::spawn_blocking(move || finish_rootfs(&fs_root, &settings_copy))
        .await
        .map_err(|e| DockerError::Other(format!("preparing the root filesystem: {e}")))?
        .map_err(|source| DockerError::Io {
            path: rootfs.clone(),
            source,
        })?;
    progress(&format!("importing the image {}", settings.image));
    import_rootfs(engine, &rootfs, &settings.image).await?;
    Ok(())
}

/// `$XDG_CACHE_HOME/biar/debs` (or `~/.cache/biar/debs`).
pub fn debs_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("biar")
        .join("debs")
}

/// The real packages (virtual ones, `<…>`, dropped) `apt-cache depends --recurse` reaches.
async fn dependency_closure(roots: &[&str]) -> Result<Vec<String>, DockerError> {
    let out = run(Command::new("apt-cache")
        .args([
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
        ])
        .args(roots))
    .await?;
    Ok(parse_depends(&out))
}

fn parse_depends(out: &str) -> Vec<String> {
    let mut pkgs: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('<') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

/// The cached `.deb` of `pkg` (`pkg_VERSION_ARCH.deb`), if any.
fn cached_deb(cache: &Path, pkg: &str) -> Option<PathBuf> {
    let prefix = format!("{pkg}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

async fn run(cmd: &mut Command) -> Result<String, DockerError> {
    let tool = format!("{:?}", cmd.as_std().get_program());
    let out = cmd.output().await.map_err(|e| DockerError::HostTool {
        tool: tool.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(DockerError::HostTool {
            tool,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Adds `/etc/nix/nix.conf`, users, `/tmp`, `/bin/sh` and applets, certificates.
fn finish_rootfs(root: &Path, settings: &BuilderSettings) -> std::io::Result<()> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let etc = root.join("etc");
    std::fs::create_dir_all(etc.join("nix"))?;
    // Substituters here are only the default: every build passes the project's own.
    let conf = super::builder::nix_conf(settings)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    std::fs::write(etc.join("nix/nix.conf"), conf)?;
    std::fs::write(
        etc.join("passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n{}",
            super::builder::build_user_passwd_lines()
        ),
    )?;
    std::fs::write(
        etc.join("group"),
        format!(
            "root:x:0:\n{}nogroup:x:65534:\n",
            super::builder::nixbld_group_line()
        ),
    )?;
    std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n")?;
    for dir in ["tmp", "root", "bin", "usr/bin", "var/tmp", "var/empty"] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::set_permissions(
        root.join("var/tmp"),
        std::fs::Permissions::from_mode(0o1777),
    )?;
    for applet in APPLETS {
        let exists = ["bin", "usr/bin", "sbin", "usr/sbin"]
            .iter()
            .any(|d| root.join(d).join(applet).symlink_metadata().is_ok());
        if !exists {
            symlink("busybox", root.join("bin").join(applet))?;
        }
    }
    // ca-certificates' postinst would build this bundle; dpkg -x runs no scripts.
    let certs = etc.join("ssl/certs");
    std::fs::create_dir_all(&certs)?;
    let mut bundle = std::fs::File::create(certs.join("ca-certificates.crt"))?;
    let mut crts = Vec::new();
    collect_crts(&root.join("usr/share/ca-certificates"), &mut crts)?;
    crts.sort();
    for crt in crts {
        bundle.write_all(&std::fs::read(&crt)?)?;
        bundle.write_all(b"\n")?;
    }
    Ok(())
}

fn collect_crts(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_crts(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "crt") {
            out.push(path);
        }
    }
    Ok(())
}

/// Streams `rootfs` as a tar into `POST /images/create?fromSrc=-` (never whole in memory).
async fn import_rootfs(engine: &Engine, rootfs: &Path, image: &str) -> Result<(), DockerError> {
    // The root filesystem's own modes stay (/tmp 1777, setuid bits); every file is root's.
    let body = tar_stream(vec![TarEntry::Dir {
        src: rootfs.to_path_buf(),
        dest: PathBuf::new(),
        filter: None,
    }]);
    let (repo, tag) = split_reference(image);
    let env = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        "USER=root",
        "HOME=/root",
    ];
    let mut lines: Vec<String> = env.iter().map(|e| format!("ENV {e}")).collect();
    lines.push("LABEL biar.builder=offline".to_string());
    lines.push(format!(
        "LABEL {}={}",
        super::builder::FORMAT_LABEL,
        super::builder::FORMAT
    ));
    lines.push("CMD [\"/bin/sh\"]".to_string());
    // Docker reads the changes as Dockerfile lines; Podman's compatible API (4.3) takes the
    // whole text as one instruction, and one `KEY=value` in it. For Podman: one instruction per
    // call, the first with the import, the others by committing a container of the image.
    let podman = engine.is_podman().await;
    let later = if podman {
        lines.split_off(1)
    } else {
        Vec::new()
    };
    let changes = lines;
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(changes)
        .build();
    let mut import =
        engine
            .docker
            .create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    while let Some(item) = import.next().await {
        item.map_err(DockerError::api(format!(
            "importing the builder image {image}"
        )))?;
    }
    for change in later {
        commit_change(engine, image, &change).await?;
    }
    Ok(())
}

/// Applies one Dockerfile instruction to `image` (replacing its tag) by committing a container
/// of it that never runs.
async fn commit_change(engine: &Engine, image: &str, change: &str) -> Result<(), DockerError> {
    let created = engine
        .docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            bollard::models::ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: Some(vec!["true".to_string()]),
                ..Default::default()
            },
        )
        .await
        .map_err(DockerError::api(format!("creating a container of {image}")))?;
    let (repo, tag) = split_reference(image);
    let result = engine
        .docker
        .commit_container(
            bollard::query_parameters::CommitContainerOptionsBuilder::default()
                .container(&created.id)
                .repo(repo)
                .tag(tag)
                .changes(change)
                .build(),
            bollard::models::ContainerConfig::default(),
        )
        .await
        .map(|_| ())
        .map_err(DockerError::api(format!("committing {image} ({change})")));
    super::container::remove_container(engine, &created.id).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_output_keeps_real_packages_only() {
        let out = "nix-bin\n  Depends: libc6\n |Depends: <perlapi-5.36.0>\nlibc6\n<debconf-2.0>\n  Depends: x\nlibc6\n";
        assert_eq!(parse_depends(out), vec!["libc6", "nix-bin"]);
    }
}
