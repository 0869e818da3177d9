#!/usr/bin/env bash
# Package search benchmark (issue 5), release build, on the 124,693 bundled nixpkgs names:
#  1. in-process (crates/biar/examples/bench_search.rs): per-keystroke latency of biar's engine vs
#     full scans with nucleo-matcher (1 and 2 threads) and fuzzy-matcher; index load from the
#     cache file; memory of the loaded index;
#  2. whole process: `biar-tui search Q` vs `fzf --filter Q` on the same names, side by side with
#     hyperfine, ratio per query and the median ratio (target <= 0.5);
#  3. a fresh `biar-tui search` process: wall time and peak RSS (cache warm in the page cache).
# With --instructions, only: instructions per keystroke of biar's engine counted by callgrind
# (the 82 keystrokes of the ten queries once; repeatable on a loaded machine, unlike wall time).
# Usage: scripts/bench-search.sh [--no-build] [--instructions]
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 instructions=0
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --instructions) instructions=1 ;;
    *) echo "usage: $0 [--no-build] [--instructions]" >&2; exit 2 ;;
  esac
done
if [ "$build" = 1 ]; then
  cargo build --release --bin biar-tui -p biar-tui -p biar --example bench_search
fi
bin=target/release/biar-tui
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"

if [ "$instructions" = 1 ]; then
  # One callgrind dump per call of bench_keystroke: one file, one count, per keystroke.
  valgrind --tool=callgrind --toggle-collect='bench_search::bench_keystroke' \
    --dump-after='bench_search::bench_keystroke' --callgrind-out-file="$tmp/cg.out" \
    target/release/examples/bench_search --keystrokes-only >/dev/null 2>"$tmp/valgrind.log"
  python3 - "$tmp" <<'EOF'
import glob, statistics, sys
files = sorted(glob.glob(f"{sys.argv[1]}/cg.out.*"), key=lambda f: int(f.rsplit(".", 1)[1]))
counts = [next(int(l.split()[1]) for l in open(f) if l.startswith(("summary:", "totals:"))) for f in files]
queries = ["python3", "numpy", "ripgrep", "nodejs_20", "rustc", "haskellPackages.lens", "firefox",
           "pyhton", "qzxwvjk", "hpkgslens"]
keys = [q[:e] for q in queries for e in range(1, len(q) + 1)]
assert len(counts) == len(keys), (len(counts), len(keys))
s = sorted(counts)
p = lambda x: s[round((len(s) - 1) * x)] / 1e6
print(f"instructions per keystroke ({len(s)} keystrokes, callgrind): mean {statistics.mean(s) / 1e6:.2f} M, "
      f"median {p(.5):.2f} M, p99 {p(.99):.2f} M, max {s[-1] / 1e6:.2f} M")
top = sorted(zip(counts, keys), reverse=True)[:10]
print("heaviest:", ", ".join(f"{k} {c / 1e6:.1f} M" for c, k in top))
EOF
  exit 0
fi

echo "== in-process: per keystroke, load, memory"
target/release/examples/bench_search --markdown

echo
echo "== whole process: biar-tui search Q vs fzf --filter Q (hyperfine, same names)"
"$bin" search warm-the-cache >/dev/null
# The names fzf reads: exactly the index biar-tui searches (all 124,693 attributes).
"$bin" search "" --limit 1000000 >"$tmp/names.txt"
wc -l <"$tmp/names.txt" | sed 's/^/names: /'
queries=(python3 numpy ripgrep nodejs_20 rustc haskellPackages.lens firefox pyhton qzxwvjk hpkgslens)
i=0
for q in "${queries[@]}"; do
  # Both through the shell (hyperfine subtracts its start-up time); fzf reads the names file and
  # exits 1 when nothing matches (-i).
  hyperfine -i --style none --warmup 3 --runs 30 --export-json "$tmp/h$i.json" \
    -n biar "$bin search $q" -n fzf "fzf --filter $q < $tmp/names.txt" >/dev/null
  i=$((i + 1))
done
python3 - "$tmp" "${queries[@]}" <<'EOF'
import json, statistics, sys
tmp, queries = sys.argv[1], sys.argv[2:]
ratios = []
print(f"{'query':<22} {'biar ms':>9} {'fzf ms':>9} {'ratio':>7}")
rows = []
for i, q in enumerate(queries):
    r = {x["command"]: x for x in json.load(open(f"{tmp}/h{i}.json"))["results"]}
    b, f = r["biar"]["median"] * 1e3, r["fzf"]["median"] * 1e3
    ratios.append(b / f)
    rows.append((q, b, f, b / f))
    print(f"{q:<22} {b:>9.2f} {f:>9.2f} {b / f:>6.2f}x")
med = statistics.median(ratios)
print(f"median ratio biar/fzf over {len(queries)} queries: {med:.2f}x (target <= 0.5x: {'met' if med <= 0.5 else 'NOT met'})")
print("\n| query | biar-tui search ms | fzf --filter ms | ratio |\n| --- | ---: | ---: | ---: |")
for q, b, f, x in rows:
    print(f"| `{q}` | {b:.2f} | {f:.2f} | {x:.2f}x |")
print(f"| **median ratio** | | | **{med:.2f}x** |")
EOF

echo
echo "== a fresh process: load from the cache file + one search, peak RSS"
python3 - "$bin" <<'EOF'
import resource, subprocess, sys, time, statistics
bin = sys.argv[1]
walls = []
for _ in range(20):
    t = time.perf_counter()
    subprocess.run([bin, "search", "qzxwvjk"], stdout=subprocess.DEVNULL, check=True)
    walls.append((time.perf_counter() - t) * 1e3)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"biar-tui search (start, load cache, search, exit): median {statistics.median(walls):.1f} ms, "
      f"max {max(walls):.1f} ms; peak RSS {rss:.1f} MB")
EOF
