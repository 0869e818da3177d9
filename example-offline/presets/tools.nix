# Everyday tools: git, ripgrep, jq
{ pkgs }:
with pkgs; [
  git
  ripgrep
  jq
]
