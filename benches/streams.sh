#!/usr/bin/env bash
# Benchmark: live streams against the server's other work (issue 18's
# acceptance). 600 clients open GET /api/v1/builds/N/events on a run that
# never ends; then /healthz is timed (20 times), the clients close, and
# the server's CPU is sampled for the second that starts 2 s later.
#   benches/streams.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
"$bin" serve --repo demo --store "$work/s.db" --addr 127.0.0.1:0 --site /nonexistent >"$work/out" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on \(http:[^ ]*\)\/$/\1/p' "$work/out")
# A run left `running` by a live owner (this shell), straight into the store.
run=$(python3 - "$work/s.db" "$(cat /proc/sys/kernel/hostname):$$" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
cur = c.execute("INSERT INTO runs (state, trigger, selection, hosts, plan, owner, started_at) "
                "VALUES ('running', 'bench', '[]', '[]', '{\"items\":[]}', ?, ?)", (sys.argv[2], int(time.time())))
c.commit()
print(cur.lastrowid)
PY
)
python3 - "$url" "$run" "$pid" <<'PY'
import socket, sys, time
url, run, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = url.removeprefix("http://").split(":")
req = f"GET /api/v1/builds/{run}/events HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
socks = []
for _ in range(600):
    s = socket.create_connection((host, int(port)))
    s.sendall(req)
    socks.append(s)
heads = {"200": 0, "503": 0, "other": 0}
for s in socks:
    s.settimeout(10)
    try:
        head = s.recv(64).decode(errors="replace")
    except OSError:
        head = ""
    code = head.split(" ")[1] if head.startswith("HTTP/1.1") else "other"
    heads[code if code in heads else "other"] += 1
def healthz():
    t = time.perf_counter()
    s = socket.create_connection((host, int(port)))
    s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    s.recv(256)
    s.close()
    return (time.perf_counter() - t) * 1000
times = sorted(healthz() for _ in range(20))
for s in socks:
    s.close()
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
time.sleep(2)
before = ticks()
time.sleep(1)
used = ticks() - before
print("600 live streams on one run (release build)")
print(f"  answered: {heads['200']} streaming, {heads['503']} refused with 503 + Retry-After, {heads['other']} other")
print(f"  /healthz with them open: median {times[10]:.1f} ms, max {times[-1]:.1f} ms (20 requests)")
print(f"  server CPU in the second from 2 s after they closed: {used * 10} ms")
PY
