//! The keyboard reader: the only reader of the terminal while the TUI runs. A thread of ours asks
//! crossterm for events with a short timeout, so that pausing it (while a container is attached
//! nothing else may read stdin) is "stop, then join": once [`Input::pause`] returns, no thread of
//! ours is inside crossterm's read of the terminal.
//!
//! Not crossterm's `EventStream`: its thread blocks in an untimed poll that only a wake-up ends,
//! and crossterm's own zero-timeout `poll` consumes that wake-up when it runs in between. The
//! thread then stayed in its poll during the run, taking the shell's cursor-position reply and the
//! first keys typed at the shell's prompt away from the container (seen with strace).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::Event;
use tokio::sync::mpsc;

/// How long one wait for input lasts: a pause takes at most this long, and an idle UI wakes this
/// often. A key is handed on as soon as it arrives, whatever this is.
const POLL: Duration = Duration::from_millis(50);

pub struct Input {
    events: mpsc::UnboundedSender<Event>,
    reader: Option<Reader>,
}

struct Reader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Input {
    /// Starts reading; terminal events arrive on `events`.
    pub fn spawn(events: mpsc::UnboundedSender<Event>) -> Input {
        let mut input = Input {
            events,
            reader: None,
        };
        input.resume();
        input
    }

    /// Stops reading the keyboard; returns when nothing of ours reads stdin any more. What
    /// crossterm read and did not hand out yet (keys typed right after the one that started the
    /// hand-over) is dropped: it is not the TUI's to replay when the terminal comes back.
    pub async fn pause(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.stop.store(true, Ordering::SeqCst);
            let _ = tokio::task::spawn_blocking(move || reader.thread.join()).await;
        }
        discard_read_ahead().await;
    }

    pub fn resume(&mut self) {
        if self.reader.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let events = self.events.clone();
        let spawned = std::thread::Builder::new()
            .name("biar-keyboard".into())
            .spawn(move || read_events(&flag, &events));
        // Without a thread the UI reads no keys; a signal still ends it.
        if let Ok(thread) = spawned {
            self.reader = Some(Reader { stop, thread });
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            reader.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Hands terminal events on until told to stop, the UI is gone, or the terminal fails (gone:
/// the app quits on its own).
fn read_events(stop: &AtomicBool, events: &mpsc::UnboundedSender<Event>) {
    while !stop.load(Ordering::SeqCst) {
        match crossterm::event::poll(POLL) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        // Asked to stop meanwhile: what was read stays in crossterm for the pause to drop.
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match crossterm::event::read() {
            Ok(event) => {
                if events.send(event).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Drops the events crossterm has read and not handed out yet, and what the terminal has queued.
/// Only while the reader is paused: then no one else holds crossterm's reader.
pub async fn discard_read_ahead() {
    let _ = tokio::task::spawn_blocking(|| {
        while let Ok(true) = crossterm::event::poll(Duration::ZERO) {
            if crossterm::event::read().is_err() {
                break;
            }
        }
    })
    .await;
}
