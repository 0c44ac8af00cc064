#!/usr/bin/env bash
# Benchmark: one Docker engine against two (private dockerd processes on
# this machine, each with its own socket and data root) and a local
# docker-registry, on the 30-image catalog of tools/bench_catalog.py:
#   - the distributed build, `build --push -j J` on one host and on both
#     (same -j per host), fresh engines and an empty registry each time;
#   - pulling every image of the catalog, all pinned, onto one host and onto
#     both at once (`pull --hosts`), fresh engines each time.
#   benches/fleet.sh [SECONDS_PER_IMAGE] [J] [own-core]
# With `own-core`, engine one runs on core 0 and engine two on core 1 (their
# containerd and containers inherit it), as if each were its own machine;
# dockyard and the registry run anywhere.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
secs=${1:-1}
jobs=${2:-2}
pin=${3:-}
declare -A core=([one]=0 [two]=1)
work=$(mktemp -d /tmp/dkf.XXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rpid=""
declare -A epid
stop_engine() { # NAME
  local p=${epid[$1]:-}
  if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  epid[$1]=""
  umount -R "$work/$1/data" 2>/dev/null || true
  rm -rf "${work:?}/$1"
}
fresh_engine() { # NAME
  stop_engine "$1"
  mkdir -p "$work/$1"
  local run=()
  [ "$pin" = own-core ] && run=(taskset -c "${core[$1]}")
  "${run[@]}" dockerd --host "unix://$work/$1/docker.sock" --data-root "$work/$1/data" --exec-root "$work/$1/exec" \
    --pidfile "$work/$1/pid" --bridge none --iptables=false --ip-masq=false >"$work/$1/log" 2>&1 &
  epid[$1]=$!
  for _ in $(seq 1 200); do DOCKER_HOST="unix://$work/$1/docker.sock" docker version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "dockerd $1 did not start" >&2; exit 1
}
stop_registry() { if [ -n "$rpid" ]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; rpid=""; fi; }
fresh_registry() {
  stop_registry
  rm -rf "$work/registry"; mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry/data" "$port" > "$work/registry/config.yml"
  docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
  rpid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.05; done
  echo "docker-registry did not start" >&2; exit 1
}
cleanup() { stop_engine one; stop_engine two; stop_registry; rm -rf "$work"; }
trap cleanup EXIT

python3 tools/bench_catalog.py "$work/repo/dockerfiles" "127.0.0.1:$port" "$secs" >/dev/null
mkdir -p "$work/repo/jjb"
printf '[[hosts]]\nname = "one"\nurl = "unix://%s/one/docker.sock"\n\n[[hosts]]\nname = "two"\nurl = "unix://%s/two/docker.sock"\n' \
  "$work" "$work" > "$work/operator.toml"
# Engines are the operator's: the repository's dockyard.toml may not name them.
export DOCKYARD_OPERATOR="$work/operator.toml"
cpu_ticks() { # → "busy total" jiffies of all cores since boot
  awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
timed() { # COMMAND... → prints seconds, and how busy the machine's cores were
  local s e c0 c1 own
  c0=$(cpu_ticks); s=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { echo "$1 failed:" >&2; tail -20 "$work/last.log" >&2; exit 1; }
  e=$(date +%s.%N); c1=$(cpu_ticks)
  # `times`, second line: CPU of this subshell's children (dockyard, date, awk).
  times > "$work/times" # not inside $(…): that subshell has no children of its own
  own=$(sed -n 2p "$work/times" | awk '{ split($1, u, /[ms]/); split($2, k, /[ms]/); printf "%.1f", u[1] * 60 + u[2] + k[1] * 60 + k[2] }')
  echo "$(echo "$e - $s" | bc -l | cut -c1-6) s, cores $(echo "$c0 $c1" | awk '{ printf "%d", 100 * ($3 - $1) / ($4 - $2) }')% busy, dockyard's own CPU ${own} s"
}
echo "30-image catalog, about ${secs}s of RUN per image, two dockerd on this machine ($(nproc) cores${pin:+, each engine on its own core})"
for hosts in one all; do
  fresh_engine one; fresh_engine two; fresh_registry
  t=$(timed "$bin" build --repo "$work/repo" --store "$work/b-$hosts.db" --hosts "$hosts" --push -j "$jobs")
  used=$(python3 -c 'import sqlite3, sys; print(dict(sqlite3.connect(sys.argv[1]).execute("SELECT host, count(*) FROM run_images WHERE state = ? GROUP BY host", ("published",)).fetchall()))' "$work/b-$hosts.db")
  echo "  build --push -j $jobs --hosts $hosts: $t   (images published per host: $used)"
done
# Pin every image; the registry holds them all from the last build.
for d in "$work"/repo/dockerfiles/*/; do
  n=$(basename "$d")
  printf -- '- job:\n    name: %s\n    image: 127.0.0.1:%s/bench/%s:1.0\n' "$n" "$port" "$n"
done > "$work/repo/jjb/jobs.yaml"
for hosts in one all; do
  fresh_engine one; fresh_engine two
  t=$(timed "$bin" pull --repo "$work/repo" --store "$work/p.db" --hosts "$hosts" --digest -j 4)
  echo "  pull 30 pinned images --hosts $hosts: $t"
done
