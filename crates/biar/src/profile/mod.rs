//! Workspace profiles (`image.profile`): what a workspace platform takes for granted in an image,
//! added by configuration. `plain` is the image as it always was; `coder` and `devcontainer` add
//! what Coder's agent bootstrap and the Dev Containers tooling need (see `docs/workspaces.md`
//! for each item and its source). The image's root layer and config (`image::root`,
//! `image::assemble`) read the profile; `doctor` checks any image against it.
//! Ground floor: imports no other module of the crate.

use serde::{Deserialize, Serialize};

/// A workspace platform an image is made for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Today's image: nothing beyond the environment, its user and `/etc` basics.
    #[default]
    Plain,
    /// A Coder workspace (Docker template: `sh -c "<init script>"` as the entrypoint).
    Coder,
    /// A Dev Containers image (`devcontainer.metadata` label).
    Devcontainer,
}

/// The profile names, as `image.profile` and `--profile` take them.
pub const PROFILE_NAMES: [&str; 3] = ["plain", "coder", "devcontainer"];

impl Profile {
    pub fn parse(name: &str) -> Option<Profile> {
        match name {
            "plain" => Some(Profile::Plain),
            "coder" => Some(Profile::Coder),
            "devcontainer" => Some(Profile::Devcontainer),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Plain => "plain",
            Profile::Coder => "coder",
            Profile::Devcontainer => "devcontainer",
        }
    }

    /// Whether the profile adds the workspace items (os-release, LANG, …) to the image.
    pub fn is_workspace(self) -> bool {
        self != Profile::Plain
    }
}

/// The image label naming a workspace profile (absent on a plain image).
pub const PROFILE_LABEL: &str = "biar.profile";
/// The Dev Containers spec's image metadata label.
pub const DEVCONTAINER_LABEL: &str = "devcontainer.metadata";

/// The default uid and gid of the image's user (Coder's images use `coder`, uid 1000).
pub const DEFAULT_ID: u32 = 1000;

/// `LANG` of a workspace image: C.UTF-8 needs no locale archive (glibc has it built in since
/// 2.35, musl and busybox ignore locales), so it works in a Nix closure without `glibcLocales`.
pub const WORKSPACE_LANG: &str = "C.UTF-8";

/// `/etc/os-release` of a workspace image (os-release(5): `NAME` and `ID`; tools read `ID` and
/// `ID_LIKE` to tell the system apart).
pub fn os_release() -> &'static str {
    "NAME=\"biar-tui Nix environment\"\nID=biar\nID_LIKE=nixos\nPRETTY_NAME=\"biar-tui Nix environment\"\nHOME_URL=\"https://nixos.org/\"\n"
}

/// `/etc/passwd` of an image (and of a run as another uid, see `run`): `root`, the user with its
/// ids and home (shell `/bin/sh`), `nobody`.
pub fn passwd(user: &str, uid: u32, gid: u32, home: &str) -> String {
    format!(
        "root:x:0:0:root:/root:/bin/sh\n{user}:x:{uid}:{gid}:{user}:{home}:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n"
    )
}

/// `/etc/group` to go with [`passwd`]: `root`, the user's group (named after it), `nogroup`.
pub fn group(user: &str, gid: u32) -> String {
    format!("root:x:0:\n{user}:x:{gid}:\nnogroup:x:65534:\n")
}

/// The `devcontainer.metadata` label (Dev Containers spec, "Image metadata"): a JSON array of
/// metadata objects merged with a `devcontainer.json`; `updateRemoteUserUID` lets the tooling
/// change the user's uid to the host user's.
pub fn devcontainer_metadata(user: &str, home: &str, workdir: &str) -> String {
    serde_json::json!([{
        "remoteUser": user,
        "containerUser": user,
        "updateRemoteUserUID": true,
        "containerEnv": {
            "HOME": home,
            "USER": user,
            "LANG": WORKSPACE_LANG,
        },
        "workspaceFolder": workdir,
    }])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in PROFILE_NAMES {
            assert_eq!(Profile::parse(n).unwrap().name(), n);
        }
        assert_eq!(Profile::parse("Coder"), None);
        assert_eq!(Profile::default(), Profile::Plain);
    }

    #[test]
    fn devcontainer_label_is_an_array_with_the_user() {
        let v: serde_json::Value =
            serde_json::from_str(&devcontainer_metadata("dev", "/home/dev", "/work")).unwrap();
        assert_eq!(v[0]["remoteUser"], "dev");
        assert_eq!(v[0]["updateRemoteUserUID"], true);
        assert_eq!(v[0]["containerEnv"]["HOME"], "/home/dev");
    }
}
