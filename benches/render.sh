#!/usr/bin/env bash
# Benchmark: scan + render every image of the Wikimedia catalog, whole
# process, dockyard against docker-pkg 4.0.4 doing the same work
# (tools/docker_pkg_render.py: docker-pkg's config reading, scan and
# TemplateEngine, no Docker daemon). Prints median wall time and peak RSS.
#   benches/render.sh [CATALOG_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null 2>&1
. scripts/env.sh
cargo build --quiet --release -p dockyard
dir=${1:-../shared/corpus/integration-config/dockerfiles}
bin="$CARGO_TARGET_DIR/release/dockyard"
ours="$bin render --config $dir/config.yaml $dir --format json"
theirs="$TOOLS/docker-pkg/bin/python tools/docker_pkg_render.py $dir/config.yaml $dir"
json=$(mktemp)
trap 'rm -f "$json"' EXIT

median() { # command, runs → median seconds
  hyperfine -N --warmup 3 --runs "$2" --export-json "$json" "$1" >/dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
}
peak() { # command → peak RSS in KiB (max of 5 runs)
  local max=0 kb out
  out=$(mktemp)
  for _ in 1 2 3 4 5; do
    /usr/bin/time -o "$out" -f '%M' $1 >/dev/null 2>&1
    kb=$(tail -1 "$out")
    if [ "$kb" -gt "$max" ]; then max=$kb; fi
  done
  rm -f "$out"
  echo "$max"
}
images=$($bin catalog "$dir" | wc -l)
m_ours=$(median "$ours" 200); m_theirs=$(median "$theirs" 10)
p_ours=$(peak "$ours"); p_theirs=$(peak "$theirs")
python3 - "$images" "$m_ours" "$p_ours" "$m_theirs" "$p_theirs" <<'PY'
import sys
n, mo, po, mt, pt = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"scan + render {n} images, whole process")
print(f"  dockyard        median {mo*1000:8.1f} ms   peak RSS {po/1024:6.1f} MiB")
print(f"  docker-pkg 4.0.4 median {mt*1000:8.1f} ms   peak RSS {pt/1024:6.1f} MiB")
print(f"  speed-up {mt/mo:.0f}x")
PY
