#!/usr/bin/env bash
# Benchmark: index a local registry seeded with REPOS repositories x TAGS
# tags (default 500 x 50): full index time (median, --max-age 0 so nothing is
# served from the store), request count, peak RSS.
#   benches/registry.sh [REPOS] [TAGS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null 2>&1
. scripts/env.sh
repos=${1:-500}; tags=${2:-50}
cargo build --quiet --release -p dockyard --bin dockyard --example seed_registry
bin="$CARGO_TARGET_DIR/release/dockyard"
work="$CARGO_TARGET_DIR/bench-registry-${repos}x${tags}"
mkdir -p "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/config.yml" >/dev/null 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
if [ ! -f "$work/seeded" ]; then
  "$CARGO_TARGET_DIR/release/examples/seed_registry" "127.0.0.1:$port" "$repos" "$tags"
  touch "$work/seeded"
fi
cat="$work/catalog"
rm -rf "$cat"; mkdir -p "$cat"
printf 'registry: 127.0.0.1:%s\nnamespace: ns\n' "$port" > "$cat/config.yaml"
for i in $(seq 0 $((repos - 1))); do
  mkdir -p "$cat/img$i"
  echo "FROM scratch" > "$cat/img$i/Dockerfile.template"
  printf 'img%s (1.4.9) wikimedia; urgency=low\n' "$i" > "$cat/img$i/changelog"
done
store="$work/store.db"
cmd="$bin registry $cat --store $store --max-age 0 --format json --concurrency 32"
$cmd > "$work/out.json"
python3 - "$work/out.json" "$repos" "$tags" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, t = int(sys.argv[2]), int(sys.argv[3])
ok = [e for e in r["entries"] if e["state"] == "fresh" and len(e["tags"]) == t and e["published"]]
assert len(ok) == n, f"only {len(ok)} of {n} repositories fully indexed"
print(f"index of {n} repositories x {t} tags: {r['requests']} requests (minimum {n + 1}: one probe, one listing each)")
PY
json=$(mktemp); rss=$(mktemp)
hyperfine -N --warmup 2 --runs 15 --export-json "$json" "$cmd" >/dev/null 2>&1
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("  median %.0f ms (min %.0f, max %.0f)" % (r["median"] * 1000, r["min"] * 1000, r["max"] * 1000))
PY
/usr/bin/time -o "$rss" -f '%M' $cmd >/dev/null
echo "  peak RSS $(( $(tail -1 "$rss") / 1024 )) MiB"
rm -f "$json" "$rss"
