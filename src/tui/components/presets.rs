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
        let name_width = self
            .presets
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0)
            .min(16);
        let skip = scroll_offset(self.selected, self.presets.len(), height);
        let lines: Vec<Line> = self
            .presets
            .iter()
            .enumerate()
            .skip(skip)
            .take(height)
            .map(|(i, p)| {
                let mark = if p.enabled { "[x] " } else { "[ ] " };
                let mark_style = if p.enabled {
                    ratatui::style::Style::default().fg(ctx.theme.enabled_fg)
                } else {
                    ctx.theme.dim()
                };
                let name = format!("{:<name_width$} ", truncate(&p.name, name_width));
                let rest = width.saturating_sub(4 + name_width + 1);
                let mut line = Line::from(vec![
                    Span::styled(mark, mark_style),
                    Span::raw(name),
                    Span::styled(truncate(&p.description, rest), ctx.theme.dim()),
                ]);
                if i == self.selected && ctx.focused {
                    line = line.style(ctx.theme.selected());
                }
                line
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
