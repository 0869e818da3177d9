//! The presets pane: every `presets/*.nix` with its description; space turns one on or off.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{move_selection, pane, scroll_offset, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::PresetView;

#[derive(Debug, Default)]
pub struct Presets {
    /// False until the project has loaded.
    pub loaded: bool,
    pub presets: Vec<PresetView>,
    pub selected: usize,
}

impl Component for Presets {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        if let Some(s) = move_selection(self.selected, self.presets.len(), command, 5) {
            self.selected = s;
            return Some(Action::Render);
        }
        match command {
            Command::Toggle | Command::Select => self
                .presets
                .get(self.selected)
                .map(|p| Action::TogglePreset(p.name.clone())),
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        if let Action::ProjectLoaded(project) | Action::Edited { project, .. } = action {
            self.loaded = true;
            self.presets = project.presets.clone();
            self.selected = self.selected.min(self.presets.len().saturating_sub(1));
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let on = self.presets.iter().filter(|p| p.enabled).count();
        let title = if self.presets.is_empty() {
            "Presets".to_string()
        } else {
            format!("Presets {on}/{}", self.presets.len())
        };
        let block = pane(&title, ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if self.presets.is_empty() {
            frame.render_widget(
                Paragraph::new(Span::styled(
                    if self.loaded {
                        "no presets/*.nix in the project"
                    } else {
                        "loading…"
                    },
                    ctx.theme.dim(),
                )),
                inner,
            );
            return;
        }
        let height = inner.height as usize;
        let width = inner.width as usize;
        let selected = ctx.focused.then_some(self.selected);
        let lines = preset_lines(
            &self.presets,
            self.selected,
            selected,
            height,
            width,
            ctx.theme,
        );
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// The preset list as the presets pane and the new-project screen draw it: `[x]`/`[ ] `, the name
/// in a column, the description cut to the width; scrolled so `cursor` shows, highlighted when
/// `selected` (the pane has the focus).
pub(super) fn preset_lines(
    presets: &[PresetView],
    cursor: usize,
    selected: Option<usize>,
    height: usize,
    width: usize,
    theme: &crate::tui::theme::Theme,
) -> Vec<Line<'static>> {
    let name_width = presets
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .min(16);
    let skip = scroll_offset(cursor, presets.len(), height);
    presets
        .iter()
        .enumerate()
        .skip(skip)
        .take(height)
        .map(|(i, p)| {
            let mark_style = if p.enabled {
                ratatui::style::Style::default().fg(theme.enabled_fg)
            } else {
                theme.dim()
            };
            let mark = if p.enabled { "[x] " } else { "[ ] " };
            let name = format!("{:<name_width$} ", truncate(&p.name, name_width));
            let rest = width.saturating_sub(4 + name_width + 1);
            let line = Line::from(vec![
                Span::styled(mark, mark_style),
                Span::raw(name),
                Span::styled(truncate(&p.description, rest), theme.dim()),
            ]);
            if selected == Some(i) {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect()
}
