//! The closure explorer (`e`): every package (or every path, or the layers) with its own,
//! closure and added size, sortable (`s`); the selected path's reference chain from the
//! environment (why it is there); `d` removes the selected configured package from its Nix file
//! (the same edit as `remove`), after which the explorer rebuilds and shows the new total next
//! to the old. The model (`biar::inspect::ClosureModel`) is computed by the backend; drawing
//! only reads it.

use std::sync::Arc;

use biar::inspect::{diff::parse_name, human_bytes, ClosureModel, PathRow, SortKey};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{move_selection, pane, scroll_offset, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::FileView;

/// What the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Packages,
    Paths,
    Layers,
}

impl Tab {
    fn next(self) -> Tab {
        match self {
            Tab::Packages => Tab::Paths,
            Tab::Paths => Tab::Layers,
            Tab::Layers => Tab::Packages,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Tab::Packages => "packages",
            Tab::Paths => "all paths",
            Tab::Layers => "layers",
        }
    }
}

/// The model as an action carries it: shared, compared by identity.
#[derive(Debug, Clone)]
pub struct ClosureView(pub Arc<ClosureModel>);

impl PartialEq for ClosureView {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Default)]
pub struct Explorer {
    pub visible: bool,
    /// The backend is building the closure.
    pub loading: bool,
    pub error: Option<String>,
    pub model: Option<Arc<ClosureModel>>,
    /// The closure size before the last removal, to show beside the new one.
    pub previous_total: Option<u64>,
    pub tab: Tab,
    pub sort: SortKey,
    /// The rows of the current tab in the current order (sorted once per change, not per frame).
    pub rows: Vec<PathRow>,
    pub selected: usize,
    /// The project's files, to find which file and attribute a package comes from.
    pub files: Vec<FileView>,
}

impl Explorer {
    fn resort(&mut self) {
        let Some(m) = &self.model else {
            self.rows.clear();
            return;
        };
        self.rows = match self.tab {
            Tab::Packages => m.package_rows(self.sort),
            Tab::Paths => m.path_rows(self.sort),
            Tab::Layers => Vec::new(),
        };
        let len = self.len();
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    fn len(&self) -> usize {
        match (self.tab, &self.model) {
            (Tab::Layers, Some(m)) => m.layers.len(),
            _ => self.rows.len(),
        }
    }

    /// The selected row (packages and paths tabs).
    pub fn selected_row(&self) -> Option<&PathRow> {
        (self.tab != Tab::Layers)
            .then(|| self.rows.get(self.selected))
            .flatten()
    }

    /// The configuration file and attribute of a package row: an attribute whose last part is
    /// the package's name without version (`python3Packages.numpy` for `python3.12-numpy`).
    pub fn source_of(&self, row: &PathRow) -> Option<(String, String)> {
        let (pname, _) = parse_name(&row.name);
        for f in &self.files {
            for attr in &f.packages {
                let last = attr.rsplit('.').next().unwrap_or(attr);
                if pname == last || pname.ends_with(&format!("-{last}")) {
                    return Some((f.name.clone(), attr.clone()));
                }
            }
        }
        None
    }
}

impl Component for Explorer {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        if let Some(selected) = move_selection(self.selected, self.len(), command, 10) {
            self.selected = selected;
            return Some(Action::Render);
        }
        match command {
            Command::Back | Command::Explore => Some(Action::HideExplorer),
            Command::Sort => Some(Action::ExplorerSort(self.sort.next())),
            Command::FocusNext => {
                self.tab = self.tab.next();
                self.selected = 0;
                self.resort();
                Some(Action::Render)
            }
            Command::Remove => {
                let row = self.selected_row()?.clone();
                if !row.package {
                    return Some(Action::Notice(format!(
                        "{} is not a configured package: see why it is there below",
                        row.name
                    )));
                }
                match self.source_of(&row) {
                    Some((file, attr)) => Some(Action::RemovePackage { file, attr }),
                    None => Some(Action::Notice(format!(
                        "{} comes from the base configuration or a preset: not removable here",
                        row.name
                    ))),
                }
            }
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::ShowExplorer => {
                self.visible = true;
                self.loading = true;
                self.error = None;
            }
            Action::HideExplorer => self.visible = false,
            Action::ClosureLoaded(result) => {
                self.loading = false;
                match result {
                    Ok(view) => {
                        self.model = Some(view.0.clone());
                        self.error = None;
                        self.resort();
                    }
                    Err(e) => self.error = Some(e.clone()),
                }
            }
            Action::ExplorerSort(key) => {
                self.sort = *key;
                self.resort();
            }
            Action::ProjectLoaded(project) => self.files = project.files.clone(),
            Action::Edited { project, .. } => {
                self.files = project.files.clone();
                if self.visible {
                    // The next build shows the new size beside this one.
                    self.previous_total = self.model.as_ref().map(|m| m.total_size());
                    self.loading = true;
                    return Some(Action::ShowExplorer);
                }
            }
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let title = match &self.model {
            Some(m) => {
                let was = match self.previous_total {
                    Some(p) if p != m.total_size() => format!(" (was {})", human_bytes(p)),
                    _ => String::new(),
                };
                format!(
                    "closure: {} paths, {}{was} · {} by {}",
                    m.rows.len(),
                    human_bytes(m.total_size()),
                    self.tab.label(),
                    self.sort.label()
                )
            }
            None => "closure".to_string(),
        };
        let block = pane(&title, ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [list, why, hint] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(if inner.height > 14 { 6 } else { 3 }),
            Constraint::Length(1),
        ])
        .areas(inner);
        let dim = ctx.theme.dim();
        if self.loading && self.model.is_none() {
            frame.render_widget(
                Paragraph::new("building the closure (nothing is loaded or pushed)…").style(dim),
                list,
            );
        } else if let Some(e) = &self.error {
            frame.render_widget(
                Paragraph::new(format!("the closure did not load: {e}")).wrap(Wrap { trim: false }),
                list,
            );
        } else if let Some(m) = &self.model {
            self.draw_list(frame, list, ctx, m);
            self.draw_why(frame, why, ctx, m);
        }
        let status = if self.loading && self.model.is_some() {
            "rebuilding… "
        } else {
            ""
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(status, ctx.theme.matched()),
                Span::styled(
                    "s sort · tab packages/paths/layers · d remove package · esc back",
                    dim,
                ),
            ])),
            hint,
        );
    }
}

impl Explorer {
    fn draw_list(&self, frame: &mut Frame, area: Rect, ctx: &Ctx, m: &ClosureModel) {
        let height = area.height as usize;
        let offset = scroll_offset(self.selected, self.len(), height.saturating_sub(1));
        let narrow = area.width < 70;
        let mut lines = Vec::with_capacity(height);
        if self.tab == Tab::Layers {
            lines.push(Line::styled(
                format!(
                    "{:>5}  {:>10}  {:>5}  largest path",
                    "layer", "size", "paths"
                ),
                ctx.theme.dim(),
            ));
            for (i, l) in m.layers.iter().enumerate().skip(offset).take(height - 1) {
                let text = format!(
                    "{:>5}  {:>10}  {:>5}  {}",
                    l.index,
                    human_bytes(l.size.unwrap_or(l.nar_size)),
                    l.paths,
                    l.largest
                );
                lines.push(self.styled(text, i, ctx));
            }
        } else {
            let header = if narrow {
                format!("{:>10}  {:>10}  name", "added", "closure")
            } else {
                format!(
                    "{:>10}  {:>10}  {:>10}  {:>5}  name",
                    "added", "closure", "own", "layer"
                )
            };
            lines.push(Line::styled(header, ctx.theme.dim()));
            for (i, r) in self.rows.iter().enumerate().skip(offset).take(height - 1) {
                let mark = if r.package && self.tab == Tab::Paths {
                    "*"
                } else {
                    ""
                };
                let text = if narrow {
                    format!(
                        "{:>10}  {:>10}  {}{mark}",
                        human_bytes(r.added_size),
                        human_bytes(r.closure_size),
                        r.name
                    )
                } else {
                    format!(
                        "{:>10}  {:>10}  {:>10}  {:>5}  {}{mark}",
                        human_bytes(r.added_size),
                        human_bytes(r.closure_size),
                        human_bytes(r.nar_size),
                        r.layer.map_or("-".into(), |l| l.to_string()),
                        r.name
                    )
                };
                lines.push(self.styled(text, i, ctx));
            }
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn styled(&self, text: String, index: usize, ctx: &Ctx) -> Line<'static> {
        if index == self.selected {
            Line::styled(text, ctx.theme.selected())
        } else {
            Line::raw(text)
        }
    }

    fn draw_why(&self, frame: &mut Frame, area: Rect, ctx: &Ctx, m: &ClosureModel) {
        let Some(row) = self.selected_row() else {
            return;
        };
        let chain = m.why(&row.path).unwrap_or_default();
        let names: Vec<&str> = chain.iter().map(|r| r.name.as_str()).collect();
        let text = format!("why {}: {}", row.name, names.join(" → "));
        frame.render_widget(
            Paragraph::new(text)
                .style(ctx.theme.dim())
                .wrap(Wrap { trim: true }),
            area,
        );
    }
}
