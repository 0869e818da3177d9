# Rust: rustc, cargo, rustfmt, clippy, rust-analyzer and pkg-config for native crates
{ pkgs }:
with pkgs; [
  rustc
  cargo
  rustfmt
  clippy
  rust-analyzer
  pkg-config
  gcc
]
