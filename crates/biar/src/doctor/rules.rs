//! The profile rules, as a pure function of what was found in an image ([`ImageFacts`]): each
//! rule passes or fails with why, and what to put in the configuration to fix it. The sources of
//! the rules are in `docs/workspaces.md`.

use serde::Serialize;

use crate::profile::{Profile, DEVCONTAINER_LABEL};

/// What the doctor learnt of an image: its config (from the engine's inspect) and a few files.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    /// `Config.User` (empty: root).
    pub user: String,
    /// `Config.Env`.
    pub env: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `/etc/passwd` and `/etc/group`, when they are regular files (links followed).
    pub passwd: Option<String>,
    pub group: Option<String>,
    /// `/etc/os-release` or `/usr/lib/os-release` is there.
    pub os_release: bool,
    /// `/tmp`: (is a directory, permission bits with sticky as 0o1000).
    pub tmp: Option<(bool, u32)>,
    /// The user's home directory from `/etc/passwd`: (path, uid, gid), when it exists.
    pub home: Option<HomeFact>,
    /// `/bin/sh` and `/usr/bin/env` resolve to files.
    pub sh: bool,
    pub usr_bin_env: bool,
    /// The first of curl or wget found in `PATH`'s folders (full path).
    pub downloader: Option<String>,
    /// `/etc/ssl/certs/ca-certificates.crt` (or `SSL_CERT_FILE`'s file) resolves to a file.
    pub ca_bundle: bool,
}

#[derive(Debug, Clone)]
pub struct HomeFact {
    pub path: String,
    pub exists: bool,
    pub uid: u64,
    pub gid: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
}

/// One rule's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub rule: &'static str,
    pub status: Status,
    /// What was found (pass) or what is missing (fail).
    pub why: String,
    /// What to change to fix it (config key or package), for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The user an image runs as, resolved through its `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub name: String,
    pub uid: u64,
    pub gid: u64,
    pub home: String,
}

/// `Config.User` (`name`, `uid`, `name:group`, `uid:gid`) looked up in `passwd`.
pub fn resolve_user(user: &str, passwd: &str) -> Option<ResolvedUser> {
    let who = user.split(':').next().unwrap_or("");
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        if f[0] != who && f[2] != who {
            return None;
        }
        Some(ResolvedUser {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5].to_string(),
        })
    })
}

/// Whether `user` (as `Config.User` says it) is root: empty, `root` or uid 0.
pub fn is_root(user: &str, passwd: Option<&str>) -> bool {
    let who = user.split(':').next().unwrap_or("");
    if who.is_empty() || who == "root" || who == "0" {
        return true;
    }
    passwd
        .and_then(|p| resolve_user(user, p))
        .is_some_and(|u| u.uid == 0)
}

const FIX_PROFILE: &str =
    "set \"image\": {\"profile\": \"coder\"} (or \"devcontainer\") in config.json";

/// The rules of `profile`, in order, judged on `facts`.
pub fn evaluate(facts: &ImageFacts, profile: Profile) -> Vec<Check> {
    let mut out = Vec::new();
    let workspace = profile.is_workspace();
    let mut check = |rule: &'static str, ok: bool, why: String, fix: &str| {
        out.push(Check {
            rule,
            status: if ok { Status::Pass } else { Status::Fail },
            why,
            fix: (!ok).then(|| fix.to_string()),
        })
    };
    let resolved = facts
        .passwd
        .as_deref()
        .and_then(|p| resolve_user(&facts.user, p));

    // A non-root user: Coder's and the Dev Containers images run as one.
    let root = is_root(&facts.user, facts.passwd.as_deref());
    check(
        "user",
        !root,
        if root {
            format!("the image runs as root (Config.User {:?})", facts.user)
        } else {
            format!("runs as {:?}", facts.user)
        },
        "set \"image\": {\"user\": NAME, \"uid\": N} in config.json (biar images run as it)",
    );
    check(
        "passwd",
        resolved.is_some(),
        match (&facts.passwd, &resolved) {
            (None, _) => "/etc/passwd is missing: the user has no name, $HOME or shell \
                          (id -un, ssh and the platform's agent need them)"
                .to_string(),
            (Some(_), None) => format!("/etc/passwd has no entry for user {:?}", facts.user),
            (Some(_), Some(u)) => format!("{} is uid {} with home {}", u.name, u.uid, u.home),
        },
        "build with biar-tui (its root layer writes /etc/passwd and /etc/group for image.user, \
         image.uid, image.gid)",
    );
    if workspace {
        let gid_ok = match (&facts.group, &resolved) {
            (Some(g), Some(u)) => g
                .lines()
                .any(|l| l.split(':').nth(2) == Some(u.gid.to_string().as_str())),
            _ => false,
        };
        check(
            "group",
            gid_ok,
            match (&facts.group, &resolved) {
                (None, _) => "/etc/group is missing".to_string(),
                (Some(_), None) => "the user's gid is unknown (see passwd)".to_string(),
                (Some(_), Some(u)) if !gid_ok => format!("/etc/group has no group {}", u.gid),
                (Some(_), Some(u)) => format!("group {} is there", u.gid),
            },
            "build with biar-tui (image.gid sets the group)",
        );
        let (home_ok, why) = match (&facts.home, &resolved) {
            (Some(h), Some(u)) if h.exists && h.uid == u.uid => {
                (true, format!("{} belongs to uid {}", h.path, h.uid))
            }
            (Some(h), Some(u)) if h.exists => (
                false,
                format!(
                    "{} belongs to uid {}, not the user's {}",
                    h.path, h.uid, u.uid
                ),
            ),
            (Some(h), _) => (false, format!("the home directory {} is missing", h.path)),
            _ => (false, "no home directory (no passwd entry)".to_string()),
        };
        check(
            "home",
            home_ok,
            why,
            "build with biar-tui: the root layer makes /home/<image.user> the user's",
        );
    }
    let tmp_ok = matches!(facts.tmp, Some((true, mode)) if mode & 0o1777 == 0o1777);
    check(
        "tmp",
        tmp_ok,
        match facts.tmp {
            None => "/tmp is missing".to_string(),
            Some((false, _)) => "/tmp is not a directory".to_string(),
            Some((true, mode)) => format!("/tmp has mode {mode:o} (want 1777)"),
        },
        "build with biar-tui (its root layer has /tmp 1777)",
    );
    check(
        "sh",
        facts.sh,
        if facts.sh {
            "/bin/sh is there".into()
        } else {
            "/bin/sh is missing: Coder's entrypoint and docker exec run `sh -c`".into()
        },
        "add bashInteractive (or busybox) to the baseConfig file: /bin links to the environment's bin/",
    );
    if workspace {
        check(
            "env",
            facts.usr_bin_env,
            if facts.usr_bin_env {
                "/usr/bin/env is there".into()
            } else {
                "/usr/bin/env is missing: `#!/usr/bin/env` scripts do not start".into()
            },
            "add coreutils (or busybox) to the baseConfig file",
        );
        check(
            "os-release",
            facts.os_release,
            if facts.os_release {
                "/etc/os-release is there".into()
            } else {
                "/etc/os-release is missing: tools cannot tell the system".into()
            },
            FIX_PROFILE,
        );
        let cert_env = facts.env.iter().any(|e| e.starts_with("SSL_CERT_FILE="));
        check(
            "ca-certificates",
            facts.ca_bundle && cert_env,
            match (facts.ca_bundle, cert_env) {
                (true, true) => "certificate bundle and SSL_CERT_FILE are there".into(),
                (false, _) => "no certificate bundle at /etc/ssl/certs/ca-certificates.crt: HTTPS \
                     (the agent download) fails"
                    .into(),
                (true, false) => "SSL_CERT_FILE is not set".into(),
            },
            "add cacert to the baseConfig file (biar links its bundle and sets SSL_CERT_FILE)",
        );
        let missing: Vec<&str> = ["PATH", "HOME", "USER", "LANG"]
            .into_iter()
            .filter(|k| !facts.env.iter().any(|e| e.starts_with(&format!("{k}="))))
            .collect();
        check(
            "environment",
            missing.is_empty(),
            if missing.is_empty() {
                "PATH, HOME, USER and LANG are set".into()
            } else {
                format!("the image's Env lacks {}", missing.join(", "))
            },
            FIX_PROFILE,
        );
    }
    if profile == Profile::Coder {
        check(
            "downloader",
            facts.downloader.is_some(),
            match &facts.downloader {
                Some(d) => format!("{d} is there"),
                None => "neither curl nor wget is in PATH: Coder's init script downloads the \
                         agent with one of them"
                    .into(),
            },
            "add curl (or wget, or busybox) to a userConfig file (biar-tui add curl)",
        );
    }
    if profile == Profile::Devcontainer {
        let (ok, why) = devcontainer_label(facts, resolved.as_ref());
        check(
            "devcontainer-label",
            ok,
            why,
            "set \"image\": {\"profile\": \"devcontainer\"} in config.json",
        );
    }
    out
}

fn devcontainer_label(facts: &ImageFacts, user: Option<&ResolvedUser>) -> (bool, String) {
    let Some(text) = facts.labels.get(DEVCONTAINER_LABEL) else {
        return (false, format!("no {DEVCONTAINER_LABEL} label"));
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return (false, format!("the {DEVCONTAINER_LABEL} label is not JSON"));
    };
    let entries: Vec<&serde_json::Value> = match &v {
        serde_json::Value::Array(a) => a.iter().collect(),
        o @ serde_json::Value::Object(_) => vec![o],
        _ => return (false, "the label is neither an array nor an object".into()),
    };
    let remote = entries
        .iter()
        .rev()
        .find_map(|e| e["remoteUser"].as_str())
        .map(str::to_string);
    let update = entries
        .iter()
        .rev()
        .find_map(|e| e["updateRemoteUserUID"].as_bool());
    match (remote, update) {
        (None, _) => (false, "the label has no remoteUser".into()),
        (Some(r), _) if user.is_some_and(|u| u.name != r) => {
            (false, format!("remoteUser {r:?} is not the image's user"))
        }
        (Some(_), Some(false)) => (false, "updateRemoteUserUID is false".into()),
        (Some(r), _) => (true, format!("remoteUser {r:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ImageFacts {
        ImageFacts {
            user: "1000:1000".into(),
            env: [
                "PATH=/bin",
                "HOME=/home/u",
                "USER=u",
                "LANG=C.UTF-8",
                "SSL_CERT_FILE=/x",
            ]
            .map(String::from)
            .to_vec(),
            labels: Default::default(),
            passwd: Some("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n".into()),
            group: Some("root:x:0:\nu:x:1000:\n".into()),
            os_release: true,
            tmp: Some((true, 0o1777)),
            home: Some(HomeFact {
                path: "/home/u".into(),
                exists: true,
                uid: 1000,
                gid: 1000,
            }),
            sh: true,
            usr_bin_env: true,
            downloader: Some("/bin/wget".into()),
            ca_bundle: true,
        }
    }

    #[test]
    fn a_complete_image_passes_coder() {
        let checks = evaluate(&good(), Profile::Coder);
        assert!(
            checks.iter().all(|c| c.status == Status::Pass),
            "{checks:?}"
        );
        assert!(checks.iter().any(|c| c.rule == "downloader"));
    }

    /// A rule's name and how to break what it checks.
    type Case = (&'static str, Box<dyn Fn(&mut ImageFacts)>);

    #[test]
    fn each_missing_item_fails_its_rule_with_a_fix() {
        let cases: Vec<Case> = vec![
            ("passwd", Box::new(|f| f.passwd = None)),
            ("user", Box::new(|f| f.user = String::new())),
            ("os-release", Box::new(|f| f.os_release = false)),
            ("tmp", Box::new(|f| f.tmp = Some((true, 0o755)))),
            ("downloader", Box::new(|f| f.downloader = None)),
            (
                "environment",
                Box::new(|f| f.env.retain(|e| !e.starts_with("LANG"))),
            ),
            ("home", Box::new(|f| f.home.as_mut().unwrap().uid = 0)),
        ];
        for (rule, edit) in cases {
            let mut f = good();
            edit(&mut f);
            let checks = evaluate(&f, Profile::Coder);
            let c = checks.iter().find(|c| c.rule == rule).unwrap();
            assert_eq!(c.status, Status::Fail, "{rule}: {checks:?}");
            assert!(c.fix.is_some());
        }
    }

    #[test]
    fn the_devcontainer_label_needs_the_remote_user() {
        let mut f = good();
        let rule = |f: &ImageFacts| {
            evaluate(f, Profile::Devcontainer)
                .into_iter()
                .find(|c| c.rule == "devcontainer-label")
                .unwrap()
                .status
        };
        assert_eq!(rule(&f), Status::Fail);
        f.labels.insert(
            DEVCONTAINER_LABEL.into(),
            r#"[{"remoteUser": "u", "updateRemoteUserUID": true}]"#.into(),
        );
        assert_eq!(rule(&f), Status::Pass);
        f.labels
            .insert(DEVCONTAINER_LABEL.into(), r#"{"remoteUser": "v"}"#.into());
        assert_eq!(rule(&f), Status::Fail);
    }

    #[test]
    fn users_resolve_by_name_or_uid() {
        let p = "root:x:0:0::/root:/bin/sh\ndev:x:4242:4343::/home/dev:/bin/sh\n";
        assert_eq!(resolve_user("dev", p).unwrap().uid, 4242);
        assert_eq!(resolve_user("4242:4343", p).unwrap().name, "dev");
        assert!(resolve_user("1000", p).is_none());
        assert!(is_root("", None) && is_root("0:0", None) && !is_root("dev", Some(p)));
    }
}
