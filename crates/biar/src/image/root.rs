//! The root layer on top of the store layers: `/bin` and `/usr/bin` as links into the
//! environment's symlink farm (like `buildEnv`), a non-root user with a home directory and the
//! working directory, `/tmp` 1777, `/etc/passwd` and `/etc/group`, and the certificate bundle when
//! the closure has one; for a workspace profile also `/etc/os-release` (see
//! `docs/workspaces.md`). A few kilobytes, built in memory, deterministic like the store layers.

use std::collections::BTreeMap;

use super::tar::{self, Kind};
use crate::profile::Profile;

/// What the root layer needs to know.
#[derive(Debug, Clone)]
pub struct RootSpec {
    /// The environment (symlink farm) store path.
    pub env_path: String,
    /// The user's name (`image.user`).
    pub user: String,
    /// The working directory (`image.workdir`), absolute.
    pub workdir: String,
    /// A certificate bundle file in the store, if the closure has one.
    pub ca_bundle: Option<String>,
    /// The user's uid and gid (`image.uid`, `image.gid`).
    pub uid: u32,
    pub gid: u32,
    /// `image.profile`.
    pub profile: Profile,
}

impl RootSpec {
    pub fn home(&self) -> String {
        format!("/home/{}", self.user)
    }

    /// The environment variables the image's config sets (`Env`): the same for a run made
    /// from the store volume without an image (`run::DirectRoot`).
    pub fn env(&self) -> Vec<String> {
        let mut env = vec![
            "PATH=/bin:/usr/bin".to_string(),
            format!("USER={}", self.user),
            format!("HOME={}", self.home()),
        ];
        if self.ca_bundle.is_some() {
            env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_string());
            env.push("NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_string());
        }
        if self.profile.is_workspace() {
            env.push(format!("LANG={}", crate::profile::WORKSPACE_LANG));
        }
        env
    }

    /// The image config's `User`.
    pub fn user_spec(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }
}

/// The certificate bundle of a closure: nixpkgs' `nss-cacert` (and the test set's stand-in)
/// put it at `etc/ssl/certs/ca-bundle.crt`.
pub fn find_ca_bundle<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut found: Vec<&str> = paths
        .into_iter()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .and_then(|b| b.split_once('-'))
                .is_some_and(|(_, name)| {
                    name.starts_with("nss-cacert-") || name.starts_with("cacert-")
                })
        })
        .collect();
    found.sort_unstable();
    found
        .first()
        .map(|p| format!("{p}/etc/ssl/certs/ca-bundle.crt"))
}

enum Entry {
    /// `owner` is (uid, gid).
    Dir {
        mode: u32,
        owner: (u32, u32),
    },
    File(Vec<u8>),
    Link(String),
}

/// The root layer's tar bytes.
pub fn root_layer(spec: &RootSpec) -> Vec<u8> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let dir = |mode, owner| Entry::Dir { mode, owner };
    let bin = format!("{}/bin", spec.env_path);
    entries.insert("bin".into(), Entry::Link(bin.clone()));
    entries.insert("usr/".into(), dir(0o755, (0, 0)));
    entries.insert("usr/bin".into(), Entry::Link(bin));
    entries.insert("etc/".into(), dir(0o755, (0, 0)));
    let home = spec.home();
    entries.insert(
        "etc/passwd".into(),
        Entry::File(crate::profile::passwd(&spec.user, spec.uid, spec.gid, &home).into_bytes()),
    );
    entries.insert(
        "etc/group".into(),
        Entry::File(crate::profile::group(&spec.user, spec.gid).into_bytes()),
    );
    if let Some(bundle) = &spec.ca_bundle {
        entries.insert("etc/ssl/".into(), dir(0o755, (0, 0)));
        entries.insert("etc/ssl/certs/".into(), dir(0o755, (0, 0)));
        entries.insert(
            "etc/ssl/certs/ca-bundle.crt".into(),
            Entry::Link(bundle.clone()),
        );
        entries.insert(
            "etc/ssl/certs/ca-certificates.crt".into(),
            Entry::Link(bundle.clone()),
        );
    }
    if spec.profile.is_workspace() {
        entries.insert(
            "etc/os-release".into(),
            Entry::File(crate::profile::os_release().as_bytes().to_vec()),
        );
    }
    entries.insert("root/".into(), dir(0o700, (0, 0)));
    entries.insert("tmp/".into(), dir(0o1777, (0, 0)));
    entries.insert("var/".into(), dir(0o755, (0, 0)));
    entries.insert("var/empty/".into(), dir(0o555, (0, 0)));
    // The home and the working directory, with every parent; the user's own from home down.
    let user = (spec.uid, spec.gid);
    for (path, owner) in [(home.as_str(), user), (spec.workdir.as_str(), user)] {
        let mut at = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            at.push_str(part);
            at.push('/');
            let own = if format!("/{at}").starts_with(&format!("{home}/")) {
                owner
            } else {
                (0, 0)
            };
            entries.entry(at.clone()).or_insert(dir(0o755, own));
        }
    }
    let mut out = Vec::with_capacity(16 * 1024);
    for (name, entry) in &entries {
        match entry {
            Entry::Dir { mode, owner } => {
                tar::header_owned(&mut out, name.as_bytes(), Kind::Dir, *mode, *owner)
            }
            Entry::File(content) => tar::file(&mut out, name.as_bytes(), content, 0o644),
            Entry::Link(target) => tar::header(
                &mut out,
                name.as_bytes(),
                Kind::Symlink {
                    target: target.as_bytes(),
                },
                0o777,
            ),
        }
    }
    tar::end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_layer_has_the_user_tmp_and_links() {
        let spec = RootSpec {
            env_path: "/nix/store/abc-biar-env".into(),
            user: "user".into(),
            workdir: "/home/user/workdir".into(),
            ca_bundle: find_ca_bundle(["/nix/store/x-hello-1", "/nix/store/y-nss-cacert-3.0"]),
            uid: 1000,
            gid: 1000,
            profile: Profile::Plain,
        };
        let bytes = root_layer(&spec);
        assert_eq!(bytes, root_layer(&spec));
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("root.tar");
        std::fs::write(&f, &bytes).unwrap();
        let out = std::process::Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(&f)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("lrwxrwxrwx 0/0") && text.contains("bin -> /nix/store/abc-biar-env/bin"),
            "{text}"
        );
        assert!(text.contains("drwxrwxrwt 0/0"), "{text}");
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{} {} {}", f[0], f[1], f[5..].join(" "))
            })
            .collect();
        for want in [
            "drwxr-xr-x 1000/1000 home/user/workdir/",
            "drwxr-xr-x 1000/1000 home/user/",
            "drwxr-xr-x 0/0 home/",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want}: {text}");
        }
        assert!(text.contains("etc/ssl/certs/ca-certificates.crt -> /nix/store/y-nss-cacert-3.0/etc/ssl/certs/ca-bundle.crt"), "{text}");
    }

    fn listing(bytes: &[u8]) -> String {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("root.tar");
        std::fs::write(&f, bytes).unwrap();
        let out = std::process::Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(&f)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(bytes: &[u8], name: &str) -> Option<String> {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("root.tar");
        std::fs::write(&f, bytes).unwrap();
        let out = std::process::Command::new("tar")
            .args(["-xOf"])
            .arg(&f)
            .arg(name)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    #[test]
    fn a_workspace_profile_adds_os_release_and_its_ids() {
        let mut spec = RootSpec {
            env_path: "/nix/store/abc-biar-env".into(),
            user: "coder".into(),
            workdir: "/home/coder/project".into(),
            ca_bundle: None,
            uid: 4242,
            gid: 4343,
            profile: Profile::Coder,
        };
        let bytes = root_layer(&spec);
        assert_eq!(bytes, root_layer(&spec));
        let text = listing(&bytes);
        assert!(text.contains("drwxr-xr-x 4242/4343"), "{text}");
        assert!(text.contains("etc/os-release"), "{text}");
        let passwd = file(&bytes, "etc/passwd").unwrap();
        assert!(
            passwd.contains("coder:x:4242:4343:coder:/home/coder:/bin/sh"),
            "{passwd}"
        );
        let group = file(&bytes, "etc/group").unwrap();
        assert!(group.contains("coder:x:4343:"), "{group}");
        assert!(file(&bytes, "etc/os-release").unwrap().contains("ID=biar"));
        spec.profile = Profile::Plain;
        assert_eq!(file(&root_layer(&spec), "etc/os-release"), None);
    }
}
