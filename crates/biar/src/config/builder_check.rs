//! Validation of config.json's `builder` settings. Substituters and keys end up in the builder's
//! `nix.conf` and on `nix-build`'s command line, so they must be exactly one URL or one key each:
//! a space, newline or quote in one would add settings or words of its own.

use std::path::Path;

use base64::Engine as _;

use super::model::{BuilderSettings, MIN_BUILDER_MEMORY, MIN_BUILDER_PIDS};
use super::ConfigError;

/// Checks `settings` as read from `path` (whose text is `text`, for positions).
pub fn check_builder(
    path: &Path,
    text: &str,
    settings: &BuilderSettings,
) -> Result<(), ConfigError> {
    let at_value = |key: &str, value: &str| {
        super::project::locate_string(path, text, value)
            .unwrap_or_else(|| super::project::locate_key(path, text, key))
    };
    for s in &settings.substituters {
        if let Err(why) = check_substituter(s) {
            return Err(ConfigError::Invalid {
                at: at_value("substituters", s),
                message: format!(
                    "builder.substituters entry {s:?} is not a substituter URL: {why} \
                     (e.g. \"https://cache.nixos.org\")"
                ),
            });
        }
    }
    for k in &settings.trusted_public_keys {
        if let Err(why) = check_public_key(k) {
            return Err(ConfigError::Invalid {
                at: at_value("trustedPublicKeys", k),
                message: format!(
                    "builder.trustedPublicKeys entry {k:?} is not a Nix public key: {why} \
                     (NAME:BASE64, e.g. \"cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\")"
                ),
            });
        }
    }
    if let Err(why) = check_network(&settings.network) {
        return Err(ConfigError::Invalid {
            at: at_value("network", &settings.network),
            message: format!("builder.network {:?} {why}", settings.network),
        });
    }
    if !valid_image_reference(&settings.base_image) {
        return Err(ConfigError::Invalid {
            at: at_value("baseImage", &settings.base_image),
            message: format!(
                "builder.baseImage {:?} is not an image reference (e.g. \"nixos/nix:2.24.14\")",
                settings.base_image
            ),
        });
    }
    match settings.memory_bytes() {
        Some(bytes) if bytes >= MIN_BUILDER_MEMORY => {}
        _ => {
            return Err(ConfigError::Invalid {
                at: super::project::locate_key(path, text, "memory"),
                message: format!(
                    "builder.memory {:?} is not a memory size of at least 256m (a number of \
                     bytes, or with k, m or g: \"8g\")",
                    settings.memory
                ),
            })
        }
    }
    if settings.pids < MIN_BUILDER_PIDS {
        return Err(ConfigError::Invalid {
            at: super::project::locate_key(path, text, "pids"),
            message: format!(
                "builder.pids is {}; use at least {MIN_BUILDER_PIDS} (Nix and a build need a few \
                 dozen processes)",
                settings.pids
            ),
        });
    }
    Ok(())
}

/// `scheme://rest` with only characters a URL may hold (no spaces, quotes or controls).
pub fn check_substituter(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it needs a scheme such as https://");
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
    {
        return Err("the scheme must be letters, digits, `+`, `.` or `-`");
    }
    if rest.is_empty() {
        return Err("nothing follows the scheme");
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&()*+,;=%".contains(c))
    {
        return Err("it holds a character a URL cannot (a space, quote or control character)");
    }
    Ok(())
}

/// `builder.network`: empty (the engine's default) or a Docker network's name (`host`,
/// `bridge`, `none`, or one the user made).
pub fn check_network(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Ok(());
    }
    let mut chars = name.chars();
    if name.len() > 128
        || !chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err("is not a Docker network name (empty for the engine's default, or `host`)");
    }
    Ok(())
}

/// The kinds of binary cache the builder's Nix can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUrl {
    /// `http://` or `https://`: read with GET, written with PUT (any web server with uploads).
    Http,
    /// `file:///DIR`: a folder on the engine's machine, mounted into the builder at `DIR`.
    File { dir: String },
}

/// A binary cache's URL (from `binaryCache.url` or the user's `binary-cache.url`): `Err` says
/// why not, naming the value.
pub fn check_cache_url(url: &str) -> Result<CacheUrl, String> {
    check_substituter(url).map_err(|why| format!("{url:?} is not a cache URL: {why}"))?;
    let (scheme, rest) = url.split_once("://").unwrap_or_default();
    match scheme {
        "http" | "https" => Ok(CacheUrl::Http),
        "file" => {
            let dir = rest.split(['?', '#']).next().unwrap_or_default();
            if !dir.starts_with('/') || dir.split('/').any(|p| p == "..") || dir.contains(':') {
                return Err(format!(
                    "{url:?}: a file:// cache names an absolute folder, file:///srv/nix-cache"
                ));
            }
            Ok(CacheUrl::File {
                dir: dir.trim_end_matches('/').to_string(),
            })
        }
        "s3" => Err(format!(
            "{url:?}: the builder's Nix (Debian's Nix 2.8) is built without S3 support, so it \
             cannot use an s3:// cache; serve the bucket over https:// (any HTTP endpoint of it \
             works for reading) or use an http(s):// or file:// cache"
        )),
        other => Err(format!(
            "{url:?} has the scheme {other}://, which is not a binary cache's: use http://, \
             https:// or file://"
        )),
    }
}

/// `NAME:BASE64` of a 32-byte ed25519 public key.
pub fn check_public_key(key: &str) -> Result<(), &'static str> {
    let Some((name, b64)) = key.split_once(':') else {
        return Err("no `:` between the name and the key");
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err("the name must be letters, digits, `-`, `.` or `_`");
    }
    match base64::engine::general_purpose::STANDARD.decode(b64) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        Ok(_) => Err("the key is not 32 bytes (an ed25519 public key)"),
        Err(_) => Err("the key is not base64"),
    }
}

/// A Docker image reference: lowercase name components, an optional registry port, `:tag` and
/// `@digest`; no spaces or shell characters.
pub fn valid_image_reference(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_urls_are_http_or_file_and_s3_is_explained() {
        assert_eq!(check_cache_url("http://127.0.0.1:8080"), Ok(CacheUrl::Http));
        assert_eq!(
            check_cache_url("https://cache.example/x?priority=10"),
            Ok(CacheUrl::Http)
        );
        assert_eq!(
            check_cache_url("file:///srv/cache/"),
            Ok(CacheUrl::File {
                dir: "/srv/cache".into()
            })
        );
        let e = check_cache_url("s3://bucket").unwrap_err();
        assert!(e.contains("s3://bucket") && e.contains("S3 support"), "{e}");
        let e = check_cache_url("gopher://x").unwrap_err();
        assert!(e.contains("gopher://x") && e.contains("gopher://"), "{e}");
        assert!(check_cache_url("file://relative/x").is_err());
        assert!(check_cache_url("file:///a/../b").is_err());
        assert!(check_cache_url("no scheme").is_err());
    }

    #[test]
    fn networks_are_names() {
        for ok in ["", "host", "bridge", "my_net-1.x"] {
            assert!(check_network(ok).is_ok(), "{ok}");
        }
        for bad in ["-x", "a b", "host;rm", "container:abc"] {
            assert!(check_network(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn substituters_must_be_plain_urls() {
        assert!(check_substituter("https://cache.nixos.org").is_ok());
        assert!(check_substituter("http://localhost:8080/cache?priority=30").is_ok());
        assert!(check_substituter("file:///srv/cache").is_ok());
        assert!(check_substituter("s3://bucket?region=eu-west-1").is_ok());
        for bad in [
            "cache.nixos.org",
            "https://",
            "https://x' ; touch /pwned ; '",
            "https://x\nsandbox = true",
            "https://x y",
            "https://x\"",
            "HTTPS://x",
        ] {
            assert!(check_substituter(bad).is_err(), "{bad:?}");
        }
        // A percent-escape is a URL's own: it reaches Nix as an argument, never a format.
        assert!(check_substituter("https://x/%41").is_ok());
    }

    #[test]
    fn keys_are_name_colon_32_bytes_of_base64() {
        assert!(
            check_public_key("cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=")
                .is_ok()
        );
        for bad in [
            "6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
            "a b:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
            "k:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\nsandbox = false",
            "k:AAAA",
            "k:not base64!",
            ":6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
        ] {
            assert!(check_public_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_references() {
        assert!(valid_image_reference("nixos/nix:2.24.14"));
        assert!(valid_image_reference("localhost:5000/nix/nix@sha256:abc"));
        assert!(!valid_image_reference("nix; rm -rf /"));
        assert!(!valid_image_reference(""));
        assert!(!valid_image_reference("-x"));
    }
}
