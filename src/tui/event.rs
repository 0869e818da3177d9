//! The input task: the only reader of the keyboard. It owns crossterm's `EventStream` and can drop
//! it and make a new one, because while a container is attached nothing else may read stdin.

use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

enum Control {
    /// Drop the stream; answer once crossterm's reader thread has let go of the terminal.
    Pause(oneshot::Sender<()>),
    Resume,
}

pub struct Input {
    control: mpsc::UnboundedSender<Control>,
}

impl Input {
    /// Starts reading; terminal events arrive on `events`.
    pub fn spawn(events: mpsc::UnboundedSender<Event>) -> Input {
        let (control, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, events));
        Input { control }
    }

    /// Stops reading the keyboard; returns when nothing of ours reads stdin any more.
    pub async fn pause(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Pause(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    pub fn resume(&self) {
        let _ = self.control.send(Control::Resume);
    }
}

async fn run(mut control: mpsc::UnboundedReceiver<Control>, events: mpsc::UnboundedSender<Event>) {
    let mut stream = Some(EventStream::new());
    loop {
        tokio::select! {
            c = control.recv() => match c {
                Some(Control::Pause(done)) => {
                    // Dropping the stream wakes crossterm's poll thread and tells it to stop.
                    stream = None;
                    // Taking crossterm's reader lock (a zero-timeout poll) waits until that
                    // thread has left its poll of the terminal. What crossterm read and did not
                    // hand out yet (keys typed right after the one that started the hand-over)
                    // is dropped: it is not the TUI's to replay when the terminal comes back.
                    discard_read_ahead().await;
                    let _ = done.send(());
                }
                Some(Control::Resume) => {
                    if stream.is_none() {
                        stream = Some(EventStream::new());
                    }
                }
                None => return,
            },
            ev = next(&mut stream) => match ev {
                Some(Ok(ev)) => {
                    if events.send(ev).is_err() {
                        return;
                    }
                }
                // A read error (terminal gone) or the end: stop; the app quits on its own.
                Some(Err(_)) | None => {
                    stream = None;
                }
            },
        }
    }
}

/// Drops the events crossterm has read and not handed out yet. Waits for crossterm's reader lock,
/// so it also waits until a dropped stream's poll thread has let go of the terminal.
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

async fn next(stream: &mut Option<EventStream>) -> Option<std::io::Result<Event>> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}
