//! `?`: the keys, as the keymap binds them now (remapped keys show as remapped).

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Component, Ctx};
use crate::tui::action::Action;
use crate::tui::keymap::Command;

#[derive(Debug, Default)]
pub struct Help {
    pub visible: bool,
}

impl Component for Help {
    fn update(&mut self, action: &Action) -> Option<Action> {
        if let Action::ToggleHelp = action {
            self.visible = !self.visible;
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
        const NOTE: &str = " keys can be changed in $XDG_CONFIG_HOME/biar/config.toml";
        let width = (key_width + text_width + 6).max(NOTE.len() + 2) as u16;
        // The note on where keys are changed goes first when the screen is short.
        let with_note = rows.len() as u16 + 4 <= area.height;
        let height = rows.len() as u16 + if with_note { 4 } else { 2 };
        let [popup] = Layout::horizontal([Constraint::Length(width)])
            .flex(Flex::Center)
            .areas(area);
        let [popup] = Layout::vertical([Constraint::Length(height)])
            .flex(Flex::Center)
            .areas(popup);
        frame.render_widget(Clear, popup);
        let block = pane(
            "Keys",
            &Ctx {
                focused: true,
                ..*ctx
            },
        );
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
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
        if with_note {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(NOTE, ctx.theme.dim())));
        }
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
