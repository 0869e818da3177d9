#!/usr/bin/env bash
# Benchmarks of the builder (issue 3), printed as figures and ratios against a baseline:
#  1. `builder create --offline` on a fresh engine state: a unique image name and store volume
#     (never the shared ones), removed before every run; with a cold and a warm .deb cache.
#  2. the overhead of a no-op build (everything already in the store), command start to exit,
#     against the same no-op `nix-build` run by hand with the docker CLI.
# Needs: a Docker Engine, hyperfine, the shared offline builder (scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --bin biar-tui
BIN=$PWD/target/debug/biar-tui
RUNS=${RUNS:-5}

work=$(mktemp -d)
image="biar-bench-builder-$$"
volume="biar-bench-store-$$"
cleanup() {
  docker rmi -f "$image:latest" >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  [ -f "$work/images" ] && xargs -r docker rmi -f <"$work/images" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/fresh"
cat >"$work/fresh/config.json" <<JSON
{ "baseConfig": "base.nix", "userConfig": [],
  "builder": { "image": "$image:latest", "storeVolume": "$volume", "substituters": [] } }
JSON
reset_engine="docker rmi -f $image:latest >/dev/null 2>&1; docker volume rm -f $volume >/dev/null 2>&1; true"

echo "== builder create --offline, fresh engine state =="
hyperfine --runs 2 --export-json "$work/cold.json" \
  --prepare "$reset_engine; rm -rf $work/cache" \
  -n "cold .deb cache" "XDG_CACHE_HOME=$work/cache $BIN -p $work/fresh builder create --offline"
XDG_CACHE_HOME=$work/cache "$BIN" -p "$work/fresh" builder create --offline >/dev/null 2>&1
hyperfine --runs "$RUNS" --export-json "$work/warm.json" \
  --prepare "$reset_engine" \
  -n "warm .deb cache" "XDG_CACHE_HOME=$work/cache $BIN -p $work/fresh builder create --offline"
hyperfine --runs "$RUNS" --export-json "$work/again.json" \
  -n "again (both exist)" "XDG_CACHE_HOME=$work/cache $BIN -p $work/fresh builder create --offline"

echo "== no-op build (everything in the store) =="
cp -r example-offline "$work/project"
# The package set copied inside the project: a path pin outside it needs the user's trust.
cp -r tests/fixtures/pkgs "$work/project/pkgs"
sed -i "s#\.\./tests/fixtures/pkgs#pkgs#" "$work/project/config.json"
# `build` also makes and loads the image since the image work landed; remove it at the end.
"$BIN" -p "$work/project" build --json 2>/dev/null \
  | python3 -c 'import json,sys; [print(e["reference"]) for e in map(json.loads, sys.stdin) if "reference" in e]' \
  | sort -u >"$work/images" || true
hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/noop.json" \
  -n "biar-tui build (no-op)" "$BIN -p $work/project build" \
  -n "baseline: docker run + nix-build (no-op)" \
  "docker run --rm -v biar-nix-store:/nix -v $PWD/tests/fixtures/pkgs:/pkgs:ro biar-builder:latest nix-build /pkgs -A hello --no-out-link --option substituters ''"

mean() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['mean'])" "$@"; }
cold=$(mean "$work/cold.json" 0); warm=$(mean "$work/warm.json" 0); again=$(mean "$work/again.json" 0)
noop=$(mean "$work/noop.json" 0); base=$(mean "$work/noop.json" 1)
python3 - "$cold" "$warm" "$again" "$noop" "$base" <<'PY'
import sys
cold, warm, again, noop, base = map(float, sys.argv[1:])
print(f"builder create --offline: cold cache {cold:.2f} s, warm cache {warm:.2f} s "
      f"(cold/warm {cold/warm:.2f}x), already there {again:.2f} s")
print(f"no-op build: {noop:.2f} s vs baseline {base:.2f} s (ratio {noop/base:.2f}x, overhead {noop-base:+.2f} s)")
PY
