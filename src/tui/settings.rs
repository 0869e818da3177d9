//! The user's TUI settings: `$XDG_CONFIG_HOME/biar/config.toml` (theme and `[keybindings]`),
//! with `--theme` winning over the file.
//!
//! ```toml
//! theme = "light"            # a bundled name, a file in themes/ next to this file, or a path
//! [keybindings]
//! "ctrl-b" = "build"
//! b = "none"
//! ```

use std::path::{Path, PathBuf};

use super::keymap::Keymap;
use super::theme::Theme;

pub struct Settings {
    pub theme: Theme,
    pub keymap: Keymap,
}

/// `$XDG_CONFIG_HOME/biar` (or `~/.config/biar`).
pub fn config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("biar"))
}

impl Settings {
    /// Reads the settings file in `dir` if there is one. Errors name the file and the key.
    pub fn load(theme_flag: Option<&str>, dir: Option<&Path>) -> Result<Settings, String> {
        let mut table = toml::Table::new();
        let mut origin = String::from("config.toml");
        if let Some(dir) = dir {
            let path = dir.join("config.toml");
            origin = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    table = toml::from_str(&text).map_err(|e| {
                        format!("{origin}: not valid TOML: {}", e.message().trim_end())
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{origin}: {e}")),
            }
        }
        for key in table.keys() {
            // `trusted-paths`, `trusted-public-keys` and `[binary-cache]` are the engine's
            // (biar::config::TrustedPaths), read by every build.
            let engines = [
                biar::config::TRUSTED_PATHS_KEY,
                biar::config::TRUSTED_KEYS_KEY,
                biar::config::BINARY_CACHE_KEY,
            ];
            if key != "theme" && key != "keybindings" && !engines.contains(&key.as_str()) {
                return Err(format!(
                    "{origin}: unknown key `{key}` (expected `theme`, `{}`, `{}`, a [keybindings] \
                     or a [{}] table)",
                    biar::config::TRUSTED_PATHS_KEY,
                    biar::config::TRUSTED_KEYS_KEY,
                    biar::config::BINARY_CACHE_KEY
                ));
            }
        }
        let file_theme = match table.get("theme") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| format!("{origin}: `theme` must be a string"))?
                    .to_string(),
            ),
        };
        let theme = match theme_flag.map(str::to_string).or(file_theme) {
            Some(name) => Theme::load(&name, dir)?,
            None => Theme::default(),
        };
        let keymap = match table.get("keybindings") {
            None => Keymap::default(),
            Some(toml::Value::Table(t)) => Keymap::with_overrides(t, &origin)?,
            Some(_) => return Err(format!("{origin}: `keybindings` must be a table")),
        };
        Ok(Settings { theme, keymap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::style::Color;

    #[test]
    fn no_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load(None, Some(dir.path())).unwrap();
        assert_eq!(s.theme, Theme::default());
    }

    #[test]
    fn file_picks_theme_and_keys_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "theme = \"high-contrast\"\ntrusted-paths = [\"/srv/nixpkgs\"]\ntrusted-public-keys = []\n[keybindings]\nx = \"quit\"\n[binary-cache]\npush = false\n",
        )
        .unwrap();
        let s = Settings::load(None, Some(dir.path())).unwrap();
        assert_eq!(s.theme.bg, Color::Black);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(
            s.keymap.command(&x),
            Some(super::super::keymap::Command::Quit)
        );
        let s = Settings::load(Some("light"), Some(dir.path())).unwrap();
        assert_eq!(s.theme, Theme::load("light", None).unwrap());
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "colour = 1\n").unwrap();
        let e = Settings::load(None, Some(dir.path())).err().unwrap();
        assert!(e.contains("config.toml") && e.contains("colour"), "{e}");
    }
}
