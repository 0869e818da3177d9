# Go with gopls, the standard tools and the delve debugger
{ pkgs }:
with pkgs; [
  go
  gopls
  gotools
  delve
]
