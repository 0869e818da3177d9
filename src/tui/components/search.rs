//! The search pane: a query box and live results (attribute with matched letters highlighted,
//! version, description). Typing sends the query off the UI loop; results carry the query's id
//! and only the newest query's results are shown.

use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{move_selection, pane, scroll_offset, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::Hit;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IndexState {
    #[default]
    Loading,
    Ready(usize),
    Failed(String),
}

#[derive(Debug, Default)]
pub struct Search {
    pub query: String,
    /// The id of the newest query sent; results for any other id are stale.
    pub latest: u64,
    /// The id the shown results answer.
    pub shown: u64,
    pub hits: Vec<Hit>,
    pub selected: usize,
    pub index: IndexState,
}

impl Search {
    /// The id the next query will get (the app sends it with the request).
    pub fn next_id(&self) -> u64 {
        self.latest + 1
    }

    fn edited(&self) -> Option<Action> {
        Some(Action::Search(self.query.clone()))
    }
}

impl Component for Search {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let ev = key.event;
        let plain = !ev
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match ev.code {
            KeyCode::Char(c) if plain => {
                self.query.push(c);
                return self.edited();
            }
            KeyCode::Backspace if plain => {
                self.query.pop()?;
                return self.edited();
            }
            KeyCode::Char('u') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                self.query.clear();
                return self.edited();
            }
            KeyCode::Char('w') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                let trimmed = self.query.trim_end().len();
                let cut = self.query[..trimmed]
                    .rfind([' ', '.'])
                    .map(|i| i + 1)
                    .unwrap_or(0);
                self.query.truncate(cut);
                return self.edited();
            }
            _ => {}
        }
        let command = key.command?;
        if let Some(s) = move_selection(self.selected, self.hits.len(), command, 10) {
            self.selected = s;
            return Some(Action::Render);
        }
        match command {
            Command::Select => self
                .hits
                .get(self.selected)
                .map(|h| Action::AddPackage(h.attr.clone())),
            Command::Back if !self.query.is_empty() => {
                self.query.clear();
                self.edited()
            }
            Command::Back => Some(Action::Focus(crate::tui::action::Pane::Presets)),
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::Search(query) => {
                self.query = query.clone();
                self.latest = self.next_id();
                if query.trim().is_empty() {
                    self.hits.clear();
                    self.shown = self.latest;
                    self.selected = 0;
                }
            }
            Action::SearchResults { id, hits } if *id == self.latest => {
                self.hits = hits.clone();
                self.shown = *id;
                self.selected = 0;
            }
            // An older query's answer: dropped.
            Action::SearchResults { .. } => {}
            Action::IndexReady { names } => self.index = IndexState::Ready(*names),
            Action::IndexFailed(e) => self.index = IndexState::Failed(e.clone()),
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let title = match &self.index {
            IndexState::Loading => "Search · loading the index…".to_string(),
            IndexState::Ready(n) => format!("Search {} packages", thousands(*n)),
            IndexState::Failed(_) => "Search · no index".to_string(),
        };
        let block = pane(&title, ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [input, rule, results] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        self.draw_prompt(frame, input, ctx);
        self.draw_count(frame, rule, ctx);
        self.draw_hits(frame, results, ctx);
    }
}

impl Search {
    /// The query line, with the cursor or (unfocused and empty) the key that focuses it.
    fn draw_prompt(&self, frame: &mut Frame, input: Rect, ctx: &Ctx) {
        let theme = ctx.theme;
        let mut prompt = vec![
            Span::styled("> ", Style::default().fg(theme.focused_border_fg)),
            Span::styled(self.query.clone(), Style::default().fg(theme.input_fg)),
        ];
        if ctx.focused {
            prompt.push(Span::styled(
                "█",
                Style::default().fg(theme.focused_border_fg),
            ));
        } else if self.query.is_empty() {
            let key = ctx
                .keymap
                .keys_for(Command::FocusSearch)
                .into_iter()
                .next()
                .unwrap_or_else(|| "tab".into());
            prompt.push(Span::styled(format!("press {key} to search"), theme.dim()));
        }
        frame.render_widget(Paragraph::new(Line::from(prompt)), input);
    }

    /// The rule under the query, ending in how many matches (or that a search runs).
    fn draw_count(&self, frame: &mut Frame, rule: Rect, ctx: &Ctx) {
        let theme = ctx.theme;
        let count = if self.query.trim().is_empty() {
            String::new()
        } else if self.shown != self.latest {
            "searching…".to_string()
        } else {
            let more = if self.hits.len() >= crate::tui::backend::SEARCH_LIMIT {
                "+"
            } else {
                ""
            };
            format!("{}{more} matches", self.hits.len())
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!("{count:─>width$}", width = rule.width as usize),
                theme.border(false),
            ))),
            rule,
        );
    }

    /// The hits, one a line: the name with its matched letters, version and description; or a
    /// hint while there is no query.
    fn draw_hits(&self, frame: &mut Frame, results: Rect, ctx: &Ctx) {
        let theme = ctx.theme;
        if self.query.trim().is_empty() {
            let hint = match &self.index {
                IndexState::Failed(e) => e.clone(),
                _ => "type a name: enter adds it to your Nix file".to_string(),
            };
            frame.render_widget(
                Paragraph::new(Span::styled(hint, theme.dim()))
                    .wrap(ratatui::widgets::Wrap { trim: true }),
                results,
            );
            return;
        }
        let height = results.height as usize;
        let width = results.width as usize;
        // Names share the line with versions and descriptions only when the index has them.
        let details = self
            .hits
            .iter()
            .any(|h| h.version.is_some() || h.description.is_some());
        let attr_width = self
            .hits
            .iter()
            .map(|h| h.attr.width())
            .max()
            .unwrap_or(0)
            .min(if details { width * 2 / 5 } else { width })
            .max(8);
        let version_width = self
            .hits
            .iter()
            .map(|h| h.version.as_deref().map(|v| v.width()).unwrap_or(0))
            .max()
            .unwrap_or(0)
            .min(12);
        let skip = scroll_offset(self.selected, self.hits.len(), height);
        let lines: Vec<Line> = self
            .hits
            .iter()
            .enumerate()
            .skip(skip)
            .take(height)
            .map(|(i, hit)| {
                let mut spans = highlight(&hit.attr, &hit.matched, attr_width, ctx);
                let used: usize = spans.iter().map(|s| s.content.width()).sum();
                spans.push(Span::raw(" ".repeat(attr_width.saturating_sub(used) + 1)));
                if version_width > 0 {
                    let v = truncate(hit.version.as_deref().unwrap_or(""), version_width);
                    spans.push(Span::styled(
                        format!("{v:<version_width$} "),
                        Style::default().fg(theme.version_fg),
                    ));
                }
                let rest = width.saturating_sub(attr_width + 1 + version_width + 1);
                if let Some(d) = &hit.description {
                    spans.push(Span::styled(truncate(d, rest), theme.dim()));
                }
                let line = Line::from(spans);
                if i == self.selected {
                    line.style(theme.selected())
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), results);
    }
}

/// `attr` cut to `width`, the matched chars in the match style.
fn highlight(attr: &str, matched: &[usize], width: usize, ctx: &Ctx) -> Vec<Span<'static>> {
    let text = truncate(attr, width);
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_matched = false;
    for (i, c) in text.chars().enumerate() {
        let m = c != '…' && matched.contains(&i);
        if m != run_matched && !run.is_empty() {
            spans.push(styled_run(std::mem::take(&mut run), run_matched, ctx));
        }
        run_matched = m;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(styled_run(run, run_matched, ctx));
    }
    spans
}

fn styled_run(text: String, matched: bool, ctx: &Ctx) -> Span<'static> {
    if matched {
        Span::styled(text, ctx.theme.matched())
    } else {
        Span::raw(text)
    }
}

/// 124693 → "124,693".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
