# Python 3 with numpy and requests
{ pkgs }:
with pkgs; [
  python3
  python3Packages.numpy
  python3Packages.requests
]
