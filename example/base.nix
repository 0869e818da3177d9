# The base of every environment built from this project: a shell, the core utilities and
# CA certificates. Changing it changes the image name (and every tag starts afresh).
{ pkgs }:
with pkgs; [
  bashInteractive
  coreutils
  findutils
  diffutils
  gnugrep
  gnused
  gawk
  gnutar
  gzip
  less
  which
  procps
  cacert
]
