//! Colours. A theme file is a flat TOML table of colour keys (`border_fg = "#5f87af"`) that
//! overrides the built-in default, so a theme only names what it changes. Colours are ratatui's
//! names (`red`, `light-blue`, `dark-gray`, `reset`), `#rrggbb`, or a 0-255 palette index.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

/// The themes shipped in `themes/`, compiled in so the binary works from any folder.
const BUNDLED: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

macro_rules! theme {
    ($($key:ident = $default:expr, $doc:literal;)*) => {
        /// Every colour the UI uses, by role.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            $(#[doc = $doc] pub $key: Color,)*
        }

        impl Default for Theme {
            fn default() -> Self {
                Theme { $($key: $default,)* }
            }
        }

        impl Theme {
            /// The keys a theme file may set.
            pub const KEYS: &[&str] = &[$(stringify!($key),)*];

            fn slot(&mut self, key: &str) -> Option<&mut Color> {
                match key {
                    $(stringify!($key) => Some(&mut self.$key),)*
                    _ => None,
                }
            }
        }
    };
}

theme! {
    bg = Color::Reset, "Background of the whole screen.";
    fg = Color::Reset, "Ordinary text.";
    border_fg = Color::DarkGray, "Borders of unfocused panes.";
    focused_border_fg = Color::Cyan, "Border of the focused pane.";
    title_fg = Color::Gray, "Pane titles.";
    selection_bg = Color::Indexed(237), "Background of the selected row.";
    selection_fg = Color::Reset, "Text of the selected row.";
    match_fg = Color::Yellow, "Letters a search query matched.";
    dim_fg = Color::DarkGray, "Descriptions and secondary text.";
    version_fg = Color::Green, "Package versions.";
    enabled_fg = Color::Green, "A preset that is on.";
    file_fg = Color::Blue, "File names in the configuration pane.";
    input_fg = Color::Reset, "Text typed in the search box.";
    status_bg = Color::Indexed(236), "Status line background.";
    status_fg = Color::Gray, "Status line text.";
    image_fg = Color::Cyan, "The image reference in the status line.";
    ok_fg = Color::Green, "Good news: built, Docker up, build succeeded.";
    warn_fg = Color::Yellow, "Not built yet, checking, cancelling.";
    error_fg = Color::White, "Error banner text.";
    error_bg = Color::Red, "Error banner background.";
    failed_fg = Color::Red, "Failures in text (Docker down, build failed).";
    progress_fg = Color::Cyan, "The build progress bar.";
    key_fg = Color::Yellow, "Keys in the help.";
}

impl Theme {
    /// Applies a theme file's text over `self`. `origin` names the file in messages.
    pub fn overlay(mut self, text: &str, origin: &str) -> Result<Theme, String> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| format!("theme {origin}: not valid TOML: {}", e.message().trim_end()))?;
        for (key, value) in table {
            let Some(slot) = self.slot(&key) else {
                return Err(format!(
                    "theme {origin}: unknown key `{key}`; the keys are: {}",
                    Theme::KEYS.join(", ")
                ));
            };
            let Some(text) = value.as_str() else {
                return Err(format!(
                    "theme {origin}: `{key}` must be a string such as \"red\" or \"#ff8800\""
                ));
            };
            *slot = parse_color(text).ok_or_else(|| {
                format!(
                    "theme {origin}: `{key} = \"{text}\"` is not a colour (use a name such as \
                     \"light-blue\", \"#rrggbb\", or a palette index 0-255)"
                )
            })?;
        }
        Ok(self)
    }

    /// Finds a theme by name or path: a path (has a `/` or ends in `.toml`), then
    /// `CONFIG_DIR/biar/themes/NAME.toml`, then the bundled themes.
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, String> {
        let as_path = PathBuf::from(name);
        if name.contains('/') || name.ends_with(".toml") {
            let text = std::fs::read_to_string(&as_path)
                .map_err(|e| format!("theme file {}: {e}", as_path.display()))?;
            return Theme::default().overlay(&text, &as_path.display().to_string());
        }
        if let Some(dir) = config_dir {
            let path = dir.join("themes").join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Theme::default().overlay(&text, &path.display().to_string());
            }
        }
        match BUNDLED.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Theme::default().overlay(text, &format!("themes/{n}.toml")),
            None => {
                Err(format!(
                "no theme named `{name}`; the bundled ones are {}, or give a path to a .toml file",
                BUNDLED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))
            }
        }
    }

    // Styles by role, so components do not assemble them by hand.
    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }
    pub fn border(&self, focused: bool) -> Style {
        Style::default().fg(if focused {
            self.focused_border_fg
        } else {
            self.border_fg
        })
    }
    pub fn title(&self, focused: bool) -> Style {
        let style = Style::default().fg(if focused {
            self.focused_border_fg
        } else {
            self.title_fg
        });
        if focused {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }
    pub fn selected(&self) -> Style {
        Style::default().bg(self.selection_bg).fg(self.selection_fg)
    }
    pub fn matched(&self) -> Style {
        Style::default()
            .fg(self.match_fg)
            .add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        Style::default().fg(self.dim_fg)
    }
}

/// `ratatui`'s colour names plus `dark-gray` spellings, `#rrggbb`, and palette indices.
pub fn parse_color(text: &str) -> Option<Color> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Color::from_str(text)
        .or_else(|_| Color::from_str(&text.replace('-', "")))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_themes_parse() {
        for (name, _) in BUNDLED {
            Theme::load(name, None).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(Theme::load("default", None).unwrap(), Theme::default());
    }

    #[test]
    fn a_theme_overrides_only_what_it_names() {
        let t = Theme::default()
            .overlay("match_fg = \"#ff0000\"\nborder_fg = \"light-blue\"", "t")
            .unwrap();
        assert_eq!(t.match_fg, Color::Rgb(255, 0, 0));
        assert_eq!(t.border_fg, Color::LightBlue);
        assert_eq!(t.selection_bg, Theme::default().selection_bg);
    }

    #[test]
    fn colours_parse_in_every_form() {
        assert_eq!(parse_color("dark-gray"), Some(Color::DarkGray));
        assert_eq!(parse_color("darkgray"), Some(Color::DarkGray));
        assert_eq!(parse_color("reset"), Some(Color::Reset));
        assert_eq!(parse_color("208"), Some(Color::Indexed(208)));
        assert_eq!(parse_color("#0a0b0c"), Some(Color::Rgb(10, 11, 12)));
        assert_eq!(parse_color("nope"), None);
    }

    #[test]
    fn bad_theme_files_say_what_is_wrong() {
        let e = Theme::default()
            .overlay("bordr_fg = \"red\"", "x.toml")
            .unwrap_err();
        assert!(e.contains("x.toml") && e.contains("bordr_fg") && e.contains("border_fg"));
        let e = Theme::default()
            .overlay("match_fg = \"bluish\"", "x.toml")
            .unwrap_err();
        assert!(e.contains("bluish"), "{e}");
        let e = Theme::default()
            .overlay("match_fg = 3", "x.toml")
            .unwrap_err();
        assert!(e.contains("must be a string"), "{e}");
        let e = Theme::load("nosuch", None).unwrap_err();
        assert!(e.contains("high-contrast"), "{e}");
    }

    #[test]
    fn user_themes_and_paths_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/mine.toml"), "match_fg = \"red\"").unwrap();
        assert_eq!(
            Theme::load("mine", Some(dir.path())).unwrap().match_fg,
            Color::Red
        );
        let path = dir.path().join("themes/mine.toml");
        let t = Theme::load(path.to_str().unwrap(), None).unwrap();
        assert_eq!(t.match_fg, Color::Red);
    }
}
