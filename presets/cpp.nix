# C and C++: gcc, make, CMake, Ninja, gdb, valgrind and clangd (clang-tools)
{ pkgs }:
with pkgs; [
  gcc
  gnumake
  cmake
  ninja
  pkg-config
  gdb
  valgrind
  clang-tools
]
