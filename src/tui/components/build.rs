//! The build view: live progress (derivations, what is building and its phase, layers) over the
//! log, kept in a ring buffer. Following the log is the default; scrolling pauses it, End resumes.
//! A push (`P`) shows here too: the same build, then the layers sent to the registry.
//!
//! Above the log, the tree of derivations with their states and times (and the ETA in the
//! header); when one fails, its own last log lines are pinned above the tree, and `w` saves its
//! whole kept log to the state folder, `y` copies it (OSC 52).

mod tree;

use std::collections::VecDeque;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Gauge, Paragraph};
use ratatui::Frame;

use biar::progress::{BuildEvent, BuildTree, Stage, Tally};

use super::{pane, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::ansi;
use crate::tui::keymap::Command;
use crate::tui::theme::Theme;
use crate::tui::view::{BuilderOffer, PushView};

/// Log lines kept per build; older ones are dropped.
pub const LOG_CAPACITY: usize = 5000;

#[derive(Debug, Default)]
pub struct Build {
    pub visible: bool,
    pub running: bool,
    /// This run pushes to the registry (instead of loading into Docker).
    pub push: bool,
    /// Where the push goes (`host[/namespace]`).
    pub registry: String,
    /// What the finished push did.
    pub pushed: Option<PushView>,
    pub cancelling: bool,
    /// The last run ended in an error after the user cancelled it: it was cancelled, not failed.
    pub cancelled: bool,
    /// "Cancel the build?" is on screen.
    pub confirming: bool,
    /// The builder is missing: "Create the builder?" is on screen, with what that would do.
    pub offer: Option<BuilderOffer>,
    /// The builder is being made (its steps arrive before the first stage).
    pub making_builder: bool,
    /// What the run's events add up to (the library's fold, rendered here).
    pub tally: Tally,
    /// The derivations as a tree with times (the library's fold, on this run's clock).
    pub tree: BuildTree,
    /// When this run started: the tree's times are offsets from it.
    pub epoch: Option<std::time::Instant>,
    pub log: VecDeque<Line<'static>>,
    /// Lines between the bottom of the log and the bottom of the view; 0 follows.
    pub scroll_back: usize,
    pub result: Option<Result<String, String>>,
    /// When the first bytes came from a binary cache, and the rate since (bytes a second),
    /// updated as events arrive so drawing needs no clock.
    pub fetch_started: Option<std::time::Instant>,
    pub fetch_rate: Option<f64>,
}

impl Build {
    pub fn following(&self) -> bool {
        self.scroll_back == 0
    }

    fn push_line(&mut self, line: Line<'static>) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(line);
        if self.scroll_back > 0 {
            // Keep the paused view on the same lines while new ones arrive below.
            self.scroll_back = (self.scroll_back + 1).min(self.log.len().saturating_sub(1));
        }
    }

    fn start(&mut self, push: Option<&str>) {
        *self = Build {
            visible: true,
            running: true,
            push: push.is_some(),
            registry: push.unwrap_or_default().to_string(),
            epoch: Some(std::time::Instant::now()),
            ..Build::default()
        };
    }

    /// Time into this run (the clock is read here, never while drawing).
    fn at(&self) -> std::time::Duration {
        self.epoch.map(|e| e.elapsed()).unwrap_or_default()
    }

    /// The failed derivation's name and its kept log, sanitized, for `w` and `y`.
    pub fn failed_log(&self) -> Option<(String, String)> {
        let node = self.tree.node(self.tree.failed()?);
        Some((node.name.clone(), node.log.text()))
    }

    fn on_event(&mut self, event: &BuildEvent) {
        let at = self.at();
        self.tree.on(event, at);
        let new_warning = self.tally.on(event);
        match event {
            BuildEvent::Downloaded { .. } => {
                let since = *self
                    .fetch_started
                    .get_or_insert_with(std::time::Instant::now);
                let secs = since.elapsed().as_secs_f64();
                if secs > 0.05 {
                    self.fetch_rate = Some(self.tally.fetched_bytes() as f64 / secs);
                }
            }
            BuildEvent::CacheWarning { cache, reason } if new_warning => self.push_line(
                ansi::log_line(&format!("warning: binary cache {cache}: {reason}"))
                    .style(Style::default().add_modifier(Modifier::BOLD)),
            ),
            BuildEvent::CachePushed { cache, paths } => self.push_line(ansi::log_line(&format!(
                "uploaded {paths} new paths (signed) to {cache}"
            ))),
            BuildEvent::SubstituteStarted { name, cache, .. } => {
                self.push_line(ansi::log_line(&format!("fetching {name} from {cache}")))
            }
            _ => {}
        }
        match event {
            BuildEvent::Stage { .. } => self.making_builder = false,
            BuildEvent::Builder { .. } => self.making_builder = true,
            _ => {}
        }
        match event {
            BuildEvent::Stage { name } => self.push_line(Line::from(Span::styled(
                format!("── {name} ──"),
                Style::default().add_modifier(Modifier::DIM),
            ))),
            BuildEvent::Log { line, .. } => self.push_line(ansi::log_line(line)),
            // Nix's levels: 0 error, 1 warning, 2 notice, 3 info; chattier ones stay out.
            BuildEvent::Message { level, text } if *level <= 3 => {
                let mut line = ansi::log_line(text);
                if *level == 0 {
                    line = line.style(Style::default().add_modifier(Modifier::BOLD));
                }
                self.push_line(line);
            }
            BuildEvent::Collision {
                file,
                winner,
                others,
            } => self.push_line(
                ansi::log_line(&biar::progress::describe_collision(file, winner, others))
                    .style(Style::default().add_modifier(Modifier::BOLD)),
            ),
            BuildEvent::Builder { text } => self.push_line(Line::from(Span::styled(
                format!("builder: {}", biar::progress::plain_text(text)),
                Style::default().add_modifier(Modifier::BOLD),
            ))),
            // The run ends with the backend's BuildFinished/PushFinished, which says it once.
            _ => {}
        }
    }

    /// The stage under way, as the title and the "now" line say it.
    fn stage(&self) -> &'static str {
        if self.making_builder {
            return "making the builder";
        }
        self.tally.stage.map_or("starting", Stage::name)
    }
}

impl Build {
    fn finish(&mut self, result: Result<String, String>) {
        self.running = false;
        self.cancelled = self.cancelling && result.is_err();
        self.cancelling = false;
        self.confirming = false;
        self.tally.building.clear();
        let at = self.at();
        self.tree.tick(at);
        if let Err(e) = &result {
            for l in e.lines() {
                self.push_line(Line::from(l.to_string()));
            }
        }
        self.result = Some(result);
    }

    /// "Build" or "Push", for titles.
    fn noun(&self) -> &'static str {
        if self.push {
            "Push"
        } else {
            "Build"
        }
    }
}

impl Component for Build {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        let len = self.log.len();
        let page = 20;
        let back = match command {
            Command::Up => self.scroll_back + 1,
            Command::Down => self.scroll_back.saturating_sub(1),
            Command::PageUp => self.scroll_back + page,
            Command::PageDown => self.scroll_back.saturating_sub(page),
            Command::Top => len,
            Command::Bottom | Command::Follow => 0,
            Command::Back => return Some(Action::HideBuild),
            Command::CancelBuild if self.running && !self.cancelling => {
                return Some(Action::AskCancelBuild)
            }
            Command::SaveLog if self.tree.failed().is_some() => return Some(Action::SaveFailedLog),
            Command::CopyLog if self.tree.failed().is_some() => return Some(Action::CopyFailedLog),
            _ => return None,
        };
        self.scroll_back = back.min(len.saturating_sub(1));
        Some(Action::Render)
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::Build if !self.running => self.start(None),
            Action::PushStarted(registry) => self.start(Some(registry)),
            Action::BuilderMissing(offer) => {
                self.running = false;
                self.visible = true;
                self.offer = Some(offer.clone());
            }
            Action::CreateBuilder(_) => {
                // The same run goes on: a build, or the push it was.
                let registry = self.registry.clone();
                let push = self.offer.as_ref().is_some_and(|o| o.push);
                self.start(push.then_some(registry.as_str()));
            }
            Action::DeclineBuilder => {
                self.offer = None;
                self.visible = false;
            }
            Action::Build | Action::ShowBuild => self.visible = true,
            Action::HideBuild => self.visible = false,
            Action::AskCancelBuild => self.confirming = true,
            Action::KeepBuilding => self.confirming = false,
            Action::CancelBuild => {
                self.confirming = false;
                self.cancelling = true;
            }
            Action::BuildEvents(events) => events.iter().for_each(|e| self.on_event(e)),
            Action::Tick if self.running => {
                let at = self.at();
                self.tree.tick(at);
            }
            Action::BuildFinished(result) => self.finish(result.clone()),
            Action::PushFinished(result) => {
                self.pushed = result.as_ref().ok().cloned();
                self.finish(
                    result
                        .as_ref()
                        .map(|p| p.remote.clone())
                        .map_err(Clone::clone),
                );
            }
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let title = if self.running {
            format!("{} · {}", self.noun(), self.stage())
        } else {
            self.noun().to_string()
        };
        let block = pane(
            &title,
            &Ctx {
                focused: true,
                ..*ctx
            },
        );
        let inner = block.inner(area);
        frame.render_widget(block, area);
        // The pinned failure and the tree take what they need, up to a third of the room each;
        // the log has the rest.
        let room = inner.height.saturating_sub(6) as usize;
        let failure_height = tree::failure_height(&self.tree).min(room / 3);
        let tree_height = if self.tree.is_empty() {
            0
        } else {
            (self.tree.len() + 1).min((room - failure_height) * 2 / 5)
        };
        let [summary, gauge, now, layers, failure, tree_area, rule, log, keys] =
            Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Length(failure_height as u16),
                Constraint::Length(tree_height as u16),
                Constraint::Length(1),
                Constraint::Min(0),
                Constraint::Length(1),
            ])
            .areas(inner);
        let width = inner.width as usize;
        frame.render_widget(
            Paragraph::new(tree::failure_lines(&self.tree, failure_height, width, t)),
            failure,
        );
        frame.render_widget(
            Paragraph::new(tree::tree_lines(&self.tree, tree_height, width, t)),
            tree_area,
        );

        frame.render_widget(Paragraph::new(self.summary_line(t)), summary);
        let ratio = self.ratio();
        frame.render_widget(
            Gauge::default()
                .ratio(ratio)
                .gauge_style(Style::default().fg(t.progress_fg).bg(t.selection_bg))
                .label(format!("{:.0}%", ratio * 100.0)),
            gauge,
        );
        frame.render_widget(Paragraph::new(truncate(&self.current(), width)), now);
        frame.render_widget(
            Paragraph::new(Span::styled(self.layer_text(), t.dim())),
            layers,
        );
        self.draw_log(frame, rule, log, t, width);
        frame.render_widget(
            Paragraph::new(Span::styled(truncate(&self.hint(), width), t.dim())),
            keys,
        );
        if self.confirming {
            self.draw_confirm(frame, area, ctx);
        }
        if let Some(offer) = &self.offer {
            draw_offer(offer, frame, area, ctx);
        }
    }
}

/// The parts of [`Build`]'s view, top to bottom.
impl Build {
    /// State, then derivations done of expected, running and failed.
    fn summary_line(&self, t: &Theme) -> Line<'static> {
        let (state, color) = match (&self.result, self.running) {
            (_, true) if self.cancelling => ("cancelling…".to_string(), t.warn_fg),
            (_, true) => ("running".to_string(), t.progress_fg),
            (Some(Ok(r)), false) => match &self.pushed {
                Some(p) if p.up_to_date => (format!("✓ already in the registry: {r}"), t.ok_fg),
                Some(_) => (format!("✓ pushed {r}"), t.ok_fg),
                None => (format!("✓ built {r}"), t.ok_fg),
            },
            (Some(Err(_)), false) if self.cancelled => ("✗ cancelled".to_string(), t.warn_fg),
            (Some(Err(_)), false) => ("✗ failed".to_string(), t.failed_fg),
            (None, false) if self.offer.is_some() => ("waiting: no builder".to_string(), t.warn_fg),
            (None, false) => ("not started".to_string(), t.dim_fg),
        };
        let mut line = vec![
            Span::styled(
                state,
                Style::default().fg(color).add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "   derivations {}/{}",
                self.tally.done, self.tally.expected
            )),
        ];
        if self.tally.running > 0 {
            line.push(Span::raw(format!(", {} running", self.tally.running)));
        }
        if self.tally.failed > 0 {
            line.push(Span::styled(
                format!(", {} failed", self.tally.failed),
                Style::default().fg(t.failed_fg),
            ));
        }
        if let Some(fetched) = self.fetch_text() {
            line.push(Span::raw(format!("   {fetched}")));
        }
        if self.running && self.tree.root().state.running() {
            line.push(Span::raw(format!("   {}", self.tree.eta())));
        }
        Line::from(line)
    }

    /// Paths fetched from binary caches, bytes downloaded and the rate, once any.
    fn fetch_text(&self) -> Option<String> {
        let (done, expected) = self.tally.substituted;
        if expected == 0 && self.tally.substituting.is_empty() {
            return None;
        }
        let mut text = format!(
            "fetched {done}/{expected} · {} ↓",
            bytes(self.tally.fetched_bytes())
        );
        if let Some(rate) = self.fetch_rate {
            text.push_str(&format!(" · {}/s", bytes(rate as u64)));
        }
        Some(text)
    }

    /// How far the build is, 0 to 1.
    fn ratio(&self) -> f64 {
        if self.tally.expected == 0 {
            if matches!(self.result, Some(Ok(_))) {
                1.0
            } else {
                0.0
            }
        } else {
            (self.tally.done as f64 / self.tally.expected as f64).clamp(0.0, 1.0)
        }
    }

    /// What runs now: the newest derivation building, else the stage.
    fn current(&self) -> String {
        match self.tally.building.last() {
            Some(b) => {
                let more = self.tally.building.len() - 1;
                let mut s = format!("building {}", b.name);
                if let Some(p) = &b.phase {
                    s.push_str(&format!(" · {p}"));
                }
                if more > 0 {
                    s.push_str(&format!(" (+{more})"));
                }
                s
            }
            None if self.running && !self.tally.substituting.is_empty() => {
                let more = self.tally.substituting.len() - 1;
                let newest = &self.tally.substituting[more];
                let mut s = format!("fetching {}", newest.name);
                if more > 0 {
                    s.push_str(&format!(" (+{more})"));
                }
                s
            }
            None if self.running && self.tally.stage == Some(Stage::Push) => {
                format!("pushing to {}…", self.registry)
            }
            None if self.running => format!("{}…", self.stage()),
            None => String::new(),
        }
    }

    /// Layers sent and reused, or the push's summary.
    fn layer_text(&self) -> String {
        if let Some(p) = &self.pushed {
            push_summary(p)
        } else if self.tally.layers_total == 0 {
            "layers: not yet".to_string()
        } else {
            format!(
                "{}: {} sent ({}), {} reused, of {}",
                if self.tally.stage == Some(Stage::Push) {
                    "push"
                } else {
                    "layers"
                },
                self.tally.layers_sent,
                bytes(self.tally.bytes_sent),
                self.tally.layers_reused,
                self.tally.layers_total
            )
        }
    }

    /// The rule above the log (following or paused) and the log's visible lines.
    fn draw_log(&self, frame: &mut Frame, rule: Rect, log: Rect, t: &Theme, width: usize) {
        let follow = if self.following() {
            "following".to_string()
        } else {
            format!("paused, {} lines below", self.scroll_back)
        };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(
                    "log ({follow}) {:─<width$}",
                    "",
                    width = width.saturating_sub(follow.len() + 7)
                ),
                t.border(false),
            )),
            rule,
        );

        // Long lines wrap (a download error naming its URL must be readable): rows are taken
        // from the end of the log until they fill the view.
        let height = log.height as usize;
        let cols = (log.width as usize).max(1);
        let end = self.log.len().saturating_sub(self.scroll_back);
        let mut rows: VecDeque<Line> = VecDeque::new();
        for line in self.log.range(..end).rev() {
            if rows.len() >= height {
                break;
            }
            for row in wrap_line(line, cols).into_iter().rev() {
                rows.push_front(row);
            }
        }
        while rows.len() > height {
            rows.pop_front();
        }
        frame.render_widget(Paragraph::new(Vec::from(rows)), log);
    }

    fn hint(&self) -> String {
        if self.running {
            format!(
                "esc back (the {} goes on) · ↑↓ pgup pgdn scroll · end follow · c cancel",
                self.noun().to_lowercase()
            )
        } else if self.tree.failed().is_some() {
            "esc back · ↑↓ pgup pgdn scroll · end follow · w save the failed log · y copy it"
                .to_string()
        } else {
            "esc back · ↑↓ pgup pgdn scroll · end follow".to_string()
        }
    }

    /// "Cancel the build?" over the view.
    fn draw_confirm(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let [popup] = Layout::horizontal([Constraint::Length(40)])
            .flex(Flex::Center)
            .areas(area);
        let [popup] = Layout::vertical([Constraint::Length(3)])
            .flex(Flex::Center)
            .areas(popup);
        frame.render_widget(Clear, popup);
        let title = format!("Cancel the {}?", self.noun().to_lowercase());
        let block = pane(
            &title,
            &Ctx {
                focused: true,
                ..*ctx
            },
        );
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("y", Style::default().fg(t.key_fg)),
                Span::raw(" stop it   "),
                Span::styled("any other key", Style::default().fg(t.key_fg)),
                Span::raw(" keep going"),
            ])),
            inner,
        );
    }
}

/// "Create the builder?" over the view: what it would make, each way, and the keys.
fn draw_offer(offer: &BuilderOffer, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = ctx.theme;
    let key = |k: &'static str| Span::styled(k, Style::default().fg(t.key_fg));
    let mut lines = vec![Line::from(
        "The builder this build needs is missing. Making it would:",
    )];
    lines.extend(
        offer
            .official
            .iter()
            .map(|s| Line::from(format!("  · {s}"))),
    );
    // Only the image's source differs offline (its first step), when an image is made at all.
    if offer.offline.first() != offer.official.first() {
        if let Some(first) = offer.offline.first() {
            lines.push(Line::from(Span::styled(
                format!("  or offline: {first}"),
                t.dim(),
            )));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(vec![
        key("y"),
        Span::raw(" make it, then go on   "),
        key("o"),
        Span::raw(" make it offline   "),
        key("any other key"),
        Span::raw(" not now"),
    ]));
    let width = area.width.saturating_sub(4).clamp(20, 90);
    let inner_width = width.saturating_sub(2).max(1) as usize;
    // Rows the wrapped text takes, so the popup fits it.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_width).max(1))
        .sum();
    let height = (rows as u16 + 2).min(area.height);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let block = pane(
        "Create the builder?",
        &Ctx {
            focused: true,
            ..*ctx
        },
    );
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

/// The push's line: what went, what the registry had, what it linked from a sibling repository.
pub fn push_summary(p: &PushView) -> String {
    if p.up_to_date {
        return "pushed: nothing, the registry has this image".to_string();
    }
    format!(
        "pushed: {} blobs sent ({}), {} reused ({}), {} mounted ({})",
        p.summary.blobs_sent,
        bytes(p.summary.bytes_sent),
        p.summary.blobs_reused,
        bytes(p.summary.bytes_reused),
        p.summary.blobs_mounted,
        bytes(p.summary.bytes_mounted)
    )
}

/// 1536 → "1.5 KiB": the library's one byte format (the build tree's, the CLI's).
pub use biar::progress::bytes;

/// `line` cut into rows of at most `cols` columns, styles kept (a character is never split).
fn wrap_line(line: &Line<'static>, cols: usize) -> Vec<Line<'static>> {
    use unicode_width::UnicodeWidthChar;
    let mut rows = vec![Line::default().style(line.style)];
    let mut used = 0;
    for span in &line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > cols && used > 0 {
                if !piece.is_empty() {
                    let done = std::mem::take(&mut piece);
                    rows.last_mut()
                        .unwrap()
                        .spans
                        .push(Span::styled(done, span.style));
                }
                rows.push(Line::default().style(line.style));
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            rows.last_mut()
                .unwrap()
                .spans
                .push(Span::styled(piece, span.style));
        }
    }
    rows
}

#[cfg(test)]
mod wrap_tests {
    use super::*;

    #[test]
    fn long_lines_wrap_with_their_styles() {
        let line = Line::from(vec![
            Span::raw("error: unable to download "),
            Span::styled(
                "https://example.invalid/a/long/path",
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]);
        let rows = wrap_line(&line, 20);
        let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(text.concat(), line.to_string());
        assert_eq!(text.len(), 61usize.div_ceil(20));
        assert!(rows[..rows.len() - 1].iter().all(|r| r.width() == 20));
        // The URL keeps its style on every row it reaches.
        assert_eq!(
            rows[3].spans[0].style,
            Style::default().add_modifier(Modifier::BOLD)
        );
        assert_eq!(wrap_line(&Line::from("short"), 20).len(), 1);
    }
}
