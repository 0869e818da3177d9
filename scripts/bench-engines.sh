#!/usr/bin/env bash
# Benchmark of a remote engine (issue 13): the same build and `run -- hello` through the local
# socket and through `ssh://root@127.0.0.1:PORT` (Debian's sshd on a free loopback port, its own
# config and keys, `docker system dial-stdio` on the far side: the same engine behind both, so
# the difference is the transport). Prints means and the overhead ratio.
#  - build: the Nix build is a no-op (the store volume has it); the image is removed before each
#    run, so every run makes and loads it (14 layers, 2.4 MB) through the transport.
#  - run -- hello: create, copy workdir/ in (over ssh) or bind mount it (local), attach, start,
#    wait, copy back, remove.
# Needs: a Docker Engine, the shared offline builder (scripts/test.sh makes it), openssh-server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --bin biar-tui
BIN=$PWD/target/debug/biar-tui
RUNS=${RUNS:-5}

work=$(mktemp -d)
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^biar-bench-engines-$$-" | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
cat >"$work/ssh_config" <<EOF
Host *
  IdentityFile $work/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking accept-new
  BatchMode yes
EOF
mkdir -p "$work/bin" /run/sshd
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$work/ssh_config" >"$work/bin/ssh"
chmod +x "$work/bin/ssh"
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cp -r example-offline "$work/project"
cp -r tests/fixtures/pkgs "$work/project/pkgs"
python3 - "$work/project/config.json" "biar-bench-engines-$$-" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["nixpkgs"] = {"path": "pkgs"}
c["image"] = {"namePrefix": sys.argv[2]}
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
echo '{ pkgs }: with pkgs; [ hello ]' >"$work/project/user.nix"
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config
"$BIN" -p "$work/project" build >/dev/null 2>&1
image=$("$BIN" -p "$work/project" hash --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')

local_env=(env -u DOCKER_HOST -u DOCKER_CONTEXT)
ssh_env=(env -u DOCKER_CONTEXT "DOCKER_HOST=ssh://root@127.0.0.1:$port" "PATH=$work/bin:$PATH")

# mean_of VAR RUNS PREPARE CMD…: the mean wall time of CMD over RUNS runs, PREPARE before each.
mean_of() {
  local runs=$1 prepare=$2; shift 2
  python3 - "$runs" "$prepare" "$@" <<'PY'
import subprocess, sys, time
runs, prepare, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times = []
for _ in range(runs):
    if prepare:
        subprocess.run(prepare, shell=True, check=False, capture_output=True)
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    times.append(time.monotonic() - t)
print(f"{sum(times)/len(times):.3f} {min(times):.3f} {max(times):.3f}")
PY
}

rmi="docker rmi -f $image"
echo "== build (no-op Nix build, image made and loaded), $RUNS runs each =="
b_local=$(mean_of "$RUNS" "$rmi" "${local_env[@]}" "$BIN" -p "$work/project" build)
b_ssh=$(mean_of "$RUNS" "$rmi" "${ssh_env[@]}" "$BIN" -p "$work/project" build)
echo "== run -- hello, $RUNS runs each =="
r_local=$(mean_of "$RUNS" "" "${local_env[@]}" "$BIN" -p "$work/project" run -- hello)
r_ssh=$(mean_of "$RUNS" "" "${ssh_env[@]}" "$BIN" -p "$work/project" run -- hello)
python3 - "$b_local" "$b_ssh" "$r_local" "$r_ssh" <<'PY'
import sys
(bl, bs, rl, rs) = [tuple(map(float, a.split())) for a in sys.argv[1:]]
for name, l, s in [("build", bl, bs), ("run -- hello", rl, rs)]:
    print(f"{name}: local socket {l[0]:.2f} s (min {l[1]:.2f}, max {l[2]:.2f}), "
          f"ssh:// {s[0]:.2f} s (min {s[1]:.2f}, max {s[2]:.2f}), ratio {s[0]/l[0]:.2f}x, "
          f"overhead {s[0]-l[0]:+.2f} s")
PY
