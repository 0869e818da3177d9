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

/// The most text one OSC 52 copy carries (its end is kept): terminals refuse or cut longer
/// sequences (xterm's default limit is about 100 KB of base64).
pub const OSC52_MAX: usize = 64 << 10;

/// Puts `text` on the terminal's clipboard (the local machine's, even over ssh) with an OSC 52
/// sequence. `text` must be sanitized already (the caller's: a build tree log is); base64 carries
/// it, so nothing in it can end the sequence.
pub fn copy_osc52(text: &str) -> std::io::Result<()> {
    use base64::Engine as _;
    use std::io::Write;
    let mut start = text.len().saturating_sub(OSC52_MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text[start..]);
    let mut out = stdout();
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
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
