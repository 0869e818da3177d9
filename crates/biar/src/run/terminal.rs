//! The terminal side of an attached run: raw mode, the window size, and a stdin reader that can
//! be stopped (so that once the container exits, nothing here steals the next keystroke from the
//! TUI, which reads the keyboard again).

use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::RunError;

/// True when both stdin and stdout are terminals: then the run gets a TTY.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's size as (columns, rows), if stdout is one.
pub fn size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|(c, r)| *c > 0 && *r > 0)
}

/// Drops what was typed but not read yet (the terminal's input queue), so keys typed while the
/// terminal changes hands reach no one: the TUI calls it when it takes the keyboard back.
pub fn discard_typeahead() {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        // SAFETY: tcflush on our own stdin descriptor; an error changes nothing.
        unsafe {
            libc::tcflush(stdin.as_raw_fd(), libc::TCIFLUSH);
        }
    }
}

/// Raw mode for the time of a run; restores the mode found at the start when dropped (the TUI
/// may already be in raw mode, a shell is not).
pub struct RawMode {
    was_raw: bool,
}

impl RawMode {
    pub fn enable() -> Result<RawMode, RunError> {
        let was_raw = crossterm::terminal::is_raw_mode_enabled().unwrap_or(false);
        if !was_raw {
            crossterm::terminal::enable_raw_mode().map_err(|e| RunError::Terminal {
                what: "put in raw mode".into(),
                reason: e.to_string(),
            })?;
        }
        Ok(RawMode { was_raw })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if !self.was_raw {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Reads the process's stdin on a thread of its own, in chunks, until EOF or [`StdinPump::stop`].
/// `None` on the channel means EOF.
pub struct StdinPump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StdinPump {
    pub fn start(tx: mpsc::Sender<Option<Bytes>>) -> StdinPump {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("biar-stdin".into())
            .spawn(move || pump(flag, tx))
            .expect("spawn stdin thread");
        StdinPump {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops reading; returns once the thread is gone (within one poll interval), so no byte is
    /// read after this.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for StdinPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(stop: Arc<AtomicBool>, tx: mpsc::Sender<Option<Bytes>>) {
    let stdin = std::io::stdin();
    let fd = stdin.as_raw_fd();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        // Poll with a timeout instead of a blocking read: a blocked read could not be cancelled
        // and would swallow the first key typed after the run.
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 50) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if ready == 0 || stop.load(Ordering::SeqCst) {
            continue;
        }
        // SAFETY: reading into our own buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if matches!(
                err.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) {
                continue;
            }
            let _ = tx.blocking_send(None);
            break;
        }
        if n == 0 {
            let _ = tx.blocking_send(None);
            break;
        }
        if tx
            .blocking_send(Some(Bytes::copy_from_slice(&buf[..n as usize])))
            .is_err()
        {
            break;
        }
    }
}
