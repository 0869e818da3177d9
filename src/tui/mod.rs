//! The terminal UI (issue 6): presets, search, configuration, the build view, and `r` to run the
//! environment in this terminal. See ARCHITECTURE.md's "The TUI shape".

mod action;
mod ansi;
mod app;
mod backend;
mod components;
mod event;
mod frame_timing;
mod keymap;
mod present;
mod render;
mod settings;
mod terminal;
#[cfg(test)]
mod tests;
mod theme;
mod view;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::args::Global;
use crate::exit::BadInput;

pub async fn run(global: &Global) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(BadInput(
            "the terminal UI needs a terminal, and stdin or stdout is not one. Use the commands \
             instead: `biar-tui presets`, `toggle`, `add`, `remove`, `list`, `hash`, `search`, \
             `build`, `run` (see `biar-tui --help`)"
                .into(),
        )
        .into());
    }
    let settings =
        settings::Settings::load(global.theme.as_deref(), settings::config_dir().as_deref())
            .map_err(BadInput)?;
    let engine = Arc::new(present::Present {
        project_dir: global.project.clone(),
    });
    // No project here: offer to create one (as `biar-tui init`). A project that does not load
    // is bad input: say so before taking over the screen.
    let fresh = !global.project.join("config.json").exists();
    if !fresh {
        biar::config::Project::load(&global.project)?;
    }

    terminal::install_panic_hook();
    let _guard = terminal::Guard;
    let mut term = terminal::enter()?;
    let mut app = app::App::new(settings.theme, settings.keymap);
    if fresh {
        app.dispatch(action::Action::OfferInit {
            dir: global.project.display().to_string(),
            presets: present::shipped_presets(),
        });
    }
    app::run(app, engine, &mut term, started).await
}
