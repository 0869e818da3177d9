# Rust: rustc and cargo
{ pkgs }:
with pkgs; [
  rustc
  cargo
]
