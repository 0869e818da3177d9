//! The status line: image reference, whether it is built, Docker's state, the build's progress
//! and the last note.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{Component, Ctx};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::{DockerState, ImageState};

use biar::build::BuildEvent;

#[derive(Debug, Default)]
pub struct Status {
    pub image: Option<Result<String, String>>,
    pub image_state: ImageState,
    pub docker: DockerState,
    /// `(done, expected)` while a build runs.
    pub building: Option<(u64, u64)>,
    pub note: String,
}

impl Component for Status {
    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::ProjectLoaded(p) => self.image = Some(p.image.clone()),
            Action::Edited { project, message } => {
                self.image = Some(project.image.clone());
                self.note = message.clone();
            }
            Action::Image(state) => self.image_state = state.clone(),
            Action::Docker(state) => self.docker = state.clone(),
            Action::Build if self.building.is_none() => self.building = Some((0, 0)),
            Action::BuildEvents(events) => {
                for e in events {
                    if let BuildEvent::Progress { done, expected, .. } = e {
                        self.building = Some((*done, *expected));
                    }
                }
            }
            Action::BuildFinished(result) => {
                self.building = None;
                self.note = match result {
                    Ok(r) => format!("built {r}"),
                    Err(_) => "build failed".to_string(),
                };
            }
            Action::RunFinished(Ok(code)) => {
                self.note = format!("the environment exited with code {code}");
            }
            Action::Notice(note) => self.note = note.clone(),
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let base = Style::default().fg(t.status_fg).bg(t.status_bg);
        let sep = || Span::styled(" │ ", base.add_modifier(Modifier::DIM));
        let mut spans = vec![Span::raw(" ")];
        match &self.image {
            None => spans.push(Span::raw("loading…")),
            Some(Ok(r)) => spans.push(Span::styled(
                shorten_reference(r, area.width),
                Style::default().fg(t.image_fg).add_modifier(Modifier::BOLD),
            )),
            Some(Err(_)) => spans.push(Span::styled(
                "no image reference",
                Style::default().fg(t.failed_fg),
            )),
        }
        spans.push(sep());
        let (text, color) = match self.image_state {
            ImageState::Unknown => ("built: ?", t.status_fg),
            ImageState::Checking => ("built: checking…", t.warn_fg),
            ImageState::Local => ("built: local", t.ok_fg),
            ImageState::Registry => ("built: in registry", t.ok_fg),
            ImageState::NotBuilt => ("not built yet", t.warn_fg),
        };
        spans.push(Span::styled(text, Style::default().fg(color)));
        spans.push(sep());
        let (text, color) = match &self.docker {
            DockerState::Connecting => ("docker: connecting…".to_string(), t.warn_fg),
            // Distribution suffixes (`+dfsg1`) say nothing here.
            DockerState::Up { version } => (
                format!("docker {}", version.split('+').next().unwrap_or(version)),
                t.ok_fg,
            ),
            DockerState::Down { .. } => ("docker: unreachable".to_string(), t.failed_fg),
        };
        spans.push(Span::styled(text, Style::default().fg(color)));
        if let Some((done, expected)) = self.building {
            spans.push(sep());
            spans.push(Span::styled(
                format!("building {done}/{expected}"),
                Style::default().fg(t.progress_fg),
            ));
        }
        let help = ctx
            .keymap
            .keys_for(Command::Help)
            .into_iter()
            .next()
            .map(|k| format!("{k} help "))
            .unwrap_or_default();
        let width = area.width as usize;
        let used: usize = spans.iter().map(|s| s.content.width()).sum();
        if !self.note.is_empty() {
            // The note gets what is left, keeping room for the help key.
            let room = width.saturating_sub(used + 3 + help.width() + 1);
            if room >= 8 {
                spans.push(sep());
                spans.push(Span::raw(super::truncate(&self.note, room)));
            }
        }
        let used: usize = spans.iter().map(|s| s.content.width()).sum();
        if used + help.width() < width {
            spans.push(Span::raw(" ".repeat(width - used - help.width())));
            spans.push(Span::styled(help, base.add_modifier(Modifier::DIM)));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
    }
}

/// The full `name:tag` when the line has room for it, else both hashes cut to 12 characters (the
/// status line also needs room for the build state, Docker and the last note).
fn shorten_reference(reference: &str, width: u16) -> String {
    if reference.len() + 70 <= width as usize {
        return reference.to_string();
    }
    let cut = |s: &str, keep: usize| {
        if s.chars().count() > keep + 1 {
            format!("{}…", s.chars().take(keep).collect::<String>())
        } else {
            s.to_string()
        }
    };
    match reference.split_once(':') {
        Some((name, tag)) => {
            // Keep the prefix (`biar-`) and 12 characters of the hash after it.
            let prefix = name.find('-').map(|i| i + 1).unwrap_or(0);
            format!("{}:{}", cut(name, prefix + 12), cut(tag, 12))
        }
        None => cut(reference, 30),
    }
}

#[cfg(test)]
mod tests {
    use super::shorten_reference;

    #[test]
    fn long_references_are_cut_when_the_line_is_narrow() {
        let r = "biar-fe4c99a17f3987dd52f044bac25d8dd4:792425c134271b581d524650b2b45f27";
        assert_eq!(shorten_reference(r, 200), r);
        assert_eq!(
            shorten_reference(r, 120),
            "biar-fe4c99a17f39…:792425c13427…"
        );
        assert_eq!(shorten_reference("biar-ab:cd", 40), "biar-ab:cd");
    }
}
