# The base of every environment: a shell, core utilities and certificates.
{ pkgs }:
with pkgs; [
  bashInteractive
  coreutils
  cacert
]
