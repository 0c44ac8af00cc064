#!/usr/bin/env bash
# Benchmark: `dockyard lint` on the current Wikimedia snapshot (whole process:
# config, catalog scan, every jjb/ file, statuses, report) next to the grep
# that only lists pinned tags. Prints median wall time and peak RSS.
#   benches/lint.sh [REPO]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null 2>&1
. scripts/env.sh
cargo build --quiet --release -p dockyard
repo=$(realpath "${1:-../shared/corpus/integration-config}")
bin="$CARGO_TARGET_DIR/release/dockyard"
json=$(mktemp); rss=$(mktemp)
trap 'rm -f "$json" "$rss"' EXIT
grep_cmd="cd $repo && grep -rhoE 'docker-registry[^ ]*:[.0-9]+' jjb/ | sort -u"
hyperfine --warmup 5 --runs 300 -N --export-json "$json" "$bin lint --repo $repo --format json" >/dev/null 2>&1
ours=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")
hyperfine --warmup 5 --runs 300 --shell=bash --export-json "$json" "$grep_cmd" >/dev/null 2>&1
theirs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")
peak=0
for _ in 1 2 3 4 5; do
  /usr/bin/time -o "$rss" -f '%M' "$bin" lint --repo "$repo" --format json >/dev/null 2>&1 || true
  kb=$(tail -1 "$rss"); if [ "$kb" -gt "$peak" ]; then peak=$kb; fi
done
python3 - "$ours" "$theirs" "$peak" <<'PY'
import sys
o, g, p = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print("lint the current Wikimedia snapshot, whole process")
print(f"  dockyard lint --format json  median {o*1000:6.1f} ms  peak RSS {p/1024:5.1f} MiB")
print(f"  grep | sort -u (lists only)  median {g*1000:6.1f} ms   ({o/g:.2f}x)")
PY
