//! The one route progress takes from the pipeline to a front end: a queue that never blocks the
//! sender and never drops an event. A slow reader gets progress counts coalesced (only the newest
//! `Progress` of a run waiting in the queue is kept), everything else in order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Notify};

use super::BuildEvent;

/// A new sink: any number of [`Sender`]s (cloned), one [`Receiver`]. The receiver sees the end
/// once every sender is dropped.
pub fn channel() -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiving: true,
        }),
        notify: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

struct State {
    queue: VecDeque<Item>,
    senders: usize,
    /// The receiver is alive: with it gone, events are not kept.
    receiving: bool,
}

enum Item {
    Event(BuildEvent),
    /// Resolved when the receiver reaches it: everything sent before has been taken.
    Flush(oneshot::Sender<()>),
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this short lock leaves a consistent queue: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the pipeline reports progress.
pub struct Sender(Arc<Shared>);

impl Sender {
    /// Queues `event` (never blocks, never fails; nothing happens once the receiver is gone).
    pub fn send(&self, event: BuildEvent) {
        let mut state = self.0.state();
        if !state.receiving {
            return;
        }
        // Nix reports an empty count when it gives up: that one never replaces a real count.
        let coalesce = matches!(
            (state.queue.back(), &event),
            (
                Some(Item::Event(BuildEvent::Progress { expected: 0, .. })),
                BuildEvent::Progress { .. }
            ) | (
                Some(Item::Event(BuildEvent::Progress { .. })),
                BuildEvent::Progress { expected: 1.., .. }
            )
        );
        if coalesce {
            state.queue.pop_back();
        }
        state.queue.push_back(Item::Event(event));
        drop(state);
        self.0.notify.notify_one();
    }

    /// Resolves once the receiver has taken every event sent before this call (or is gone): a
    /// result shown after it comes after the progress that led to it.
    pub async fn flushed(&self) {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.0.state();
            if !state.receiving {
                return;
            }
            state.queue.push_back(Item::Flush(tx));
        }
        self.0.notify.notify_one();
        let _ = rx.await;
    }
}

impl Clone for Sender {
    fn clone(&self) -> Sender {
        self.0.state().senders += 1;
        Sender(self.0.clone())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.state().senders -= 1;
        self.0.notify.notify_one();
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("progress::Sender")
    }
}

/// What a front end reads progress from.
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// The next event, or `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<BuildEvent> {
        loop {
            match self.take(1).pop() {
                Some(event) => return Some(event),
                None if self.0.state().senders == 0 => return None,
                None => self.0.notify.notified().await,
            }
        }
    }

    /// Waits for at least one event, then moves up to `limit` into `buf`; 0 means the end.
    pub async fn recv_many(&mut self, buf: &mut Vec<BuildEvent>, limit: usize) -> usize {
        loop {
            let events = self.take(limit);
            if !events.is_empty() {
                let n = events.len();
                buf.extend(events);
                return n;
            }
            if self.0.state().senders == 0 {
                return 0;
            }
            self.0.notify.notified().await;
        }
    }

    /// Every event queued now, without waiting.
    pub fn try_recv_all(&mut self) -> Vec<BuildEvent> {
        self.take(usize::MAX)
    }

    fn take(&mut self, limit: usize) -> Vec<BuildEvent> {
        let mut state = self.0.state();
        let mut out = Vec::new();
        while out.len() < limit {
            match state.queue.pop_front() {
                Some(Item::Event(event)) => out.push(event),
                Some(Item::Flush(done)) => {
                    let _ = done.send(());
                }
                None => break,
            }
        }
        // A flush right behind the last event taken is reached on the next call, once the
        // reader has dealt with that event.
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.receiving = false;
        state.queue.clear();
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("progress::Receiver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done: u64) -> BuildEvent {
        BuildEvent::Progress {
            done,
            expected: 10,
            running: 0,
            failed: 0,
        }
    }

    #[tokio::test]
    async fn a_slow_reader_gets_every_event_with_progress_coalesced() {
        let (tx, mut rx) = channel();
        for i in 0..10_000 {
            tx.send(progress(i));
        }
        tx.send(BuildEvent::Log {
            drv: None,
            line: "a".into(),
        });
        tx.send(progress(10_000));
        drop(tx);
        let mut got = Vec::new();
        while let Some(e) = rx.recv().await {
            got.push(e);
        }
        assert_eq!(
            got,
            vec![
                progress(9_999),
                BuildEvent::Log {
                    drv: None,
                    line: "a".into()
                },
                progress(10_000)
            ]
        );
    }

    #[tokio::test]
    async fn flushed_waits_for_the_reader() {
        let (tx, mut rx) = channel();
        tx.send(progress(1));
        let reader = tokio::spawn(async move {
            tokio::task::yield_now().await;
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        tx.flushed().await;
        tx.send(progress(2));
        drop(tx);
        assert!(reader.await.unwrap() >= 1);
    }

    #[tokio::test]
    async fn a_gone_receiver_neither_blocks_nor_keeps() {
        let (tx, rx) = channel();
        drop(rx);
        tx.send(progress(1));
        tx.flushed().await;
    }
}
