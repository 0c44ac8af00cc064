#!/usr/bin/env bash
# Benchmark: `dockyard serve` on the current Wikimedia snapshot under a load
# generator that is not ours (Debian's wrk): p99 latency of GET
# /api/v1/pins with 200 connections on loopback, time to first byte of the
# server-rendered /pins and /graph (median of 50), and the server's RSS.
# The same for GET /api/v1/builds, whose history (300 runs, the demo's
# three a hundred times) the service keeps in memory while the store's
# history version holds: SQLite by default, or `pg` for a throwaway PostgreSQL
# cluster started here (Debian's postgresql 15, run as nobody).
#   benches/serve.sh [REPO] [STORE]   (STORE: a sqlite path, a postgres:// URL, or pg)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
scripts/build-site >/dev/null 2>&1
# oha (crates.io), for an open-loop load at fixed rates: wrk keeps 200
# requests in flight whatever the server's speed, so on two shared cores its
# p99 is mostly queueing. Built once into $TOOLS (about 2.5 minutes; its
# default TLS stack needs cmake, native-tls only Debian's libssl-dev).
oha_version=1.16.0
if [ "$("$TOOLS/bin/oha" --version 2>/dev/null | awk '{print $2}')" != "$oha_version" ]; then
  dpkg-query -W -f='${Status}' libssl-dev 2>/dev/null | grep -q "install ok installed" ||
    apt-get install -y -qq --no-install-recommends libssl-dev >/dev/null
  echo "installing oha $oha_version into $TOOLS (once)" >&2
  cargo install --quiet --locked --root "$TOOLS" oha --version "=$oha_version" --no-default-features --features native-tls
fi
repo=$(realpath "${1:-../shared/corpus/integration-config}")
work=$(mktemp -d)
store=${2:-$work/store.db}
pid=""
pg_stop() { :; }
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; pg_stop; rm -rf "$work"' EXIT
if [ "$store" = pg ]; then
  pgbin=/usr/lib/postgresql/15/bin
  pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/pg" && chown nobody "$work/pg" && chmod 755 "$work"
  su -s /bin/sh nobody -c "$pgbin/initdb -D $work/pg/data -A trust -U dockyard --no-sync >/dev/null"
  su -s /bin/sh nobody -c "$pgbin/pg_ctl -D $work/pg/data -l $work/pg/log -w -o '-k $work/pg -p $pgport -c listen_addresses=127.0.0.1' start >/dev/null"
  pg_stop() { su -s /bin/sh nobody -c "$pgbin/pg_ctl -D $work/pg/data -m immediate stop >/dev/null 2>&1" || true; }
  store="postgres://dockyard@127.0.0.1:$pgport/postgres"
fi
# 300 runs in the history: the demo's three, a hundred times.
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["runs"] = d["runs"] * 100
json.dump(d, open(sys.argv[2], "w"))' demo/store.json "$work/history.json"
"$bin" store import --store "$store" --shift-to-now "$work/history.json" >/dev/null
"$bin" serve --repo "$repo" --addr 127.0.0.1:0 --site "$CARGO_TARGET_DIR/site" --store "$store" \
  --max-connections 1024 > "$work/out" 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on \(http:[^ ]*\)\/$/\1/p' "$work/out")
rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
ttfb() { # path → median seconds to the first byte
  for _ in $(seq 1 50); do curl -s -o /dev/null -w '%{time_starttransfer}\n' "$url$1"; done | sort -n | sed -n 25p
}
t_pins=$(ttfb /pins); t_graph=$(ttfb /graph)
wrk -t2 -c200 -d10s --latency "$url/api/v1/pins" > "$work/wrk" 2>&1
rss_load=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
wrk -t2 -c200 -d10s --latency "$url/api/v1/builds" > "$work/wrk-builds" 2>&1
# The floor on this machine: the smallest answer (two bytes) under the same load.
wrk -t2 -c200 -d10s --latency "$url/healthz" > "$work/wrk-floor" 2>&1
p99f=$(awk '$1 == "99%" {print $2}' "$work/wrk-floor")
rpsf=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-floor")
size=$(curl -s "$url/api/v1/pins" | wc -c)
# Open loop: a fixed rate over 200 connections, latencies corrected for
# coordinated omission (counted from when each request was due).
open_loop=""
for q in 2000 5000 10000; do
  oha -c 200 -q "$q" -z 10s --latency-correction --no-tui --output-format json "$url/api/v1/pins" > "$work/oha-$q.json"
  open_loop+=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
p50, p99 = (d["latencyPercentiles"][k] * 1000 for k in ("p50", "p99"))
ok, codes = d["summary"]["successRate"] * 100, d.get("statusCodeDistribution", {})
print("\n    %s req/s: p50 %.2fms, p99 %.2fms (%.1f%% answered, statuses %s)" % (sys.argv[2], p50, p99, ok, codes), end="")' "$work/oha-$q.json" "$q")
done
p99b=$(awk '$1 == "99%" {print $2}' "$work/wrk-builds")
rpsb=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-builds")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk")
p50=$(awk '$1 == "50%" {print $2}' "$work/wrk")
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk")
errors=$(grep -E 'Non-2xx|Socket errors' "$work/wrk" || true)
echo "dockyard serve on $(basename "$repo"), store $(echo "$store" | sed 's#//[^@]*@#//***@#')"
echo "  GET /api/v1/pins, wrk -t2 -c200 -d10s: p50 $p50, p99 $p99, $rps req/s ${errors:+($errors)}"
echo "    (the body is $size bytes; the floor, GET /healthz of 2 bytes under the same load: p99 $p99f, $rpsf req/s)"
echo "  GET /api/v1/pins, oha -c200 at a fixed rate for 10 s, --latency-correction:$open_loop"
ms() { case $1 in *us) echo "${1%us} / 1000" | bc -l ;; *ms) echo "${1%ms}" ;; *s) echo "${1%s} * 1000" | bc -l ;; esac; }
ratio=$(echo "$(ms "$p99b") / $(ms "$p99")" | bc -l | cut -c1-4)
echo "  GET /api/v1/builds (300 runs in the history), wrk -t2 -c200 -d10s: p99 $p99b, $rpsb req/s ($ratio x the p99 of /api/v1/pins)"
echo "  time to first byte (median of 50): /pins $(echo "$t_pins*1000" | bc -l | cut -c1-5) ms, /graph $(echo "$t_graph*1000" | bc -l | cut -c1-5) ms"
echo "  RSS: idle $((rss_idle / 1024)) MiB, peak under load $((rss_load / 1024)) MiB"
