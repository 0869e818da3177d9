#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine: installs what the tests need, prepares the
# offline builder and a loopback registry, then runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in skopeo fzf busybox-static tmux docker-registry golang-docker-credential-helpers pass gnupg \
  nginx-light openssh-server stunnel4 openssl podman; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The offline builder downloads nix-bin and its dependencies with apt: it needs apt's lists.
if ! apt-cache show nix-bin >/dev/null 2>&1; then
  apt-get update -qq
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo build --workspace --all-targets

# The offline builder (image from this host's Debian packages + the store volume) for the
# end-to-end tests; idempotent, fast when it exists. Under CI=true no engine is a failure.
if ! cargo run -q --bin biar-tui -- builder create --offline; then
  if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
    echo "test.sh: CI=true and the builder could not be made (is the Docker Engine running?)" >&2
    exit 1
  fi
  echo "test.sh: no builder (Docker unreachable?); tests needing it will skip" >&2
fi

cargo nextest run --workspace --no-fail-fast "$@"
