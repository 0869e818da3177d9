# Node.js
{ pkgs }:
with pkgs; [
  nodejs
]
