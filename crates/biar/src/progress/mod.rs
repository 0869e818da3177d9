//! The one progress vocabulary: what the pipeline reports while it runs, as typed [`Stage`]s and
//! [`BuildEvent`]s (from Nix's `internal-json` log, then from the image, load and push steps);
//! one route for them ([`channel`]: never blocks the pipeline, never drops an event, coalesces
//! counts for a slow reader); and one fold ([`Tally`]) the CLI and the TUI render, and the tree of derivations with
//! their times ([`BuildTree`]). Log text is
//! not ours: it reaches a terminal only through [`neutralise_log`].

mod event;
mod log_text;
mod sink;
mod tally;
mod tree;

pub use event::{describe_collision, BuildEvent, Provider, Stage};
pub use log_text::{neutralise_log, neutralise_text, plain_text};
pub use sink::{channel, Receiver, Sender};
pub use tally::{Building, Tally};
pub use tree::{
    bytes, duration, BuildTree, Eta, LogRing, Node, NodeState, Row, LOG_RING_BYTES, LOG_RING_LINES,
};
