#!/usr/bin/env bash
# Regenerates docs/screenshot.png: the real TUI on a copy of example/ in tmux, a search typed,
# captured with its colours and rendered by tui-screenshot.py (Pillow from PyPI, DejaVu Sans Mono
# from Debian's fonts-dejavu-core).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import PIL' 2>/dev/null || pip install --quiet pillow
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || apt-get install -y fonts-dejavu-core
cargo build --bin biar-tui
WORK=$(mktemp -d)
SOCK="shot-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp -r example "$WORK/project"
tmux -L "$SOCK" new-session -d -s s -x 112 -y 30 \
  "env TERM=xterm-256color XDG_CACHE_HOME=$WORK/cache XDG_CONFIG_HOME=$WORK/config $PWD/target/debug/biar-tui --project $WORK/project"
until tmux -L "$SOCK" capture-pane -p -t s | grep -q "Search 1"; do sleep 0.1; done
tmux -L "$SOCK" send-keys -t s /
tmux -L "$SOCK" send-keys -t s -l ripgr
sleep 1
tmux -L "$SOCK" capture-pane -p -e -t s > "$WORK/capture.txt"
python3 scripts/tui-screenshot.py "$WORK/capture.txt" docs/screenshot.png 112 30
echo "wrote docs/screenshot.png"
