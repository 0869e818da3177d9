#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine: installs what the tests need, prepares the
# offline builder and a loopback registry, then runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in skopeo fzf busybox-static tmux docker-registry; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo build --workspace --all-targets

cargo nextest run --workspace --no-fail-fast "$@"
