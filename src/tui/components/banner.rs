//! The error banner: the last failure, whole (the messages name the file and what to do), until
//! dismissed with Esc or replaced by a successful edit.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{Component, Ctx};
use crate::tui::action::Action;

#[derive(Debug, Default)]
pub struct Banner {
    pub message: Option<String>,
}

impl Banner {
    /// Rows the banner needs at `width` (0 when hidden), at most 4.
    pub fn height(&self, width: u16) -> u16 {
        let Some(m) = &self.message else { return 0 };
        let width = width.saturating_sub(2).max(1) as usize;
        // +8 for the " error: " label on the first line.
        let rows: usize = m
            .lines()
            .map(|l| (l.chars().count() + 8).div_ceil(width).max(1))
            .sum::<usize>()
            + 1;
        rows.min(4) as u16
    }
}

impl Component for Banner {
    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::Error(message) => self.message = Some(message.clone()),
            Action::DismissError | Action::Edited { .. } => self.message = None,
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let Some(message) = &self.message else { return };
        let style = Style::default()
            .fg(ctx.theme.error_fg)
            .bg(ctx.theme.error_bg);
        let mut lines: Vec<Line> = message
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    Line::from(vec![
                        Span::styled(" error: ", style.add_modifier(Modifier::BOLD)),
                        Span::raw(l.to_string()),
                    ])
                } else {
                    Line::from(format!(" {l}"))
                }
            })
            .collect();
        lines.push(Line::from(Span::styled(
            " esc dismisses",
            style.add_modifier(Modifier::DIM),
        )));
        frame.render_widget(
            Paragraph::new(lines)
                .style(style)
                .wrap(Wrap { trim: false }),
            area,
        );
    }
}
