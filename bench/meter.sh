#!/usr/bin/env bash
#
# meter.sh: what usage metering costs a long stream.  One NDJSON stream
# of 1,000 lines 2 ms apart, straight from ogb-upstream and through
# ollaguardd (which feeds every chunk to its meter and records the
# request in the usage table), in turns; prints the delay each line
# picked up on the way (ogb-streams: upstream write to client read) for
# both and the difference of the medians.  Run through make
# (make bench-meter).  BENCH_METER_ROUNDS (3); ports
# BENCH_PORT_BASE+300.. (19300..).
#
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
ROUNDS=${BENCH_METER_ROUNDS:-3}
BASE=$(( ${BENCH_PORT_BASE:-19000} + 300 ))
KEY=bench-master-key-0123456789abcdef
. "$HERE/scratch.sh"

"$BUILD/bench/ogb-upstream" -a 127.0.0.1 -p $((BASE + 1)) &
PIDS+=($!)
"$BUILD/ollaguardd" --host 127.0.0.1 --port $((BASE + 2)) \
    --target-url "http://127.0.0.1:$((BASE + 1))" --db "$TMP/k.db" \
    --master-key "$KEY" --workers 4 --log-level warn $USER_ARG \
    2>"$TMP/d.err" &
PIDS+=($!)
for i in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$((BASE + 2))/" && break
	sleep 0.05
done

for i in $(seq 1 "$ROUNDS"); do
	"$BUILD/bench/ogb-streams" -u "http://127.0.0.1:$((BASE + 1))" \
	    -p '/api/chat?n=1000&ms=2' -c 1 -r 1 -t 60 >>"$TMP/direct"
	"$BUILD/bench/ogb-streams" -u "http://127.0.0.1:$((BASE + 2))" \
	    -k "$KEY" -p '/api/chat?n=1000&ms=2' -c 1 -r 1 -t 60 >>"$TMP/proxy"
done
/usr/bin/python3 - "$TMP/direct" "$TMP/proxy" <<'PY'
import json, statistics, sys
rows = {}
for name, path in (("direct", sys.argv[1]), ("ollaguardd, metered", sys.argv[2])):
    runs = [json.loads(line) for line in open(path)]
    if any(r["complete"] != r["streams"] for r in runs):
        sys.exit(f"{name}: a stream did not complete: {runs}")
    rows[name] = (statistics.median(r["delay_us"]["p50"] for r in runs),
                  statistics.median(r["delay_us"]["p99"] for r in runs),
                  sum(r["lines"] for r in runs))
print("| path | lines | delay per line p50 (µs) | p99 (µs) |")
print("|---|---:|---:|---:|")
for name, (p50, p99, n) in rows.items():
    print(f"| {name} | {n} | {p50:.1f} | {p99:.1f} |")
d = rows["ollaguardd, metered"][0] - rows["direct"][0]
print(f"\nadded per line by the proxy, metering included (p50): {d:.1f} µs")
PY
