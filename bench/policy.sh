#!/usr/bin/env bash
#
# policy.sh: what a model list costs a chat request.  A key with a model
# list has its JSON body read whole and checked before anything goes
# upstream; a key without one streams it.  Sends the same 1 MiB chat
# body (the size of a request carrying an image) with both keys, in
# turns, through one ollaguardd in front of ogb-upstream, and prints the
# median time to the first response byte of each and the difference.
# Run through make (make bench-policy).  BENCH_POLICY_N (40) requests
# per key; ports BENCH_PORT_BASE+200.. (19200..).
#
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
N=${BENCH_POLICY_N:-40}
BASE=$(( ${BENCH_PORT_BASE:-19000} + 200 ))
. "$HERE/scratch.sh"

"$BUILD/bench/ogb-upstream" -a 127.0.0.1 -p $((BASE + 1)) &
PIDS+=($!)
free=$("$BUILD/ollaguard-keyctl" --db "$TMP/k.db" add --name free 2>/dev/null)
only=$("$BUILD/ollaguard-keyctl" --db "$TMP/k.db" add --name only \
    --models 'llama3' 2>/dev/null)
"$BUILD/ollaguardd" --host 127.0.0.1 --port $((BASE + 2)) \
    --target-url "http://127.0.0.1:$((BASE + 1))" --db "$TMP/k.db" \
    --workers 4 --log-level warn $USER_ARG 2>"$TMP/d.err" &
PIDS+=($!)
for i in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$((BASE + 2))/" && break
	sleep 0.05
done

# Time to the first response byte, from the first request byte, for
# each key in turn: a raw socket, so nothing but the request is timed.
/usr/bin/python3 - "$((BASE + 2))" "$N" "$free" "$only" <<'PY'
import json, socket, statistics, sys, time

port, n, keys = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:5]
text = "x" * (1024 * 1024 - 100)
body = json.dumps({"model": "llama3", "stream": True,
                   "messages": [{"role": "user", "content": text}]}).encode()


def ttfb(key):
    head = (f"POST /api/chat?n=1&ms=0 HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port)) as s:
        t0 = time.perf_counter()
        s.sendall(head.encode() + body)
        first = s.recv(1)
        t1 = time.perf_counter()
        rest = first + s.recv(64)
        while s.recv(65536):
            pass
    if not rest.startswith(b"HTTP/1.1 200"):
        sys.exit(f"not a 200: {rest[:40]!r}: not a valid run")
    return (t1 - t0) * 1000


times = {k: [] for k in keys}
for _ in range(n):
    for k in keys:
        times[k].append(ttfb(k))
mf, mo = (statistics.median(times[k]) for k in keys)
print("| key | requests | median time to first byte (ms) |")
print("|---|---:|---:|")
print(f"| no model list (body streamed) | {n} | {mf:.3f} |")
print(f"| model list (1 MiB body read and checked) | {n} | {mo:.3f} |")
print(f"\nadded by the model check: {mo - mf:.3f} ms")
PY
