# Ruby with Bundler
{ pkgs }:
with pkgs; [
  ruby
  bundler
]
