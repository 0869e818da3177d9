//! Ctrl-C, SIGTERM and SIGHUP (the terminal closed) during a build. Tokio's handlers stay
//! installed for the rest of the process once set; after the build this task stops listening and
//! `run` handles its own (it removes its container first).

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

const NIX: u8 = 0;
const IMAGE: u8 = 1;
const OVER: u8 = 2;

/// How far the build is, as the signal task sees it.
#[derive(Debug, Clone, Default)]
pub struct Phase(Arc<AtomicU8>);

impl Phase {
    /// The Nix build is over; the image step runs.
    pub fn nix_done(&self) {
        self.0.store(IMAGE, Ordering::SeqCst);
    }

    /// The whole build is over, however it ended.
    pub fn over(&self) {
        self.0.store(OVER, Ordering::SeqCst);
    }
}

/// The signal that cancelled the build, if one did: the process then exits 128 + its number
/// (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), as shells report a command a signal ended.
pub fn cancelled_by() -> Option<i32> {
    match CANCELLED_BY.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

static CANCELLED_BY: AtomicI32 = AtomicI32::new(0);

/// During the Nix build, a signal cancels it (its container is killed and removed). During the
/// image step, a signal ends the process (the image step streams from the builder container,
/// which goes away with this process), except during a push, which the pipeline stops itself:
/// the manifest goes last, so nothing is half-tagged. After the build the task ends: `run`
/// listens for the signals it handles itself.
pub async fn handle(cancel: CancellationToken, phase: Phase, push: bool) {
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        let signal = tokio::select! {
            Some(()) = int.recv() => signal_hook::consts::SIGINT,
            Some(()) = term.recv() => signal_hook::consts::SIGTERM,
            Some(()) = hup.recv() => signal_hook::consts::SIGHUP,
            else => return,
        };
        match phase.0.load(Ordering::SeqCst) {
            NIX => {
                let _ =
                    CANCELLED_BY.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                cancel.cancel()
            }
            IMAGE if push => {
                let _ =
                    CANCELLED_BY.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                cancel.cancel()
            }
            IMAGE => {
                // The terminal may be gone (SIGHUP): the printer ignores a failed write.
                crate::cli::print::errln!("error: cancelled");
                std::process::exit(128 + signal);
            }
            _ => return,
        }
    }
}
