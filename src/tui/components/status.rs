//! The status line: image reference, whether it is built (in Docker or the registry), Docker's
//! state, the build's or push's progress and the last note.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{Component, Ctx};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::{DockerState, DoctorState, ImageState, PushView};

use biar::progress::{Stage, Tally};

#[derive(Debug, Default)]
pub struct Status {
    pub image: Option<Result<String, String>>,
    pub image_state: ImageState,
    /// The image doctor's verdict on the built image.
    pub doctor: DoctorState,
    pub docker: DockerState,
    /// The user cancelled the running build or push: an error ending it is the cancel.
    pub cancelling: bool,
    /// The running build's or push's events, folded by the library's [`Tally`]; the line only
    /// renders it.
    pub run: Option<Tally>,
    pub note: String,
    /// The note is a warning: drawn as one, and the line makes room for it.
    pub warning: bool,
}

impl Component for Status {
    fn update(&mut self, action: &Action) -> Option<Action> {
        if matches!(
            action,
            Action::Edited { .. }
                | Action::BuildFinished(_)
                | Action::PushFinished(_)
                | Action::RunFinished(Ok(_))
                | Action::Notice(_)
        ) {
            self.warning = false;
        }
        match action {
            Action::ProjectLoaded(p) => self.image = Some(p.image.clone()),
            Action::Edited { project, message } => {
                self.image = Some(project.image.clone());
                self.note = message.clone();
            }
            Action::Image(state) => {
                self.image_state = state.clone();
                if *state != ImageState::Local {
                    self.doctor = DoctorState::Unknown;
                }
            }
            Action::Doctor(state) => {
                let current = self.image.as_ref().and_then(|r| r.as_ref().ok());
                let stale = matches!(state, DoctorState::Done(v) if Some(&v.image) != current);
                if !stale {
                    self.doctor = state.clone();
                }
            }
            Action::Docker(state) => self.docker = state.clone(),
            Action::Build | Action::PushStarted(_) if self.run.is_none() => {
                self.run = Some(Tally::default());
            }
            Action::BuildEvents(events) => {
                let tally = self.run.get_or_insert_with(Tally::default);
                for e in events {
                    tally.on(e);
                }
            }
            Action::CancelBuild => self.cancelling = true,
            Action::PushFinished(result) => {
                self.run = None;
                self.note = match result {
                    Ok(p) => push_note(p),
                    Err(_) if self.cancelling => "push cancelled".to_string(),
                    Err(_) => "push failed".to_string(),
                };
                self.cancelling = false;
            }
            Action::BuildFinished(result) => {
                self.run = None;
                self.note = match result {
                    Ok(r) => format!("built {r}"),
                    Err(_) if self.cancelling => "build cancelled".to_string(),
                    Err(_) => "build failed".to_string(),
                };
                self.cancelling = false;
            }
            Action::RunFinished(Ok(code)) => {
                self.note = format!("the environment exited with code {code}");
            }
            Action::Notice(note) => self.note = note.clone(),
            Action::Warning(note) => {
                self.note = note.clone();
                self.warning = true;
            }
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let base = Style::default().fg(t.status_fg).bg(t.status_bg);
        let width = area.width as usize;
        let mut help = ctx
            .keymap
            .keys_for(Command::Help)
            .into_iter()
            .next()
            .map(|k| format!("{k} help "))
            .unwrap_or_default();
        let mut spans = self.states(ctx, area.width, Shown::All);
        let used = |spans: &[Span]| spans.iter().map(|s| s.content.width()).sum::<usize>();
        // Room for the note: what is left, keeping room for the help key.
        let room =
            |spans: &[Span], help: &str| width.saturating_sub(used(spans) + 3 + help.width() + 1);
        // A fresh note is worth more than Docker's version (when it is up): it gives way first,
        // when that leaves the note room to show.
        if room(&spans, &help) < self.note.width() && matches!(self.docker, DockerState::Up { .. })
        {
            let without = self.states(ctx, area.width, Shown::NoDocker);
            if self.warning || room(&without, &help) >= 8 {
                spans = without;
            }
        }
        if self.warning && room(&spans, &help) < self.note.width() {
            // A warning must be read: the help key and the image's state give way to it too.
            if room(&spans, &help) < self.note.width() {
                help.clear();
            }
            if room(&spans, &help) < self.note.width() {
                spans = self.states(ctx, area.width, Shown::ImageOnly);
            }
        }
        if !self.note.is_empty() {
            let room = room(&spans, &help);
            if room >= 8 {
                spans.push(separator(base));
                let style = if self.warning {
                    Style::default().fg(t.warn_fg).add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                spans.push(Span::styled(super::truncate(&self.note, room), style));
            }
        }
        let used = used(&spans);
        if used + help.width() < width {
            spans.push(Span::raw(" ".repeat(width - used - help.width())));
            spans.push(Span::styled(help, base.add_modifier(Modifier::DIM)));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
    }
}

/// How much of the states a warning leaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    All,
    NoDocker,
    ImageOnly,
}

fn separator(base: Style) -> Span<'static> {
    Span::styled(" │ ", base.add_modifier(Modifier::DIM))
}

impl Status {
    /// `(done, expected)` derivations while a build or push runs.
    pub fn building(&self) -> Option<(u64, u64)> {
        self.run.as_ref().map(|t| (t.done, t.expected))
    }

    /// `(layers done, layers)` once a push sends layers.
    pub fn pushing(&self) -> Option<(usize, usize)> {
        let t = self.run.as_ref().filter(|t| t.stage == Some(Stage::Push))?;
        Some((t.layers_seen(), t.layers_total))
    }

    /// The line's states: the image, whether it is built, Docker, the build's progress.
    fn states(&self, ctx: &Ctx, width: u16, shown: Shown) -> Vec<Span<'static>> {
        let t = ctx.theme;
        let base = Style::default().fg(t.status_fg).bg(t.status_bg);
        let mut spans = vec![Span::raw(" ")];
        match &self.image {
            None => spans.push(Span::raw("loading…")),
            Some(Ok(r)) => spans.push(Span::styled(
                shorten_reference(r, width),
                Style::default().fg(t.image_fg).add_modifier(Modifier::BOLD),
            )),
            Some(Err(_)) => spans.push(Span::styled(
                "no image reference",
                Style::default().fg(t.failed_fg),
            )),
        }
        if shown == Shown::ImageOnly {
            return spans;
        }
        spans.push(separator(base));
        let (text, color) = match self.image_state {
            ImageState::Unknown => ("built: ?", t.status_fg),
            ImageState::Checking => ("built: checking…", t.warn_fg),
            ImageState::Local => ("built: local", t.ok_fg),
            ImageState::Registry => ("built: in registry", t.ok_fg),
            ImageState::NotBuilt => ("not built yet", t.warn_fg),
            ImageState::Environment => ("built: environment (no image)", t.ok_fg),
        };
        spans.push(Span::styled(text, Style::default().fg(color)));
        if let Some((text, color)) = self.doctor_verdict(ctx, width) {
            spans.push(separator(base));
            spans.push(Span::styled(text, Style::default().fg(color)));
        }
        if shown == Shown::All {
            spans.push(separator(base));
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
        }
        let progress = match (self.pushing(), self.building()) {
            (Some((done, total)), _) => Some(format!("pushing {done}/{total}")),
            (None, Some((done, expected))) => Some(format!("building {done}/{expected}")),
            (None, None) => None,
        };
        if let Some(text) = progress {
            spans.push(separator(base));
            spans.push(Span::styled(text, Style::default().fg(t.progress_fg)));
        }
        spans
    }
}

impl Status {
    /// The doctor's verdict on the built image and its colour, with the key that shows the list
    /// when something fails (on a narrow line only the profile and the count); `None` before
    /// there is one.
    fn doctor_verdict(&self, ctx: &Ctx, width: u16) -> Option<(String, ratatui::style::Color)> {
        let t = ctx.theme;
        Some(match &self.doctor {
            DoctorState::Unknown => return None,
            DoctorState::Checking => ("doctor: checking…".to_string(), t.warn_fg),
            DoctorState::Failed(_) => ("doctor: ?".to_string(), t.failed_fg),
            DoctorState::Done(v) if v.failing() == 0 => (format!("{} ✓", v.profile), t.ok_fg),
            DoctorState::Done(v) if width < 90 => {
                (format!("{} ✗{}", v.profile, v.failing()), t.failed_fg)
            }
            DoctorState::Done(v) => {
                let key = ctx
                    .keymap
                    .keys_for(Command::Doctor)
                    .into_iter()
                    .next()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default();
                (
                    format!("{}: {} failing{key}", v.profile, v.failing()),
                    t.failed_fg,
                )
            }
        })
    }
}

/// The status line's word on a finished push (the build view shows the whole summary).
fn push_note(p: &PushView) -> String {
    if p.up_to_date {
        return "already in the registry: nothing sent".to_string();
    }
    format!(
        "pushed {} blobs ({}), {} reused, {} mounted",
        p.summary.blobs_sent,
        super::build::bytes(p.summary.bytes_sent),
        p.summary.blobs_reused,
        p.summary.blobs_mounted
    )
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
