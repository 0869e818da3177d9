//! The visible parts of the UI. Each one changes only through `handle_key` (a key becomes an
//! action) and `update` (an action changes state), and draws as a pure function of its state.

pub mod banner;
pub mod build;
pub mod config;
pub mod doctor;
pub mod explorer;
pub mod generations;
pub mod help;
pub mod init;
pub mod presets;
pub mod push_confirm;
pub mod search;
pub mod status;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;

use super::action::Action;
use super::keymap::{Command, Keymap};
use super::theme::Theme;

/// A key press with the command the keymap gives it (components that take text look at the raw
/// event first).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub event: KeyEvent,
    pub command: Option<Command>,
}

/// What drawing needs besides the component's own state.
pub struct Ctx<'a> {
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub focused: bool,
}

pub trait Component {
    fn handle_key(&mut self, _key: &Key) -> Option<Action> {
        None
    }
    fn update(&mut self, _action: &Action) -> Option<Action> {
        None
    }
    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx);
}

/// The bordered block every pane uses.
pub fn pane<'a>(title: &'a str, ctx: &Ctx) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if ctx.focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(ctx.theme.border(ctx.focused))
        .title(Span::styled(
            format!(" {title} "),
            ctx.theme.title(ctx.focused),
        ))
        .style(ctx.theme.base())
}

/// The first row to show so that `selected` stays visible in `height` rows (keeps the selection
/// a little away from the edges, computed from state alone).
pub fn scroll_offset(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let half = height / 2;
    selected.saturating_sub(half).min(len - height)
}

/// Moves a selection by a list command; `None` when the command is not a movement.
pub fn move_selection(selected: usize, len: usize, command: Command, page: usize) -> Option<usize> {
    if len == 0 {
        return match command {
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom => Some(0),
            _ => None,
        };
    }
    let last = len - 1;
    Some(match command {
        Command::Up => selected.saturating_sub(1),
        Command::Down => (selected + 1).min(last),
        Command::PageUp => selected.saturating_sub(page),
        Command::PageDown => (selected + page).min(last),
        Command::Top => 0,
        Command::Bottom => last,
        _ => return None,
    })
}

/// Cuts `text` to `width` columns, with an ellipsis when cut.
pub fn truncate(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut used = 0;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}
