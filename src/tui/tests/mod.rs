//! Headless tests of the whole app: actions in, TestBackend frames out.

mod app;
mod snapshots;
