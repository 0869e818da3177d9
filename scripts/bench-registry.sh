#!/usr/bin/env bash
# Registry push benchmark: biar's push vs `skopeo copy`, each against a fresh loopback
# docker-registry, on an image shaped like the ankisyncd closure (BENCH_SCALE, default 0.25 of its
# 1.04 GiB). Prints a markdown table with the ratios. Needs docker-registry and skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --example bench_registry
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
./target/debug/examples/bench_registry
