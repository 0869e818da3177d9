//! `image.profile`, `image.uid` and `image.gid` checked on the JSON document before it is parsed
//! into [`super::Config`], so the error names the key (serde's would only say "expected u32").

use std::path::Path;

use super::project::locate_key;
use super::ConfigError;
use crate::profile::{Profile, PROFILE_NAMES};

/// The largest uid/gid: a tar header holds it in 7 octal digits.
pub const MAX_ID: u64 = 0o7777777;

/// Checks the `image` object of `doc` (read from `path`, whose text is `text`).
pub fn check_image_keys(
    path: &Path,
    text: &str,
    doc: &serde_json::Value,
) -> Result<(), ConfigError> {
    let Some(image) = doc.get("image").and_then(|i| i.as_object()) else {
        return Ok(());
    };
    if let Some(p) = image.get("profile") {
        if p.as_str().and_then(Profile::parse).is_none() {
            return Err(ConfigError::Invalid {
                at: locate_key(path, text, "profile"),
                message: format!(
                    "image.profile {p} is not a profile; use one of {}",
                    PROFILE_NAMES.join(", ")
                ),
            });
        }
    }
    for key in ["uid", "gid"] {
        let Some(v) = image.get(key) else { continue };
        match v.as_u64() {
            Some(n) if (1..=MAX_ID).contains(&n) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    at: locate_key(path, text, key),
                    message: format!(
                        "image.{key} {v} is not a number from 1 to {MAX_ID} (0 is root, which \
                         the image's user must not be); e.g. \"{key}\": 1000"
                    ),
                });
            }
        }
    }
    Ok(())
}
