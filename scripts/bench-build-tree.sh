#!/usr/bin/env bash
# The build tree (issue 16): folding a 334-derivation build's events (100k log lines) into the
# tree, against the parser alone and the counts' fold as baselines in the same process; then one
# frame's rows and ETA. Release build; no Docker needed. Usage: scripts/bench-build-tree.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q --release -p biar --example bench_build_tree
