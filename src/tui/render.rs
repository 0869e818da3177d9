//! Drawing the whole screen: a pure function of the app's state (no I/O, no mutation).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;
use ratatui::Frame;

use super::action::Pane;
use super::app::App;
use super::components::{Component, Ctx};

/// Below this width the panes stack vertically.
const NARROW: u16 = 90;

pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let ctx = |focused| Ctx {
        theme: &app.theme,
        keymap: &app.keymap,
        focused,
    };
    frame.render_widget(Block::default().style(app.theme.base()), area);
    let banner_height = app.banner.height(area.width);
    let [main, banner, status] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(banner_height),
        Constraint::Length(1),
    ])
    .areas(area);

    if app.init.visible {
        app.init.draw(frame, main, &ctx(true));
    } else if app.build.visible {
        app.build.draw(frame, main, &ctx(true));
    } else if app.explorer.visible {
        app.explorer.draw(frame, main, &ctx(true));
    } else if app.generations.visible {
        app.generations.draw(frame, main, &ctx(true));
    } else {
        let (presets, search, config) = panes(main, app.presets.presets.len());
        app.presets
            .draw(frame, presets, &ctx(app.focus == Pane::Presets));
        app.search
            .draw(frame, search, &ctx(app.focus == Pane::Search));
        app.config
            .draw(frame, config, &ctx(app.focus == Pane::Config));
    }
    app.banner.draw(frame, banner, &ctx(false));
    app.status.draw(frame, status, &ctx(false));
    app.push_confirm.draw(frame, main, &ctx(true));
    app.doctor.draw(frame, main, &ctx(true));
    app.help.draw(frame, main, &ctx(true));
}

/// Wide: presets over configuration on the left, search on the right. Narrow: stacked.
fn panes(area: Rect, presets: usize) -> (Rect, Rect, Rect) {
    let presets_height = (presets as u16 + 2).clamp(3, 12);
    if area.width >= NARROW {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(area);
        let [top, bottom] = Layout::vertical([
            Constraint::Length(presets_height.min(left.height / 2)),
            Constraint::Min(0),
        ])
        .areas(left);
        (top, right, bottom)
    } else {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length(presets_height.min(area.height / 4)),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ])
        .areas(area);
        (top, middle, bottom)
    }
}
