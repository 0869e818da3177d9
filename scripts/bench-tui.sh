#!/usr/bin/env bash
# TUI benchmarks (issue 6), on the release binary in a real terminal (tmux):
#  1. first frame: time from the TUI's start to its first frame on screen (the app's own clock,
#     BIAR_TUI_FRAME_LOG), and from spawning the process to the frame being visible in tmux
#     (polled, an upper bound), with the bundled 124,693-name index loading in the background;
#  2. typing during a build: key press to the frame showing it, and draw time per frame, while a
#     build streams thousands of log lines (a derivation that prints 10,000 lines over ~10 s).
# Needs Docker and the offline builder (`biar-tui builder create --offline`) for part 2.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
cargo build --release --bin biar-tui >&2
BIN=$PWD/target/release/biar-tui
WORK=$(mktemp -d)
SOCK="bench-tui-$$"
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# A copy of example-offline pinned to the repository's test package set.
project() {
  local dir=$1 user_nix=$2
  cp -r example-offline "$dir"
  # Inside the project: a path pin outside it needs the user's trust.
  cp -r tests/fixtures/pkgs "$dir/pkgs"
  python3 - "$dir/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["nixpkgs"]["path"] = "pkgs"
json.dump(c, open(path, "w"), indent=2)
PY
  printf '%s' "$user_nix" > "$dir/user.nix"
}

wait_for() { # wait_for TEXT TIMEOUT_S
  local deadline=$((SECONDS + $2))
  until tmux -L "$SOCK" capture-pane -p -t b | grep -qF -- "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for '$1'" >&2; tmux -L "$SOCK" capture-pane -p -t b >&2; return 1; }
    sleep 0.005
  done
}

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

project "$WORK/p" $'{ pkgs }:\nwith pkgs; [\n  hello\n]\n'
export XDG_CACHE_HOME="$WORK/cache" XDG_CONFIG_HOME="$WORK/config"
# Warm the index cache once, as a user's second start would find it.
"$BIN" search --project "$WORK/p" hello >/dev/null 2>&1 || true

echo "## first frame ($RUNS runs, release build)"
first=(); visible=(); index=()
for i in $(seq "$RUNS"); do
  log="$WORK/frames-$i.json"
  start=$(date +%s%N)
  tmux -L "$SOCK" new-session -d -s b -x 120 -y 32 \
    "BIAR_TUI_FRAME_LOG=$log $BIN --project $WORK/p"
  wait_for "Presets" 10
  seen=$(date +%s%N)
  wait_for "Search 1" 10
  tmux -L "$SOCK" send-keys -t b q
  while [ ! -s "$log" ]; do sleep 0.01; done
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  first+=("$(json "$log" 'd["first_frame_ms"]')")
  index+=("$(json "$log" 'd["index_ready_ms"]')")
  visible+=("$(( (seen - start) / 1000 ))")
done
python3 - "${first[*]}" "${visible[*]}" "${index[*]}" <<'PY'
import statistics as s, sys
f = [float(x) for x in sys.argv[1].split()]
v = [int(x) / 1000 for x in sys.argv[2].split()]
i = [float(x) for x in sys.argv[3].split()]
print(f"first frame, TUI start to frame drawn:      median {s.median(f):6.1f} ms  max {max(f):6.1f} ms")
print(f"first frame, spawn to visible in tmux:      median {s.median(v):6.1f} ms  max {max(v):6.1f} ms  (polling every 5 ms)")
print(f"index ready (124,693 names, background):    median {s.median(i):6.1f} ms  max {max(i):6.1f} ms")
print(f"target 150 ms: ratio {s.median(v) / 150:.2f}x of the budget (spawn to visible)")
PY

echo
echo "## typing during a build"
salt="bench-$$-$(date +%s%N)"
noisy=$'{ pkgs }:\nwith pkgs; [\n  (mkDerivation {\n    name = "noisy-1.0";\n    salt = "'"$salt"$'";\n    script = \'\'\n      i=0\n      while [ $i -lt 200 ]; do\n        j=0\n        while [ $j -lt 50 ]; do\n          printf "\\033[32mbuilding\\033[0m step %d.%d of 200 \\033[2K\\n" $i $j\n          j=$((j + 1))\n        done\n        usleep 50000\n        i=$((i + 1))\n      done\n      mkdir -p $out\n      echo $salt > $out/salt\n    \'\';\n  })\n]\n'
rm -rf "$WORK/p"; project "$WORK/p" "$noisy"
log="$WORK/frames-build.json"
tmux -L "$SOCK" new-session -d -s b -x 120 -y 32 "BIAR_TUI_FRAME_LOG=$log $BIN --project $WORK/p"
wait_for "Search 1" 10
tmux -L "$SOCK" send-keys -t b b
wait_for "step" 120
tmux -L "$SOCK" send-keys -t b Escape
tmux -L "$SOCK" send-keys -t b /
# Type queries a key every 40 ms (a fast typist) while the log streams, for ~8 s.
for round in 1 2 3 4 5 6 7 8; do
  for q in python3 ripgrep nodejs_20 haskellPackages.lens; do
    for ((k = 0; k < ${#q}; k++)); do
      tmux -L "$SOCK" send-keys -t b -l "${q:k:1}"; sleep 0.04
    done
    tmux -L "$SOCK" send-keys -t b C-u
  done
  tmux -L "$SOCK" capture-pane -p -t b | grep -q "building [0-9]" || break
done
tmux -L "$SOCK" send-keys -t b Escape Escape
tmux -L "$SOCK" send-keys -t b q
while [ ! -s "$log" ]; do sleep 0.01; done
python3 - "$log" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
k, w = d["key_to_frame_during_build_ms"], d["draw_during_build_ms"]
print(f"keys typed during the build: {k['n']}, frames drawn during it: {w['n']}")
print(f"key press to frame, during the build:  p50 {k['p50']:.1f} ms  p99 {k['p99']:.1f} ms  max {k['max']:.1f} ms")
print(f"draw time per frame, during the build: p50 {w['p50']:.2f} ms  p99 {w['p99']:.2f} ms  max {w['max']:.2f} ms")
print(f"frame budget at 30 fps is 33 ms: slowest key-to-frame = {k['max'] / 33.3:.2f}x of one frame")
PY
docker images --format '{{.Repository}}:{{.Tag}}' | grep -F "$(cd "$WORK/p" && "$BIN" hash 2>/dev/null || echo none)" | xargs -r docker rmi -f >/dev/null 2>&1 || true
