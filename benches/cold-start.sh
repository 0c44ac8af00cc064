#!/usr/bin/env bash
# Benchmark: the newcomer's wait. `scripts/run` from a fresh clone of HEAD
# with empty build and tool folders (the crates.io and npm caches as they
# are), timed to the first answer of /healthz and of /pins (the dashboard,
# server-rendered), and to "site ready" (the browser side built behind it).
# Each build's `cargo build --timings` report is kept in the target folder.
#   benches/cold-start.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null 2>&1 # git, curl and bc (the clone's own run installs the rest)
port=${1:-3917}
work=$(mktemp -d)
pgid=""
trap '[ -n "$pgid" ] && kill -- -"$pgid" 2>/dev/null; sleep 1; rm -rf "$work"' EXIT
git clone -q . "$work/clone"
export CARGO_TARGET_DIR="$work/target" DOCKYARD_TOOLS="$work/tools"
log="$work/run.log"
start=$(date +%s.%N)
setsid "$work/clone/scripts/run" --addr "127.0.0.1:$port" >"$log" 2>&1 &
pgid=$!
since() { echo "$(date +%s.%N) - $start" | bc | xargs printf '%.0f'; }
answered="" ready=""
while [ -z "$ready" ]; do
  kill -0 "$pgid" 2>/dev/null || { cat "$log" >&2; echo "cold-start: scripts/run stopped" >&2; exit 1; }
  if [ -z "$answered" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/pins" 2>/dev/null; then
    answered=$(since)
    echo "cold-start: /pins answered (server-rendered) after ${answered} s" >&2
  fi
  grep -q "site ready" "$log" && ready=$(since)
  grep -q "did not build" "$log" && { cat "$log" >&2; exit 1; }
  sleep 1
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/pkg/app_bg.wasm")
[ "$code" = 200 ] || { echo "cold-start: /pkg/app_bg.wasm answered $code" >&2; exit 1; }
echo "cold-start: site ready (the pages hydrate) after ${ready} s; $(grep 'site ready' "$log")" >&2
printf 'first answer: %s s\nsite ready: %s s\n' "$answered" "$ready"
