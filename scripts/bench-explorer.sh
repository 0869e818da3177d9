#!/usr/bin/env bash
# The closure explorer's model (issue 16) on the real 334-path, 1.04 GiB graph: open (parse,
# layer plan, closure and added sizes) against a 100 ms budget, and each sort key, with the JSON
# parse and a naive per-path closure walk as baselines in the same process. Release build; no
# Docker needed. Usage: scripts/bench-explorer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q --release -p biar --example bench_explorer
