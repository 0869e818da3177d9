#!/usr/bin/env bash
# Binary cache benchmark (issue 13): the 1.04 GiB bench closure (tests/fixtures/pkgs/closure-gen.nix,
# 334 paths) built by the real `biar-tui build` (release) on machine A, a fresh store volume, from
# scratch, uploading its paths signed to a binary cache (Debian's nginx with WebDAV PUT on a free
# loopback port); then machine B, another fresh store volume, builds the same environment from
# that cache. Prints the time of the Nix step (to the `built` event) and of the whole build on
# each, their ratio, and the bytes B downloaded against the closure's size.
#
# Needs the offline builder image (`biar-tui builder create --offline`), nginx (nginx-light).
# Heavy: Nix writes 1 GiB into each of two stores and compresses it once. COMPRESSION=zstd
# uploads with `?compression=zstd` instead of Nix's default xz.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

# BIAR=path runs that binary instead (the Nix step's time does not depend on its build profile).
if [ -z "${BIAR:-}" ]; then
  cargo build --release --bin biar-tui -q
  BIAR=$REPO/target/release/biar-tui
fi
ID=$$-$(date +%s)
WORK=$(mktemp -d /tmp/biar-bench-cache.XXXXXX)
VOL_A=biar-bench-cache-a-$ID
VOL_B=biar-bench-cache-b-$ID
NGINX_PID=
OUR_IMAGES=()
cleanup() {
  for ref in "${OUR_IMAGES[@]:-}"; do [ -n "$ref" ] && docker image rm -f "$ref" >/dev/null 2>&1 || true; done
  docker volume rm -f "$VOL_A" "$VOL_B" >/dev/null 2>&1 || true
  # SIGTERM to the master stops its workers too.
  [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
mkdir -p "$WORK/cache" "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy; fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/cache;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT
[ "${COMPRESSION:-}" = zstd ] && URL="$URL?compression=zstd"

keys=$(docker run --rm --network none biar-builder:latest sh -c \
  'nix-store --generate-binary-cache-key bench-cache-1 /tmp/s /tmp/p >&2 && cat /tmp/s && echo && cat /tmp/p')
SECRET=$(echo "$keys" | sed -n 1p)
PUBLIC=$(echo "$keys" | sed -n 2p)
printf '%s' "$SECRET" >"$WORK/cache.sec"

# One project per machine: the bench closure, the builder on the host's network (the cache is
# on loopback), its own store volume; B's config.json names the cache.
project() { # dir volume with_cache
  cp -r "$REPO/example-offline" "$1"
  cp -r "$REPO/tests/fixtures/pkgs" "$1/pkgs"
  python3 - "$1/config.json" "$2" "$3" "$URL" "$PUBLIC" <<'PY'
import json, sys
path, volume, with_cache, url, public = sys.argv[1:]
c = json.load(open(path))
c["nixpkgs"] = {"path": "pkgs"}
c["userConfig"] = ["user.nix"]
c.setdefault("builder", {}).update({"storeVolume": volume, "network": "host"})
if with_cache == "1":
    c["binaryCache"] = {"url": url, "publicKey": public}
json.dump(c, open(path, "w"), indent=2)
PY
  printf '{ pkgs }: [ (pkgs.benchClosure { }) ]\n' >"$1/user.nix"
}
project "$WORK/a" "$VOL_A" 0
project "$WORK/b" "$VOL_B" 1
mkdir -p "$WORK/home-a/biar" "$WORK/home-b/biar"
printf '[binary-cache]\nurl = "%s"\npublic-key = "%s"\nsecret-key-file = "%s"\npush = true\n' \
  "$URL" "$PUBLIC" "$WORK/cache.sec" >"$WORK/home-a/biar/config.toml"
printf 'trusted-public-keys = ["%s"]\n' "$PUBLIC" >"$WORK/home-b/biar/config.toml"

# `build --json`, each result line stamped with the seconds since the start: built, loaded,
# cache_pushed, the last downloaded, derivations started, and the end.
timed_build() { # dir home out.json
  XDG_CONFIG_HOME=$2 "$BIAR" -p "$1" builder create --offline >/dev/null
  XDG_CONFIG_HOME=$2 "$BIAR" -p "$1" build --json 2>"$3.stderr" | python3 -c '
import json, sys, time
start = time.monotonic(); out = {"derivations": 0, "substituted": 0}
for line in sys.stdin:
    t = round(time.monotonic() - start, 3)
    try: e = json.loads(line)
    except ValueError: continue
    k = e.get("event")
    if k == "built": out.update(built=t, nar_size=e["nar_size"], paths=e["paths"])
    elif k == "loaded": out.update(loaded=t, reference=e["reference"])
    elif k == "cache_pushed": out.update(pushed=t, uploaded=e["paths"])
    elif k == "cache_warning": out.setdefault("warnings", []).append(e["reason"])
    elif k == "downloaded": out.update(downloaded=e["bytes"], unpacked=e["unpacked"])
    elif k == "derivation_started": out["derivations"] += 1
    elif k == "substitute_started": out["substituted"] += 1
out["total"] = round(time.monotonic() - start, 3)
json.dump(out, open(sys.argv[1], "w"))
' "$3"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("reference", ""))' "$3"
}

echo "== machine A: fresh store $VOL_A, from scratch, uploading to $URL"
ref=$(timed_build "$WORK/a" "$WORK/home-a" "$WORK/a.json"); OUR_IMAGES+=("$ref")
cat "$WORK/a.json"; echo
# The same environment is the same image: remove it so B builds rather than finds it.
docker image rm -f "$ref" >/dev/null 2>&1 || true
du -sb "$WORK/cache" | cut -f1 >"$WORK/cache.bytes"

echo "== machine B: fresh store $VOL_B, from the cache"
ref=$(timed_build "$WORK/b" "$WORK/home-b" "$WORK/b.json"); OUR_IMAGES+=("$ref")
cat "$WORK/b.json"; echo

python3 - "$WORK/a.json" "$WORK/b.json" "$(cat "$WORK/cache.bytes")" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
cache = int(sys.argv[3])
gib = lambda n: f"{n / 2**30:.2f} GiB"
mib = lambda n: f"{n / 2**20:.1f} MiB"
print(f"closure: {a['paths']} paths, {gib(a['nar_size'])} (NAR)")
print(f"A from scratch: Nix step {a['built']:.1f} s ({a['derivations']} derivations built), "
      f"whole build {a['total']:.1f} s, of which the upload {a['total'] - a['loaded']:.1f} s "
      f"({a.get('uploaded', 0)} paths, cache holds {mib(cache)})")
print(f"B from the cache: Nix step {b['built']:.1f} s ({b['derivations']} derivations built, "
      f"{b['substituted']} paths fetched), whole build {b['total']:.1f} s")
print(f"time ratio (Nix step) B/A: {b['built'] / a['built']:.2f}; whole build without A's upload: "
      f"{b['total'] / a['loaded']:.2f}")
print(f"downloaded {mib(b.get('downloaded', 0))} for a {gib(b['nar_size'])} closure: "
      f"{b.get('downloaded', 0) / b['nar_size'] * 100:.1f}% (unpacked {gib(b.get('unpacked', 0))})")
PY
