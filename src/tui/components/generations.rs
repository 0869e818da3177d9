//! The project's generations (`h`): every build or push, newest first, with its time, image,
//! package count and closure size. Space marks a generation: two marks show what changes from
//! the older to the newer, one what changes from it to the current configuration (the same diff
//! as `biar-tui diff`, computed by the backend), scrolled with pgup/pgdn when taller than its
//! pane. Enter runs the selected one (as `run --image N`).

use std::cell::Cell;

use biar::inspect::human_bytes;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{move_selection, pane, scroll_offset, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::{DiffView, GenerationView};

/// The diff for the marks, as far as the backend got.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DiffState {
    /// Nothing marked.
    #[default]
    None,
    Computing,
    Done(DiffView),
    Failed(String),
}

#[derive(Debug, Default)]
pub struct Generations {
    pub visible: bool,
    /// The list is being read.
    pub loading: bool,
    pub error: Option<String>,
    /// Newest first.
    pub list: Vec<GenerationView>,
    pub selected: usize,
    /// Marked generation numbers, oldest first (at most two).
    pub marks: Vec<u64>,
    pub diff: DiffState,
    /// The current configuration's `name:tag`, to point at its generations.
    pub current: Option<String>,
    /// The generation whose image is being found (or pulled) to run it.
    pub preparing: Option<u64>,
    /// The first line of the diff shown (as asked; drawing clamps it).
    pub diff_scroll: usize,
    /// Rows of the diff the last frame showed and its largest useful scroll: how far pgup/pgdn
    /// move it. Written by `draw`, which alone knows the screen's size (as the help does); what
    /// is drawn never depends on them.
    diff_page: Cell<usize>,
    diff_max: Cell<usize>,
}

impl Generations {
    pub fn selected_generation(&self) -> Option<&GenerationView> {
        self.list.get(self.selected)
    }

    /// `number` marked or unmarked; a third mark replaces the older of the two.
    fn toggle_mark(&mut self, number: u64) {
        if let Some(i) = self.marks.iter().position(|m| *m == number) {
            self.marks.remove(i);
        } else {
            if self.marks.len() == 2 {
                self.marks.remove(0);
            }
            self.marks.push(number);
        }
        self.marks.sort_unstable();
    }
}

impl Component for Generations {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        // Pages move a diff that is taller than its pane; the list moves by rows.
        if matches!(self.diff, DiffState::Done(_)) && self.diff_max.get() > 0 {
            let (page, last) = (self.diff_page.get().max(1), self.diff_max.get());
            let now = self.diff_scroll.min(last);
            match command {
                Command::PageDown => {
                    self.diff_scroll = (now + page).min(last);
                    return Some(Action::Render);
                }
                Command::PageUp => {
                    self.diff_scroll = now.saturating_sub(page);
                    return Some(Action::Render);
                }
                _ => {}
            }
        }
        if let Some(selected) = move_selection(self.selected, self.list.len(), command, 10) {
            self.selected = selected;
            return Some(Action::Render);
        }
        match command {
            Command::Back | Command::Generations => Some(Action::HideGenerations),
            Command::Toggle => Some(Action::MarkGeneration(self.selected_generation()?.number)),
            Command::Select => Some(Action::RunGeneration(self.selected_generation()?.number)),
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::ShowGenerations => {
                self.visible = true;
                self.loading = true;
                self.error = None;
            }
            Action::HideGenerations => {
                // The app stops the diff under way; the next visit starts unmarked.
                self.visible = false;
                self.marks.clear();
                self.diff = DiffState::None;
            }
            Action::GenerationsLoaded(result) => {
                self.loading = false;
                match result {
                    Ok(list) => {
                        self.list = list.clone();
                        self.error = None;
                        self.selected = self.selected.min(self.list.len().saturating_sub(1));
                        // Marks of generations no longer kept go; the diff follows.
                        let before = self.marks.len();
                        let kept: Vec<u64> = self
                            .marks
                            .iter()
                            .copied()
                            .filter(|m| self.list.iter().any(|g| g.number == *m))
                            .collect();
                        self.marks = kept;
                        if self.marks.len() != before {
                            return Some(Action::CompareGenerations(self.marks.clone()));
                        }
                    }
                    Err(e) => self.error = Some(e.clone()),
                }
            }
            Action::MarkGeneration(number) => {
                self.toggle_mark(*number);
                return Some(Action::CompareGenerations(self.marks.clone()));
            }
            Action::CompareGenerations(marks) => {
                self.diff_scroll = 0;
                self.diff = if marks.is_empty() {
                    DiffState::None
                } else {
                    DiffState::Computing
                };
            }
            // An answer for marks changed since is stale.
            Action::GenerationDiff { marks, result } if *marks == self.marks => {
                self.diff = match result {
                    Ok(view) => DiffState::Done(view.clone()),
                    Err(e) => DiffState::Failed(e.clone()),
                };
            }
            Action::PreparingGeneration(number) => self.preparing = Some(*number),
            Action::GenerationReady { number, .. } if self.preparing == Some(*number) => {
                self.preparing = None;
            }
            Action::ProjectLoaded(project) | Action::Edited { project, .. } => {
                self.current = project.image.as_ref().ok().cloned();
            }
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let title = match self.list.len() {
            0 => "generations".to_string(),
            n => format!("generations: {n}, newest first"),
        };
        let block = pane(&title, ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        // The list takes what it needs up to about half; the diff the rest.
        let wanted = self.list.len().max(1) as u16 + 1;
        let [list, diff, hint] = Layout::vertical([
            Constraint::Length(wanted.min((inner.height / 2).max(3))),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let dim = ctx.theme.dim();
        if let Some(e) = &self.error {
            frame.render_widget(
                Paragraph::new(format!("the generations could not be read: {e}"))
                    .wrap(Wrap { trim: false }),
                list,
            );
        } else if self.loading && self.list.is_empty() {
            frame.render_widget(Paragraph::new("reading the generations…").style(dim), list);
        } else if self.list.is_empty() {
            frame.render_widget(
                Paragraph::new(
                    "no generations yet: every build (b, r) or push (P) of this project is one",
                )
                .style(dim)
                .wrap(Wrap { trim: false }),
                list,
            );
        } else {
            self.draw_list(frame, list, ctx);
            self.draw_diff(frame, diff, ctx);
        }
        let status = match self.preparing {
            Some(n) => format!("finding generation #{n}'s image… "),
            None => String::new(),
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(status, ctx.theme.matched()),
                Span::styled("space mark two to diff · enter run · esc back", dim),
            ])),
            hint,
        );
    }
}

impl Generations {
    fn draw_list(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let height = area.height as usize;
        let width = area.width as usize;
        let narrow = width < 80;
        let offset = scroll_offset(self.selected, self.list.len(), height.saturating_sub(1));
        let header = if narrow {
            format!(
                "   {:>3}  {:<11}  {:>4}  {:>9}  image",
                "#", "time", "pkgs", "closure"
            )
        } else {
            format!(
                "   {:>3}  {:<16}  {:<4}  {:>4}  {:>9}  image",
                "#", "time (UTC)", "to", "pkgs", "closure"
            )
        };
        let mut lines = vec![Line::styled(header, ctx.theme.dim())];
        for (i, g) in self
            .list
            .iter()
            .enumerate()
            .skip(offset)
            .take(height.saturating_sub(1))
        {
            let mark = if self.marks.contains(&g.number) {
                "● "
            } else {
                "  "
            };
            let size = g.closure_size.map_or("?".to_string(), human_bytes);
            let lead = if narrow {
                // `12-02 05:33`: the year is rarely the news.
                let short = g.time.get(5..).unwrap_or(&g.time);
                format!(
                    "{mark} {:>3}  {short:<11}  {:>4}  {size:>9}  ",
                    g.number, g.packages
                )
            } else {
                format!(
                    "{mark} {:>3}  {:<16}  {:<4}  {:>4}  {size:>9}  ",
                    g.number,
                    g.time,
                    if g.pushed { "push" } else { "load" },
                    g.packages
                )
            };
            let now = self.current.as_deref() == Some(g.reference.as_str());
            let tail = if now { "  (current)" } else { "" };
            let image = g.remote.as_deref().unwrap_or(&g.reference);
            let room = width.saturating_sub(lead.chars().count() + tail.chars().count());
            let text = format!("{lead}{}{tail}", truncate(image, room));
            let mut line = Line::raw(text);
            if i == self.selected {
                line = line.style(ctx.theme.selected());
            } else if self.marks.contains(&g.number) {
                line = line.style(ctx.theme.matched());
            }
            lines.push(line);
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn draw_diff(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let dim = ctx.theme.dim();
        let lines: Vec<Line> = match &self.diff {
            DiffState::None => vec![Line::styled(
                "mark a generation with space to see what changed: two marked compare with each \
                 other, one with the current configuration",
                dim,
            )],
            DiffState::Computing if self.marks.len() == 1 => vec![Line::styled(
                "building the current configuration to compare (nothing is loaded or pushed)…",
                dim,
            )],
            DiffState::Computing => vec![Line::styled("comparing…", dim)],
            DiffState::Failed(e) => vec![Line::raw(format!("could not compare: {e}"))],
            DiffState::Done(view) => diff_lines(view, ctx),
        };
        if !matches!(self.diff, DiffState::Done(_)) {
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
            return;
        }
        // A long diff scrolls (pgup/pgdn); what is below is counted, not cut silently.
        let height = area.height as usize;
        let fits = lines.len() <= height;
        let rows = if fits {
            height
        } else {
            height.saturating_sub(1)
        };
        let max_scroll = lines.len().saturating_sub(rows);
        let top = self.diff_scroll.min(max_scroll);
        self.diff_page.set(rows);
        self.diff_max.set(max_scroll);
        let mut shown: Vec<Line> = lines.iter().skip(top).take(rows).cloned().collect();
        if !fits && height > 0 {
            let below = lines.len() - top - shown.len();
            shown.push(Line::styled(
                format!(
                    "lines {}-{} of {} · pgup/pgdn scroll",
                    top + 1,
                    top + rows,
                    lines.len()
                ) + if below > 0 { " ↓" } else { "" },
                dim,
            ));
        }
        frame.render_widget(Paragraph::new(shown), area);
    }
}

/// The diff as `biar-tui diff` prints it, coloured: + added, - removed, ~ changed.
fn diff_lines(view: &DiffView, ctx: &Ctx) -> Vec<Line<'static>> {
    let d = &view.diff;
    let colour = |c| Style::default().fg(c);
    let (plus, minus, tilde) = (
        colour(ctx.theme.ok_fg),
        colour(ctx.theme.failed_fg),
        colour(ctx.theme.warn_fg),
    );
    let mut lines = vec![
        Line::raw(format!("from {}", d.from)),
        Line::raw(format!("to   {}", d.to)),
    ];
    if let (Some(a), Some(b)) = (d.size_from, d.size_to) {
        let delta = b as i128 - a as i128;
        let sign = if delta < 0 { "-" } else { "+" };
        lines.push(Line::raw(format!(
            "closure {} → {} ({sign}{})",
            human_bytes(a),
            human_bytes(b),
            human_bytes(delta.unsigned_abs() as u64)
        )));
    }
    if d.is_empty() {
        lines.push(Line::styled(
            "no package or store path changes",
            ctx.theme.dim(),
        ));
    }
    lines.extend(
        d.added
            .iter()
            .map(|p| Line::styled(format!("  + {p}"), plus)),
    );
    lines.extend(
        d.removed
            .iter()
            .map(|p| Line::styled(format!("  - {p}"), minus)),
    );
    lines.extend(
        d.changed
            .iter()
            .map(|c| Line::styled(format!("  ~ {} {} → {}", c.name, c.from, c.to), tilde)),
    );
    if let Some(push) = &view.push {
        lines.push(Line::raw(push.clone()));
    }
    lines.push(Line::raw(format!(
        "store paths: {} added, {} removed",
        d.paths_added.len(),
        d.paths_removed.len()
    )));
    lines.extend(
        d.paths_added
            .iter()
            .map(|p| Line::styled(format!("  + {p}"), plus)),
    );
    lines.extend(
        d.paths_removed
            .iter()
            .map(|p| Line::styled(format!("  - {p}"), minus)),
    );
    lines
}
