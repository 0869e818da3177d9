//! Keys to commands. The defaults below can be remapped in the user config file's
//! `[keybindings]` table, television-style: `"ctrl-b" = "build"`, `x = "remove"`, and
//! `d = "none"` to free a key.

use std::collections::HashMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for; components interpret it in their context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Quit,
    Help,
    Build,
    /// Build if needed, then push to the project's registry.
    Push,
    Run,
    FocusNext,
    FocusPrev,
    FocusSearch,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Space: turn the selected preset on or off.
    Toggle,
    /// Enter: add the selected search result.
    Select,
    Remove,
    /// Esc: close, go back, clear.
    Back,
    /// Build view: resume following the log.
    Follow,
    /// Build view: stop the build (asks first).
    CancelBuild,
    /// Open or close the closure explorer.
    Explore,
    /// Explorer: the next sort order.
    Sort,
    /// Open or close the list of the project's generations.
    Generations,
    /// The image doctor's list for the current image.
    Doctor,
    /// Build view: save the failed derivation's log to a file.
    SaveLog,
    /// Build view: copy the failed derivation's log (OSC 52).
    CopyLog,
}

impl Command {
    /// Name in the `[keybindings]` table, and its line in the help, in help order.
    pub const ALL: &[(Command, &'static str, &'static str)] = &[
        (Command::FocusSearch, "focus_search", "search packages"),
        (Command::FocusNext, "focus_next", "next pane"),
        (Command::FocusPrev, "focus_prev", "previous pane"),
        (Command::Up, "up", "move up"),
        (Command::Down, "down", "move down"),
        (Command::PageUp, "page_up", "page up"),
        (Command::PageDown, "page_down", "page down"),
        (Command::Top, "top", "first row"),
        (Command::Bottom, "bottom", "last row / follow the log"),
        (Command::Toggle, "toggle", "turn the preset on/off"),
        (
            Command::Select,
            "select",
            "add the package to your Nix file",
        ),
        (Command::Remove, "remove", "remove the package"),
        (Command::Build, "build", "build the image"),
        (Command::Run, "run", "build if needed, then run it here"),
        (
            Command::Push,
            "push",
            "build if needed, push to the registry",
        ),
        (
            Command::Doctor,
            "doctor",
            "the image doctor: its profile's rules",
        ),
        (Command::Follow, "follow", "follow the build log"),
        (
            Command::Explore,
            "explore",
            "closure explorer: sizes, why, layers",
        ),
        (Command::Sort, "sort", "explorer: next sort order"),
        (
            Command::Generations,
            "generations",
            "generations: diff two (space), run one",
        ),
        (
            Command::CancelBuild,
            "cancel_build",
            "cancel the build or push",
        ),
        (
            Command::SaveLog,
            "save_log",
            "build view: save the failed derivation's log",
        ),
        (
            Command::CopyLog,
            "copy_log",
            "build view: copy the failed derivation's log",
        ),
        (Command::Back, "back", "back / close / clear"),
        (Command::Help, "help", "this help"),
        (Command::Quit, "quit", "quit"),
    ];

    fn from_name(name: &str) -> Option<Command> {
        Command::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(c, ..)| *c)
    }
}

/// A key with its modifiers, comparable (shift is folded into characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyCombo {
    pub fn from_event(event: &KeyEvent) -> KeyCombo {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match event.code {
            KeyCode::Char(c) if event.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            KeyCode::BackTab => KeyCode::BackTab,
            other => other,
        };
        if matches!(code, KeyCode::Char(_)) || code == KeyCode::BackTab {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        // Two quick Esc presses arrive as one `ESC ESC`, which crossterm reads as alt-esc.
        if code == KeyCode::Esc {
            modifiers.remove(KeyModifiers::ALT);
        }
        KeyCombo { code, modifiers }
    }

    /// `ctrl-b`, `alt-x`, `shift-tab`, `enter`, `esc`, `space`, `pageup`, `f5`, `q`, `?`.
    pub fn parse(text: &str) -> Option<KeyCombo> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(if modifiers.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
        };
        Some(KeyCombo { code, modifiers })
    }
}

impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// The active bindings.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<KeyCombo, Command>,
}

const DEFAULTS: &[(&str, Command)] = &[
    ("q", Command::Quit),
    ("ctrl-c", Command::Quit),
    ("?", Command::Help),
    ("b", Command::Build),
    ("r", Command::Run),
    ("P", Command::Push),
    ("D", Command::Doctor),
    ("tab", Command::FocusNext),
    ("shift-tab", Command::FocusPrev),
    ("/", Command::FocusSearch),
    ("up", Command::Up),
    ("k", Command::Up),
    ("down", Command::Down),
    ("j", Command::Down),
    ("pageup", Command::PageUp),
    ("pagedown", Command::PageDown),
    ("home", Command::Top),
    ("g", Command::Top),
    ("end", Command::Bottom),
    ("G", Command::Bottom),
    ("space", Command::Toggle),
    ("enter", Command::Select),
    ("d", Command::Remove),
    ("delete", Command::Remove),
    ("esc", Command::Back),
    ("f", Command::Follow),
    ("c", Command::CancelBuild),
    ("w", Command::SaveLog),
    ("y", Command::CopyLog),
    ("e", Command::Explore),
    ("s", Command::Sort),
    ("h", Command::Generations),
];

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(k, c)| (KeyCombo::parse(k).expect("default key parses"), *c))
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The defaults with a `[keybindings]` table applied (`key = "command"`, or `"none"`).
    pub fn with_overrides(table: &toml::Table, origin: &str) -> Result<Keymap, String> {
        let mut keymap = Keymap::default();
        for (key, value) in table {
            let combo = KeyCombo::parse(key).ok_or_else(|| {
                format!(
                    "{origin} [keybindings]: `{key}` is not a key (examples: \"ctrl-b\", \"x\", \
                     \"enter\", \"f5\")"
                )
            })?;
            let name = value.as_str().ok_or_else(|| {
                format!("{origin} [keybindings]: the value of `{key}` must be a command name")
            })?;
            if name == "none" {
                keymap.bindings.remove(&combo);
                continue;
            }
            let command =
                Command::from_name(name).ok_or_else(|| {
                    format!(
                    "{origin} [keybindings]: unknown command `{name}`; the commands are: {}, none",
                    Command::ALL.iter().map(|(_, n, _)| *n).collect::<Vec<_>>().join(", ")
                )
                })?;
            keymap.bindings.insert(combo, command);
        }
        Ok(keymap)
    }

    pub fn command(&self, event: &KeyEvent) -> Option<Command> {
        self.bindings.get(&KeyCombo::from_event(event)).copied()
    }

    /// The keys bound to `command`, as the help shows them (stable order).
    pub fn keys_for(&self, command: Command) -> Vec<String> {
        let mut keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, c)| **c == command)
            .map(|(k, _)| k.to_string())
            .collect();
        // Short keys first (the ones people type), then alphabetical.
        keys.sort_by(|a, b| a.chars().count().cmp(&b.chars().count()).then(a.cmp(b)));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_resolve() {
        let k = Keymap::default();
        assert_eq!(
            k.command(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Command::Quit)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Command::Help)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Command::Bottom)
        );
        assert_eq!(
            k.command(&key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Command::FocusPrev)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('z'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn overrides_remap_and_unbind() {
        let table: toml::Table =
            toml::from_str("\"ctrl-b\" = \"build\"\nb = \"none\"\nx = \"remove\"").unwrap();
        let k = Keymap::with_overrides(&table, "config.toml").unwrap();
        assert_eq!(
            k.command(&key(KeyCode::Char('b'), KeyModifiers::CONTROL)),
            Some(Command::Build)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('b'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Command::Remove)
        );
        assert_eq!(k.keys_for(Command::Build), vec!["ctrl-b"]);
    }

    #[test]
    fn push_is_shift_p_and_rebindable() {
        let k = Keymap::default();
        assert_eq!(
            k.command(&key(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            Some(Command::Push)
        );
        assert_eq!(
            k.command(&key(KeyCode::Char('p'), KeyModifiers::NONE)),
            None
        );
        let table: toml::Table = toml::from_str("\"ctrl-p\" = \"push\"\nP = \"none\"").unwrap();
        let k = Keymap::with_overrides(&table, "config.toml").unwrap();
        assert_eq!(k.keys_for(Command::Push), vec!["ctrl-p"]);
        assert_eq!(
            k.command(&key(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            None
        );
    }

    #[test]
    fn bad_bindings_are_explained() {
        let table: toml::Table = toml::from_str("x = \"explode\"").unwrap();
        let e = Keymap::with_overrides(&table, "c.toml").unwrap_err();
        assert!(e.contains("explode") && e.contains("cancel_build"), "{e}");
        let table: toml::Table = toml::from_str("\"hyper-x\" = \"quit\"").unwrap();
        assert!(Keymap::with_overrides(&table, "c.toml")
            .unwrap_err()
            .contains("hyper-x"));
    }

    #[test]
    fn key_names_round_trip() {
        for name in [
            "ctrl-b",
            "alt-x",
            "enter",
            "space",
            "shift-tab",
            "f5",
            "pgup",
            "?",
        ] {
            let combo = KeyCombo::parse(name).unwrap();
            assert_eq!(
                KeyCombo::parse(&combo.to_string()).unwrap_or(combo),
                combo,
                "{name}"
            );
        }
    }
}
