#!/usr/bin/env bash
# Benchmark: build the 30-image catalog of tools/bench_catalog.py (each
# image's RUN takes about a second) on a fresh private dockerd, with
# dockyard -j 1, -j 4 and -j 16, and with docker-pkg 4.0.4 (serial), on the
# same engine in the same run. Reports wall times, the critical path (the
# longest chain of measured build times), and the engine overhead per image
# (from the image starting to its first build step).
#   benches/build.sh [SECONDS_PER_IMAGE]
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
secs=${1:-1}
work=$(mktemp -d /tmp/dkb.XXXX)
dpid=""
stop_engine() {
  if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; dpid=""; fi
  umount -R "$work/e/data" 2>/dev/null || true
  rm -rf "$work/e"
}
trap 'stop_engine; rm -rf "$work"' EXIT
fresh_engine() {
  stop_engine
  mkdir -p "$work/e"
  dockerd --host "unix://$work/e/docker.sock" --data-root "$work/e/data" --exec-root "$work/e/exec" \
    --pidfile "$work/e/pid" --bridge none --iptables=false --ip-masq=false >"$work/e/log" 2>&1 &
  dpid=$!
  export DOCKER_HOST="unix://$work/e/docker.sock"
  for _ in $(seq 1 200); do docker version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "dockerd did not start" >&2; exit 1
}
# No port in the registry: docker-pkg 4.0.4's image_tag cannot find images on a
# registry with a port (it splits on every colon). Nothing is pulled (--no-pull).
python3 tools/bench_catalog.py "$work/repo/dockerfiles" registry.bench.invalid "$secs"
results=()
for j in 1 4 16; do
  fresh_engine
  store="$work/h-$j.db"
  s=$(date +%s.%N)
  "$bin" build --repo "$work/repo" --no-pull -j "$j" --store "$store" >/dev/null 2>&1
  e=$(date +%s.%N)
  results+=("$j $(echo "$e - $s" | bc -l) $store")
done
fresh_engine
s=$(date +%s.%N)
(cd "$work" && "$TOOLS/docker-pkg/bin/docker-pkg" -c repo/dockerfiles/config.yaml --info build --no-pull repo/dockerfiles >"$work/dpkg.log" 2>&1) || true
e=$(date +%s.%N)
dpkg_time=$(echo "$e - $s" | bc -l)
dpkg_built=$(docker images --format '{{.Repository}}' | grep -c '/bench/' || true)
python3 - "$secs" "$dpkg_time" "$dpkg_built" "${results[@]}" <<'PY'
import json, sqlite3, sys
secs, dpkg, dpkg_built = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = [r.split() for r in sys.argv[4:]]
print(f"30-image catalog, about {secs}s of RUN per image, fresh engine each time")
crit = None
for j, t, store in rows:
    c = sqlite3.connect(store)
    imgs = c.execute("SELECT name, started_ms, finished_ms, state FROM run_images").fetchall()
    states = {}
    for _, _, _, st in imgs:
        states[st] = states.get(st, 0) + 1
    if j == "16":
        # The critical path: the longest chain of measured build times.
        plan = json.loads(c.execute("SELECT plan FROM runs").fetchone()[0])
        dur = {n: (f - s) / 1000 for n, s, f, _ in imgs if s and f}
        parents = {i["name"]: i["parents"] for i in plan["items"]}
        best = {}
        for i in plan["items"]:
            n = i["name"]
            best[n] = dur.get(n, 0) + max([best.get(p, 0) for p in parents[n]] or [0])
        crit = max(best.values())
        # Overhead: from an image's start to its first build step.
        first = dict(c.execute("SELECT image, min(at_ms) FROM run_logs WHERE line LIKE 'Step 1/%' GROUP BY image").fetchall())
        over = sorted(first[n] - s for n, s, _, _ in imgs if n in first and s)
        overhead = over[len(over) // 2] if over else None
    print(f"  dockyard -j {j:>2}: {float(t):6.1f} s   {states}")
print(f"  docker-pkg 4.0.4: {dpkg:6.1f} s   ({dpkg_built} images built, serially)")
if crit:
    t16 = float([t for j, t, _ in rows if j == "16"][0])
    t4 = float([t for j, t, _ in rows if j == "4"][0])
    print(f"  critical path {crit:.1f} s: -j 16 is {t16 / crit:.2f}x of it; docker-pkg / dockyard -j 4 = {dpkg / t4:.1f}x")
    print(f"  engine overhead per image, start to first build step (median): {overhead} ms")
PY
