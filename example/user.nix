# Your own packages. `biar-tui add NAME` and the TUI's search add them here, one per line;
# comments and layout are kept.
{ pkgs }:
with pkgs; [
  cowsay
  sqlite
]
