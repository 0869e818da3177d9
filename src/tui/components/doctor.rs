//! `D`: the image doctor's list for the project's image (what `biar-tui doctor` prints): per
//! rule of the image's profile, pass or fail, why, and for a failure what to configure. The
//! verdict comes from the backend once the image is built; drawing only reads it.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, Component, Ctx};
use crate::tui::action::Action;
use crate::tui::view::{DoctorState, ImageState};

#[derive(Debug, Default)]
pub struct Doctor {
    pub visible: bool,
    pub state: DoctorState,
    /// The image the project names now: a verdict on another one is stale.
    image: Option<String>,
}

impl Component for Doctor {
    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::ToggleDoctor => self.visible = !self.visible,
            Action::ProjectLoaded(p) | Action::Edited { project: p, .. } => {
                self.image = p.image.clone().ok();
            }
            // Only a built image has a verdict; a new one is asked when it is.
            Action::Image(state) if *state != ImageState::Local => {
                self.state = DoctorState::Unknown;
            }
            Action::Doctor(state) => {
                let stale =
                    matches!(state, DoctorState::Done(v) if Some(&v.image) != self.image.as_ref());
                if !stale {
                    self.state = state.clone();
                }
            }
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        if !self.visible {
            return;
        }
        let t = ctx.theme;
        let mut title = "Doctor".to_string();
        let mut lines: Vec<Line> = Vec::new();
        match &self.state {
            DoctorState::Unknown => lines.push(Line::raw(
                " no built image to check yet: build it (b), then look again",
            )),
            DoctorState::Checking => lines.push(Line::raw(" checking the image…")),
            DoctorState::Failed(why) => lines.push(Line::styled(
                format!(" the doctor could not look: {why}"),
                Style::default().fg(t.failed_fg),
            )),
            DoctorState::Done(v) => {
                let failing = v.failing();
                title = if failing == 0 {
                    format!("Doctor · {} · all {} pass", v.profile, v.checks.len())
                } else {
                    format!(
                        "Doctor · {} · {failing} of {} fail",
                        v.profile,
                        v.checks.len()
                    )
                };
                let rule_width = v.checks.iter().map(|c| c.rule.len()).max().unwrap_or(0);
                for c in &v.checks {
                    let (mark, color) = if c.passed {
                        ("✓", t.ok_fg)
                    } else {
                        ("✗", t.failed_fg)
                    };
                    lines.push(Line::from(vec![
                        Span::styled(format!(" {mark} "), Style::default().fg(color)),
                        Span::styled(
                            format!("{:<rule_width$}  ", c.rule),
                            Style::default().fg(t.key_fg),
                        ),
                        Span::raw(c.why.clone()),
                    ]));
                    if let Some(fix) = &c.fix {
                        lines.push(Line::from(vec![
                            Span::raw(format!("   {:<rule_width$}  ", "")),
                            Span::styled(
                                format!("fix: {fix}"),
                                Style::default().add_modifier(Modifier::BOLD),
                            ),
                        ]));
                    }
                }
            }
        }
        let width = area.width.saturating_sub(4).min(100);
        let height = (lines.len() as u16).saturating_add(2);
        let [popup] = Layout::horizontal([Constraint::Length(width)])
            .flex(Flex::Center)
            .areas(area);
        let [popup] = Layout::vertical([Constraint::Length(height)])
            .flex(Flex::Center)
            .areas(popup);
        frame.render_widget(Clear, popup);
        let block = pane(
            &title,
            &Ctx {
                focused: true,
                ..*ctx
            },
        );
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        // Each line cut to the box (the status line says the verdict; the CLI prints it whole).
        let shown: Vec<Line> = lines
            .into_iter()
            .map(|l| {
                let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                if unicode_width::UnicodeWidthStr::width(text.as_str()) <= inner.width as usize {
                    l
                } else {
                    cut_line(l, inner.width as usize)
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(shown), inner);
    }
}

/// `line` cut to `width` columns, keeping each span's style, with an ellipsis at the cut.
fn cut_line(line: Line<'_>, width: usize) -> Line<'static> {
    let mut left = width;
    let mut spans = Vec::new();
    for s in line.spans {
        if left == 0 {
            break;
        }
        let w = unicode_width::UnicodeWidthStr::width(s.content.as_ref());
        if w < left {
            left -= w;
            spans.push(Span::styled(s.content.into_owned(), s.style));
        } else {
            spans.push(Span::styled(super::truncate(&s.content, left), s.style));
            left = 0;
        }
    }
    Line::from(spans)
}
