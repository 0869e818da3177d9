#!/usr/bin/env bash
# `biar-tui serve` benchmark: the time to the first pull of a new name against `biar-tui build` of
# the same packages (the server's overhead), the server time of a repeat manifest request of a
# cached name, and the server's peak memory while 10 concurrent clients (curl) read every blob of
# an image. The offline test package set by default; BENCH_NIXPKGS=PATH|URL#sha256=HASH (without
# --offline: BENCH_ONLINE=1) and BENCH_NAME=shell/… measure a real, large image (e.g. 1.1 GB).
# Needs the offline builder (`biar-tui builder create --offline`), docker and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin biar-tui
BIN=$PWD/target/debug/biar-tui
WORK=$(mktemp -d /tmp/biar-bench-serve.XXXXXX)
NIXPKGS=${BENCH_NIXPKGS:-$PWD/tests/fixtures/pkgs}
SALT=$(date +%s%N)
# A package no store has yet: the first pull really builds (the test set's sleeper with a salt is
# not an attribute path, so a fresh layer-cache and storage stand for "new").
NAME=${BENCH_NAME:-shell/hello/jq/git/ripgrep}
OFFLINE=--offline
[ "${BENCH_ONLINE:-}" = 1 ] && OFFLINE=
mkdir -p "$WORK/config/biar" "$WORK/cache"
echo "trusted-paths = [\"$NIXPKGS\"]" > "$WORK/config/biar/config.toml"
export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^127.0.0.1:$PORT/" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
PORT=0
trap cleanup EXIT
"$BIN" serve --listen 127.0.0.1:0 --nixpkgs "$NIXPKGS" $OFFLINE --storage "$WORK/storage" > "$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q 'http://' "$WORK/serve.log" && break; sleep 0.1; done
HOST=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1)
PORT=${HOST#*:}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; name $NAME"

# 1. First pull of a new name (build + layers written + pull) vs `biar-tui build` (build + load).
# The base alone first, untimed: the package set's one-off listing (per tag) is not counted.
docker pull -q "$HOST/shell" >/dev/null
docker rmi -f "$HOST/shell" >/dev/null
start=$(date +%s.%N)
docker pull -q "$HOST/$NAME" >/dev/null
first=$(echo "$(date +%s.%N) - $start" | bc)
mkdir -p "$WORK/project"
"$BIN" init "$WORK/project/p" --nixpkgs "$NIXPKGS" $OFFLINE >/dev/null
for p in $(echo "$NAME" | tr '/' ' '); do
  [ "$p" = shell ] || "$BIN" --project "$WORK/project/p" add --force "$p" >/dev/null
done
# The build's own layer cache is warm from the server's build: clear it for a fair first build;
# the image must not be in Docker already (then `build` does nothing).
rm -rf "$WORK/cache/biar/layers"
ref=$("$BIN" --project "$WORK/project/p" hash | awk '$1 == "reference" {print $2}')
docker rmi -f "$ref" >/dev/null 2>&1 || true
start=$(date +%s.%N)
"$BIN" --project "$WORK/project/p" build >/dev/null 2>&1
build=$(echo "$(date +%s.%N) - $start" | bc)
docker rmi -f "$ref" >/dev/null 2>&1 || true

# 2. Repeat manifest request of the cached name: the server's time (curl's time to the last byte).
best=999
for _ in $(seq 20); do
  t=$(curl -s -o /dev/null -w '%{time_total}' "http://$HOST/v2/$NAME/manifests/latest")
  best=$(echo "if ($t < $best) $t else $best" | bc)
done
start=$(date +%s.%N)
docker rmi -f "$HOST/$NAME" >/dev/null
docker pull -q "$HOST/$NAME" >/dev/null
repeat=$(echo "$(date +%s.%N) - $start" | bc)

# 3. Peak memory with 10 concurrent clients reading every blob, in a fresh server over the same
# storage (so the build's own peak is not counted).
kill "$PID"; wait "$PID" 2>/dev/null || true
"$BIN" serve --listen "$HOST" --nixpkgs "$NIXPKGS" $OFFLINE --storage "$WORK/storage" > "$WORK/serve2.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q 'http://' "$WORK/serve2.log" && break; sleep 0.1; done
manifest=$(curl -s "http://$HOST/v2/$NAME/manifests/latest")
digests=$(echo "$manifest" | grep -o 'sha256:[0-9a-f]*')
bytes=$(echo "$manifest" | grep -o '"size":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
rss_before=$(grep VmRSS /proc/$PID/status | awk '{print $2}')
for c in $(seq 10); do
  ( for d in $digests; do curl -s -o /dev/null "http://$HOST/v2/$NAME/blobs/$d"; done ) &
done
for j in $(jobs -p); do [ "$j" = "$PID" ] || wait "$j"; done
hwm=$(grep VmHWM /proc/$PID/status | awk '{print $2}')

# 4. The same with one large blob (BENCH_BIG_MB, default 1100: the size of the 1.1 GB image),
# random bytes put into the storage under their digest: 10 clients read it whole at once.
BIG_MB=${BENCH_BIG_MB:-1100}
head -c "${BIG_MB}M" /dev/urandom > "$WORK/big"
big=sha256:$(sha256sum "$WORK/big" | cut -d' ' -f1)
mv "$WORK/big" "$WORK/storage/blobs/sha256/${big#sha256:}"
start=$(date +%s.%N)
for c in $(seq 10); do
  curl -s -o /dev/null "http://$HOST/v2/x/blobs/$big" &
done
for j in $(jobs -p); do [ "$j" = "$PID" ] || wait "$j"; done
big_took=$(echo "$(date +%s.%N) - $start" | bc)
big_hwm=$(grep VmHWM /proc/$PID/status | awk '{print $2}')

echo
echo "| measure | value |"
echo "| --- | --- |"
echo "| first pull of a new name (build, write, pull) | ${first} s |"
echo "| \`biar-tui build\` of the same packages (build, load) | ${build} s |"
echo "| repeat manifest request, best of 20 (curl time_total) | ${best} s |"
echo "| repeat \`docker pull\` of the cached name (after rmi) | ${repeat} s |"
echo "| image size (sum of blobs) | ${bytes} B |"
echo "| server RSS before / peak with 10 clients reading every blob | ${rss_before} KiB / ${hwm} KiB |"
echo "| 10 clients reading a ${BIG_MB} MiB blob at once: time / server peak RSS | ${big_took} s / ${big_hwm} KiB |"
