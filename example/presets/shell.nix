# Shell basics: git, an editor, search and file tools, curl, jq, tmux
{ pkgs }:
with pkgs; [
  git
  curl
  wget
  less
  vim
  nano
  ripgrep
  fd
  jq
  tree
  htop
  file
  unzip
  zip
  tmux
  openssh
]
