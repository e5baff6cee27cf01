#!/usr/bin/env bash
#
# multi.sh: the cost of several upstreams.  Starts three ogb-upstream
# boxes and ollaguardd twice, in front of one box and of all three, and
# runs the same wrk loads through each: S1-style GETs (/api/version,
# routed to one box; /api/tags, merged from every box) and a streaming
# chat (POST /api/chat with a JSON body naming a model, 20 lines).
# Prints the daemon's CPU time per request (its whole process tree:
# master, workers, poller) for each, and the ratio of three boxes to
# one.  Run through make (make bench-multi).  BENCH_DURATION (5) sets
# the seconds of each run; ports BENCH_PORT_BASE+100.. (19100..).
#
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
DUR=${BENCH_DURATION:-5}
BASE=$(( ${BENCH_PORT_BASE:-19000} + 100 ))
KEY=bench-master-key-0123456789abcdef
. "$HERE/scratch.sh"

cpu() {
	/usr/bin/python3 "$HERE/procstat.py" tree "$1" |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_s"])'
}

for i in 1 2 3; do
	"$BUILD/bench/ogb-upstream" -a 127.0.0.1 -p $((BASE + i)) &
	PIDS+=($!)
done

# run NBOXES NAME METHOD PATH [BODYFILE]: one line of the table.
run() {
	local n=$1 name=$2 lua=$HERE/wrk.lua port=$((BASE + 10 + $1))
	local args=() i pid c0 c1 out reqs
	for i in $(seq 1 "$n"); do
		args+=(--target-url "http://127.0.0.1:$((BASE + i)) name=b$i")
	done
	"$BUILD/ollaguardd" --host 127.0.0.1 --port "$port" \
	    --db "$TMP/k$n.db" --master-key "$KEY" --workers 4 \
	    --health-interval 5 --log-level warn $USER_ARG "${args[@]}" \
	    2>"$TMP/d$n.err" &
	pid=$!
	for i in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.05
	done
	[ -n "${5:-}" ] && lua=$TMP/post.lua
	OGB_KEY=$KEY timeout 60 wrk -t1 -c4 -d1 -s "$lua" \
	    "http://127.0.0.1:$port$4" >/dev/null 2>&1
	c0=$(cpu "$pid")
	out=$(OGB_KEY=$KEY timeout 60 wrk -t1 -c4 -d"$DUR" -s "$lua" \
	    "http://127.0.0.1:$port$4" 2>&1 | sed -n 's/^OGB //p')
	c1=$(cpu "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null
	reqs=$(echo "$out" | /usr/bin/python3 -c \
	    'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["non2xx"])')
	echo "$n $name $reqs $c0 $c1"
}

{
	cat "$HERE/wrk.lua"
	echo 'wrk.method = "POST"'
	echo 'wrk.body = "{\"model\":\"llama3:8b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"'
	echo 'wrk.headers["Content-Type"] = "application/json"'
} >"$TMP/post.lua"

for n in 1 3; do
	run "$n" version GET /api/version
	run "$n" tags GET /api/tags
	run "$n" chat POST '/api/chat?n=20&ms=0' post
done | /usr/bin/python3 -c '
import sys
rows = {}
for line in sys.stdin:
    n, name, reqs, bad, c0, c1 = line.split()
    rows[(int(n), name)] = ((float(c1) - float(c0)) / int(reqs) * 1e6,
                            int(reqs), int(bad))
print("| load | 1 box: us CPU/req | 3 boxes: us CPU/req | ratio | non-2xx (1/3) |")
print("|---|---|---|---|---|")
for name in ("version", "tags", "chat"):
    one, three = rows[(1, name)], rows[(3, name)]
    print(f"| {name} | {one[0]:.1f} | {three[0]:.1f} | "
          f"{three[0] / one[0]:.2f} | {one[2]}/{three[2]} |")
'
