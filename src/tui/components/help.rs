//! `?`: the keys, as the keymap binds them now (remapped keys show as remapped). On a short
//! terminal the list scrolls (↑/↓, pgup/pgdn, home/end) and the bottom border says what is
//! above and below.

use std::cell::Cell;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;

const NOTE: &str = " keys can be changed in $XDG_CONFIG_HOME/biar/config.toml";

#[derive(Debug, Default)]
pub struct Help {
    pub visible: bool,
    /// The first line shown (as asked; drawing clamps it to the last full page).
    pub scroll: usize,
    /// Rows of the list the last frame showed and the largest useful `scroll`: how far keys
    /// move it. Written by `draw`, which alone knows the screen's size (as gitui's components
    /// keep their last height); what is drawn never depends on them.
    page: Cell<usize>,
    max_scroll: Cell<usize>,
}

impl Component for Help {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let page = self.page.get().max(1);
        let last = self.max_scroll.get();
        let now = self.scroll.min(last);
        self.scroll = match key.command? {
            Command::Up => now.saturating_sub(1),
            Command::Down => (now + 1).min(last),
            Command::PageUp => now.saturating_sub(page),
            Command::PageDown => (now + page).min(last),
            Command::Top => 0,
            Command::Bottom => last,
            _ => return None,
        };
        Some(Action::Render)
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        if let Action::ToggleHelp = action {
            self.visible = !self.visible;
            self.scroll = 0;
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        if !self.visible {
            return;
        }
        let rows: Vec<(String, &str)> = Command::ALL
            .iter()
            .map(|(command, _, text)| (ctx.keymap.keys_for(*command).join(" "), *text))
            .filter(|(keys, _)| !keys.is_empty())
            .collect();
        let key_width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .min(22);
        let text_width = rows.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
        let width = (key_width + text_width + 6).max(NOTE.len() + 2) as u16;
        let mut lines: Vec<Line> = rows
            .into_iter()
            .map(|(keys, text)| {
                Line::from(vec![
                    Span::styled(
                        format!(" {:<key_width$}  ", super::truncate(&keys, key_width)),
                        Style::default().fg(ctx.theme.key_fg),
                    ),
                    Span::raw(text),
                ])
            })
            .collect();
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(NOTE, ctx.theme.dim())));

        let height = (lines.len() as u16).saturating_add(2);
        let [popup] = Layout::horizontal([Constraint::Length(width)])
            .flex(Flex::Center)
            .areas(area);
        let [popup] = Layout::vertical([Constraint::Length(height)])
            .flex(Flex::Center)
            .areas(popup);
        frame.render_widget(Clear, popup);
        let mut block = pane(
            "Keys",
            &Ctx {
                focused: true,
                ..*ctx
            },
        );
        let shown = popup.height.saturating_sub(2) as usize;
        let max_scroll = lines.len().saturating_sub(shown);
        let top = self.scroll.min(max_scroll);
        self.page.set(shown);
        self.max_scroll.set(max_scroll);
        if max_scroll > 0 && shown > 0 {
            block = block.title_bottom(Span::styled(
                scroll_note(top, shown, lines.len()),
                Style::default().fg(ctx.theme.key_fg),
            ));
        }
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        let visible: Vec<Line> = lines.into_iter().skip(top).take(shown).collect();
        frame.render_widget(Paragraph::new(visible), inner);
    }
}

/// The bottom border of a list taller than its box: which way there is more, and where we are.
fn scroll_note(top: usize, shown: usize, len: usize) -> String {
    let above = top > 0;
    let below = top + shown < len;
    let arrows = match (above, below) {
        (true, true) => "↑↓",
        (true, false) => "↑",
        (false, true) => "↓",
        (false, false) => "",
    };
    format!(
        " {arrows} more · {}-{} of {len} ",
        top + 1,
        (top + shown).min(len)
    )
}
