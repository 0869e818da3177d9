# Python 3.12 with pip, virtualenv, IPython and pytest; the ruff linter, pyright and uv
{ pkgs }:
with pkgs; [
  (python312.withPackages (ps: with ps; [
    pip
    virtualenv
    ipython
    pytest
  ]))
  ruff
  pyright
  uv
]
