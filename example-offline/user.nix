# Your own packages (`biar-tui add ATTR` adds here).
{ pkgs }:
with pkgs; [
  hello
]
