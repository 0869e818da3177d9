# Packages for this working folder only; built with the userConfig files.
{ pkgs }:
with pkgs; [
  hello
]
