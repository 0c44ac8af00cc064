#!/usr/bin/env bash
# The README's first command as a user runs it, from another folder:
#   - `scripts/run --repo PATH` with PATH relative to that folder (the
#     corpus): its catalog has every image docker-pkg 4.0.4 renders (the
#     oracle in ../shared/corpus/expected);
#   - `scripts/run` alone: the demo, with its front end served.
# Needs the site built (scripts/test runs scripts/build-site first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=$(realpath "$root/../shared/corpus")
work=$(mktemp -d)
pgid=""
stop() { [ -n "$pgid" ] && { kill -- -"$pgid" 2>/dev/null || true; wait "$pgid" 2>/dev/null || true; }; pgid=""; }
trap 'stop; rm -rf "$work"' EXIT
fail() { echo "run.sh: $*" >&2; cat "$work/err" >&2 || true; exit 1; }
# start FOLDER ARGS...: scripts/run in FOLDER, in a process group of its own; sets $url.
start() {
  local dir=$1
  shift
  : >"$work/out"
  (cd "$dir" && exec setsid "$root/scripts/run" --addr 127.0.0.1:0 "$@") >"$work/out" 2>"$work/err" &
  pgid=$!
  url=""
  for _ in $(seq 1200); do
    url=$(sed -n 's|^listening on \(http://[^/]*\)/$|\1|p' "$work/out")
    [ -n "$url" ] && return 0
    kill -0 "$pgid" 2>/dev/null || fail "scripts/run $* stopped before it served"
    sleep 0.5
  done
  fail "scripts/run $* did not serve within 10 minutes"
}

expected=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["images"]))' \
  "$corpus/expected/rendered-53bd7ee8313102a4639bbde806e56c167369de90.json")
start "$corpus" --repo integration-config
got=$(curl -fsS "$url/api/v1/catalog" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["images"]))')
[ "$got" = "$expected" ] || fail "--repo relative to the caller: $got images served, docker-pkg renders $expected"
echo "run.sh: scripts/run --repo integration-config (from $corpus): $got images, as docker-pkg" >&2
stop

start "$work"
curl -fsS -o /dev/null "$url/pins" || fail "the demo's /pins did not answer"
grep -q "/demo generation=" "$work/err" || fail "scripts/run alone did not serve the demo"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/pkg/app_bg.wasm")
[ "$code" = 200 ] || fail "the demo's front end: /pkg/app_bg.wasm answered $code"
echo "run.sh: scripts/run alone (from $work): the demo, with its front end" >&2
