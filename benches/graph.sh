#!/usr/bin/env bash
# Benchmark: the dependency graph page with a production-images-sized
# synthetic catalog (tools/wide_catalog.py, 136 images in 7 layers):
# time to first byte of /graph (median of 50) and the browser's time to
# interactive (navigation start to hydrated, median of 10 loads, headless
# Chromium), on the release build and the release front end.
#   benches/graph.sh [IMAGES]
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
scripts/build-site >/dev/null 2>&1
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
python3 tools/wide_catalog.py "$work/repo" "${1:-136}" >/dev/null
"$bin" serve --repo "$work/repo" --addr 127.0.0.1:0 --site "$CARGO_TARGET_DIR/site" --store "$work/s.db" > "$work/out" 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on \(http:[^ ]*\)\/$/\1/p' "$work/out")
ttfb=$(for _ in $(seq 1 50); do curl -s -o /dev/null -w '%{time_starttransfer}\n' "$url/graph"; done | sort -n | sed -n 25p)
echo "dockyard serve, synthetic catalog of ${1:-136} images"
echo "  time to first byte of /graph (median of 50): $(echo "$ttfb*1000" | bc -l | cut -c1-5) ms"
wasm=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$url/pkg/app_bg.wasm")
echo "  WASM as sent to a browser that takes gzip: $wasm bytes (budget 400,000)"
node benches/graph_tti.mjs "$url" 10 "$CARGO_TARGET_DIR/graph-136.png"
echo "  screenshot: $CARGO_TARGET_DIR/graph-136.png"
