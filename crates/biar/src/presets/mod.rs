//! The presets shipped in `presets/*.nix`: discovery, one-line descriptions, and whether each is on.

mod error;

pub use error::PresetError;
