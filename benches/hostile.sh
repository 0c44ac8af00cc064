#!/usr/bin/env bash
# Benchmark: the worst single file at each input's size limit, through
# lint, render and serve (wall time and peak RSS of the whole process, the
# server's peak RSS after answering), and 10 MB of pins spread over files
# in growing amounts (the gate stays linear).
#   benches/hostile.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tools/hostile_inputs.py "$work"

measure() { # label, command... → "label  seconds  MiB  exit"
  local label=$1; shift
  local out; out=$(mktemp)
  local code=0
  /usr/bin/time -o "$out" -f '%e %M' "$@" >/dev/null 2>&1 || code=$?
  read -r secs kb < <(tail -1 "$out")
  printf '  %-34s %6.2f s  %6.1f MiB  exit %s\n' "$label" "$secs" "$(echo "$kb/1024" | bc -l)" "$code"
  rm -f "$out"
}

echo "one file at its size limit (release build, whole process)"
for case in "$work"/cases/*/; do
  name=$(basename "$case")
  measure "lint   $name" "$bin" lint --repo "$case" --format json
  measure "render $name" "$bin" render --repo "$case" --format json
done

echo "serve: load, answer /api/v1/pins and /api/v1/catalog, peak RSS of the server"
for case in "$work"/cases/*/; do
  name=$(basename "$case")
  start=$(date +%s.%N)
  "$bin" serve --repo "$case" --addr 127.0.0.1:0 --site /nonexistent > "$work/serve.out" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 400); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
  if ! kill -0 "$pid" 2>/dev/null; then
    code=0; wait "$pid" || code=$?
    printf '  %-34s refused to start, exit %s (no earlier snapshot to keep)\n' "serve  $name" "$code"
    continue
  fi
  url=$(sed -n 's/^listening on \(http:[^ ]*\)\/$/\1/p' "$work/serve.out")
  curl -s -o /dev/null "$url/api/v1/pins" || true
  curl -s -o /dev/null "$url/api/v1/catalog" || true
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '  %-34s %6.2f s  %6.1f MiB\n' "serve  $name" "$(echo "$end - $start" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
done

echo "10 MB of pins over files (lint, median of 3): time per MB stays flat"
for mb in 1 2 5 10; do
  repo="$work/spread-$mb"
  python3 tools/hostile_inputs.py --spread "$mb" "$repo" >/dev/null
  best=""
  for _ in 1 2 3; do
    s=$(date +%s.%N); "$bin" lint --repo "$repo" --format json >/dev/null 2>&1 || true; e=$(date +%s.%N)
    best="$best $(echo "$e - $s" | bc -l)"
  done
  med=$(echo "$best" | tr ' ' '\n' | sed '/^$/d' | sort -n | sed -n 2p)
  printf '  %3s MB  %6.3f s  %6.3f s/MB\n' "$mb" "$med" "$(echo "$med / $mb" | bc -l)"
done
