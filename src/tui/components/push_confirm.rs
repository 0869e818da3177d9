//! `P` shows what the push will change and send before anything is sent: packages added,
//! removed and changed since the last generation, and the bytes each layer would be uploaded,
//! mounted or skipped (from `biar::operations::diff_project`, which only HEADs the registry).
//! Enter pushes; esc does not.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{pane, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;

/// Opened by the app (only when a push could start), closed by its actions.
#[derive(Debug, Default)]
pub struct PushConfirm {
    pub visible: bool,
    /// The preview's lines (already through the sanitizer), once the backend answers.
    pub lines: Option<Vec<String>>,
    pub error: Option<String>,
}

impl Component for PushConfirm {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        match key.command {
            Some(Command::Select) => Some(Action::ConfirmPush),
            Some(Command::Back | Command::Quit) => Some(Action::HidePushPreview),
            // Nothing else acts behind the question.
            _ => Some(Action::Render),
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::PushPreview(result) if self.visible => match result {
                Ok(lines) => self.lines = Some(lines.clone()),
                Err(e) => self.error = Some(e.clone()),
            },
            Action::HidePushPreview | Action::ConfirmPush => self.visible = false,
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        if !self.visible {
            return;
        }
        let [row] = Layout::vertical([Constraint::Percentage(70)])
            .flex(Flex::Center)
            .areas(area);
        let [popup] = Layout::horizontal([Constraint::Percentage(80)])
            .flex(Flex::Center)
            .areas(row);
        frame.render_widget(Clear, popup);
        let block = pane("Push: what changes", ctx);
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        let mut lines: Vec<Line> = match (&self.lines, &self.error) {
            (_, Some(e)) => vec![Line::raw(format!("could not compute the diff: {e}"))],
            (Some(l), _) => l.iter().map(|s| Line::raw(s.clone())).collect(),
            (None, None) => vec![Line::styled(
                "building and asking the registry (nothing is sent)…",
                ctx.theme.dim(),
            )],
        };
        lines.push(Line::raw(""));
        lines.push(Line::styled("enter push · esc cancel", ctx.theme.dim()));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
