//! The typed view of `config.json`. Key names follow the BIAR prototype; everything but
//! `baseConfig` and `userConfig` has a default, so a prototype's file is valid as it is.
//!
//! Rewrites never go through this type (it would drop unknown keys and reorder): they edit the
//! JSON document itself, see `project.rs`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The base configuration file, relative to the project folder.
    pub base_config: String,
    /// The user configuration files, in order, relative to the project folder.
    pub user_config: Vec<String>,
    /// Where the host pushes and pulls images (BIAR: `localhost:5000`).
    #[serde(
        rename = "DOCKER_REGISTRY_HOST",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub docker_registry_host: Option<String>,
    /// The same registry as seen from inside the builder container (BIAR compatibility).
    #[serde(
        rename = "DOCKER_REGISTRY_CONTAINER",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub docker_registry_container: Option<String>,
    /// The nested form of the registry settings; wins over the BIAR keys when both are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySettings>,
    /// The pinned Nix package set.
    #[serde(default)]
    pub nixpkgs: PackageSetPin,
    #[serde(default)]
    pub builder: BuilderSettings,
    #[serde(default)]
    pub image: ImageSettings,
    #[serde(default)]
    pub index: IndexSettings,
    /// A Nix binary cache the project's team shares (`binaryCache.url` + `publicKey`): builds
    /// substitute from it only once the user's own settings trust its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_cache: Option<BinaryCacheSettings>,
}

/// `binaryCache` in config.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryCacheSettings {
    /// `http(s)://…` or `file:///…` (the builder's Nix 2.8 has no `s3://`).
    pub url: String,
    /// The cache's signing key's public half, `NAME:BASE64`.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySettings {
    /// `host[:port]` of the OCI registry.
    pub host: String,
    /// A path under the host the repositories go in (`team/envs`), empty for none.
    #[serde(default)]
    pub namespace: String,
    /// Use plain HTTP. Loopback hosts always may.
    #[serde(default)]
    pub insecure: bool,
}

/// Where the Nix package set comes from. Exactly one form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PackageSetPin {
    /// A tarball (e.g. a nixpkgs commit archive) with its sha256 (Nix base32 or SRI).
    Tarball { url: String, sha256: String },
    /// A channel name such as `nixos-24.11` (not reproducible over time; hashed by name).
    Channel { channel: String },
    /// A folder holding a package set's `default.nix`, relative to the project (tests use this).
    Path { path: String },
}

impl Default for PackageSetPin {
    fn default() -> Self {
        PackageSetPin::Channel {
            channel: "nixos-24.11".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuilderSettings {
    /// The builder image (made by `biar-tui builder create`).
    pub image: String,
    /// The named volume holding `/nix`, shared by every build.
    pub store_volume: String,
    /// Nix substituters; empty for offline builds.
    pub substituters: Vec<String>,
    /// Public keys trusted for the substituters.
    pub trusted_public_keys: Vec<String>,
    /// The Nix image the online `builder create` starts from: pulled unless the engine already
    /// has it.
    pub base_image: String,
    /// The memory limit of every builder container, `<number>[k|m|g]` (bytes by default).
    pub memory: String,
    /// The most processes (and threads) a builder container may hold at once.
    pub pids: i64,
    /// The Docker network of builder containers: empty for the engine's default, `host` to reach
    /// services on the engine's loopback (a binary cache on 127.0.0.1), or a network's name.
    pub network: String,
}

impl BuilderSettings {
    /// [`BuilderSettings::memory`] in bytes, or `None` when it is not a valid size.
    pub fn memory_bytes(&self) -> Option<i64> {
        parse_size(&self.memory)
    }
}

/// `512m`, `8g`, `1048576` → bytes (binary units, case-insensitive).
pub fn parse_size(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, unit) = match t.char_indices().last()? {
        (i, 'k') => (&t[..i], 1i64 << 10),
        (i, 'm') => (&t[..i], 1 << 20),
        (i, 'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

/// The official Nix image `builder create` starts from when it may pull.
pub const OFFICIAL_NIX_IMAGE: &str = "nixos/nix:2.24.14";

/// Enough for large builds (a compiler, a linker at once), not enough for a runaway build to
/// take a shared machine's memory.
pub const DEFAULT_BUILDER_MEMORY: &str = "8g";
/// Far above what `nix-build` and a few builds need, far below a fork bomb.
pub const DEFAULT_BUILDER_PIDS: i64 = 4096;
/// The smallest limits accepted: under these Nix itself does not start reliably.
pub const MIN_BUILDER_MEMORY: i64 = 256 << 20;
pub const MIN_BUILDER_PIDS: i64 = 64;

impl Default for BuilderSettings {
    fn default() -> Self {
        BuilderSettings {
            image: "biar-builder:latest".to_string(),
            store_volume: "biar-nix-store".to_string(),
            substituters: vec!["https://cache.nixos.org".to_string()],
            trusted_public_keys: vec![
                "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=".to_string(),
            ],
            base_image: OFFICIAL_NIX_IMAGE.to_string(),
            memory: DEFAULT_BUILDER_MEMORY.to_string(),
            pids: DEFAULT_BUILDER_PIDS,
            network: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImageSettings {
    /// Prefix of the image name; the base configuration's hash follows it.
    pub name_prefix: String,
    /// Most layers in an image, the root layer included (Docker refuses more than 125).
    pub max_layers: usize,
    /// The non-root user the environment runs as.
    pub user: String,
    /// Where `workdir/` is mounted and the shell starts.
    pub workdir: String,
    /// The workspace platform the image is made for (`plain`, `coder`, `devcontainer`).
    pub profile: crate::profile::Profile,
    /// The user's uid and gid (checked to be numbers before parsing: see `image_check.rs`).
    pub uid: u32,
    pub gid: u32,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            name_prefix: "biar-".to_string(),
            max_layers: 100,
            user: "user".to_string(),
            workdir: "/home/user/workdir".to_string(),
            profile: crate::profile::Profile::Plain,
            uid: crate::profile::DEFAULT_ID,
            gid: crate::profile::DEFAULT_ID,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IndexSettings {
    /// URL of a channel's `packages.json.br` (or `.xz`, or plain); none means no HTTP source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_url: Option<String>,
}
