//! The first screen where no project is (no `config.json`): pick shipped presets, create the
//! project as `biar-tui init` would, then the main screen opens on it.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{move_selection, pane, truncate, Component, Ctx, Key};
use crate::tui::action::Action;
use crate::tui::keymap::Command;
use crate::tui::view::PresetView;

#[derive(Debug, Default)]
pub struct Init {
    pub visible: bool,
    /// The folder the project goes into.
    pub dir: String,
    /// The shipped presets; `enabled` means chosen.
    pub presets: Vec<PresetView>,
    pub selected: usize,
    /// Asked of the backend, not answered yet.
    pub creating: bool,
}

impl Init {
    pub fn chosen(&self) -> Vec<String> {
        self.presets
            .iter()
            .filter(|p| p.enabled)
            .map(|p| p.name.clone())
            .collect()
    }
}

impl Component for Init {
    fn handle_key(&mut self, key: &Key) -> Option<Action> {
        let command = key.command?;
        if self.creating {
            return None;
        }
        if let Some(s) = move_selection(self.selected, self.presets.len(), command, 5) {
            self.selected = s;
            return Some(Action::Render);
        }
        match command {
            Command::Toggle => {
                let p = self.presets.get_mut(self.selected)?;
                p.enabled = !p.enabled;
                Some(Action::Render)
            }
            Command::Select => Some(Action::CreateProject(self.chosen())),
            _ => None,
        }
    }

    fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::OfferInit { dir, presets } => {
                *self = Init {
                    visible: true,
                    dir: dir.clone(),
                    presets: presets.clone(),
                    ..Init::default()
                };
            }
            Action::CreateProject(_) => self.creating = true,
            Action::ProjectCreated(_) => self.visible = false,
            // The creation failed (the banner says why): the choice stays, to try again.
            Action::Error(_) => self.creating = false,
            _ => {}
        }
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let block = pane("New project", ctx);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let intro = vec![
            Line::from(vec![
                Span::raw("No project in "),
                Span::styled(self.dir.clone(), t.title(true)),
                Span::raw(" (no config.json). Create one here: config.json, base.nix, user.nix, workdir/ and the presets you pick."),
            ]),
            Line::from(Span::styled(
                "Packages come from the pinned nixpkgs of example/; change it later in config.json.",
                t.dim(),
            )),
        ];
        let width = inner.width.max(1) as usize;
        let intro_rows: usize = intro.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
        let [text, gap, list, keys] = Layout::vertical([
            Constraint::Length(intro_rows as u16),
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(inner);
        let _ = gap;
        frame.render_widget(Paragraph::new(intro).wrap(Wrap { trim: false }), text);

        let height = list.height as usize;
        let lines = super::presets::preset_lines(
            &self.presets,
            self.selected,
            Some(self.selected),
            height,
            width,
            t,
        );
        frame.render_widget(Paragraph::new(lines), list);

        let hint = if self.creating {
            "creating the project…".to_string()
        } else {
            let n = self.chosen().len();
            format!(
                "space pick ({n} picked) · enter create the project · {} quit",
                ctx.keymap
                    .keys_for(Command::Quit)
                    .first()
                    .map_or("q", String::as_str)
            )
        };
        frame.render_widget(
            Paragraph::new(Span::styled(truncate(&hint, width), t.dim())),
            keys,
        );
    }
}
