//! The configuration pane: each `userConfig` file with its packages; `d` removes the selected one.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{move_selection, pane, scroll_offset, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::FileView;

#[derive(Debug, Default)]
pub struct Config {
    pub files: Vec<FileView>,
    /// Index into [`Config::packages`].
    pub selected: usize,
}

impl Config {
    /// Every (file, package) pair in display order: the selectable rows.
    pub fn packages(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .flat_map(|f| {
                f.packages
                    .iter()
                    .map(move |p| (f.name.as_str(), p.as_str()))
            })
            .collect()
    }
}

enum Row<'a> {
    File(&'a FileView),
    Package { attr: &'a str, index: usize },
    Note(&'a str),
}

impl Component for Config {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        let len = self.packages().len();
        if let Some(s) = move_selection(self.selected, len, command, 10) {
            self.selected = s;
            return Some(Action::Render);
        }
        match command {
            Command::Remove => {
                self.packages()
                    .get(self.selected)
                    .map(|(file, attr)| Action::RemovePackage {
                        file: file.to_string(),
                        attr: attr.to_string(),
                    })
            }
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        if let Action::ProjectLoaded(project) | Action::Edited { project, .. } = action {
            self.files = project.files.clone();
            self.selected = self.selected.min(self.packages().len().saturating_sub(1));
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let count = self.packages().len();
        let title = format!("Configuration · {count} packages");
        let block = pane(&title, ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let mut rows = Vec::new();
        let mut index = 0;
        let mut selected_row = 0;
        for file in &self.files {
            rows.push(Row::File(file));
            if let Some(e) = &file.error {
                rows.push(Row::Note(e));
            } else if file.packages.is_empty() {
                rows.push(Row::Note("(empty)"));
            }
            for attr in &file.packages {
                if index == self.selected {
                    selected_row = rows.len();
                }
                rows.push(Row::Package { attr, index });
                index += 1;
            }
        }
        let height = inner.height as usize;
        let width = inner.width as usize;
        let skip = scroll_offset(selected_row, rows.len(), height);
        let theme = ctx.theme;
        let lines: Vec<Line> = rows
            .iter()
            .skip(skip)
            .take(height)
            .map(|row| match row {
                Row::File(f) => Line::from(Span::styled(
                    truncate(&f.name, width),
                    Style::default().fg(theme.file_fg),
                )),
                Row::Note(n) => Line::from(Span::styled(
                    truncate(&format!("  {n}"), width),
                    if n.starts_with('(') {
                        theme.dim()
                    } else {
                        Style::default().fg(theme.failed_fg)
                    },
                )),
                Row::Package { attr, index } => {
                    let line = Line::from(format!("  {}", truncate(attr, width.saturating_sub(2))));
                    if *index == self.selected && ctx.focused {
                        line.style(theme.selected())
                    } else {
                        line
                    }
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
