//! Entering and leaving the terminal UI, and making sure we always leave: on quit, error, panic
//! (a panic hook) and signals (handled by the loop, which then returns normally).

use std::io::{stdout, Stdout};

use crossterm::{cursor, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode, alternate screen, hidden cursor.
pub fn enter() -> std::io::Result<Term> {
    terminal::enable_raw_mode()?;
    execute!(stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    Terminal::new(CrosstermBackend::new(stdout()))
}

/// Undoes [`enter`]; safe to call twice and from a panic hook.
pub fn leave() {
    let _ = execute!(
        stdout(),
        crossterm::style::ResetColor,
        terminal::EndSynchronizedUpdate,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

/// Leaves the terminal whatever happens after this point.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        leave();
    }
}

/// Restores the terminal before the default hook prints the panic, so the message is readable.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous(info);
    }));
}
