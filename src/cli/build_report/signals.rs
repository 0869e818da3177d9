//! Ctrl-C and SIGTERM during a build. Tokio's handlers stay installed for the rest of the process
//! once set, so this task also decides what a signal does after the build (`run` goes on to run
//! the command).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::cli::print::errln;
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

/// During the Nix build, a signal cancels it (its container is killed and removed). During the
/// image step, a signal ends the process (the image step streams from the builder container,
/// which goes away with this process), except during a push, which the pipeline stops itself:
/// the manifest goes last, so nothing is half-tagged. After the build, SIGTERM terminates the
/// process as it would without a handler, and Ctrl-C is left to whoever else listens (`run`'s
/// attached command outside a TTY).
pub async fn handle(cancel: CancellationToken, phase: Phase, push: bool) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        let terminate = tokio::select! {
            Some(()) = int.recv() => false,
            Some(()) = term.recv() => true,
            else => return,
        };
        match phase.0.load(Ordering::SeqCst) {
            NIX => cancel.cancel(),
            IMAGE if push => cancel.cancel(),
            IMAGE => {
                errln!("error: cancelled");
                std::process::exit(1);
            }
            _ if terminate => {
                let _ =
                    signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTERM);
            }
            _ => {}
        }
    }
}
