#!/usr/bin/env bash
#
# ctxsw.sh: context switches per request of ollaguardd's workers, for
# S1's request (GET /api/tags, valid key, keep-alive), at 1 connection
# and at BENCH_CTXSW_CONNS connections (16), with as many workers as
# connections.  First from /proc/PID/status (voluntary_ctxt_switches,
# nonvoluntary_...) summed over the workers before and after a wrk run;
# then, where perf(1) works, every sched_switch of the workers during a
# second run with its call stack, sorted by where the worker slept:
# waiting for the upstream's answer (wait_up; curl_multi_poll before
# the CONNECT_ONLY road), for the client's next request (client_fill),
# or preempted.
#
#   BENCH_BUILD, BENCH_PORT_BASE, BENCH_ACCESS_LOG: as for run.sh
#   BENCH_CTXSW_SECONDS  length of each run (3)

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BENCH_BUILD:-$HERE/../build}
PY=/usr/bin/python3
ACCESS_LOG=${BENCH_ACCESS_LOG:-on}
BASE=${BENCH_PORT_BASE:-19000}
SECS=${BENCH_CTXSW_SECONDS:-3}
CONNS=${BENCH_CTXSW_CONNS:-16}
OGD=$BUILD/ollaguardd
KCTL=$BUILD/ollaguard-keyctl
UPSTREAM=$BUILD/bench/ogb-upstream
P_UP_FAST=$((BASE + 80)) P_UP_STREAM=$((BASE + 81))
P_OG_FAST=$((BASE + 10))

RUN=$(mktemp -d /tmp/ogbench-cs.XXXXXX)
RES=$RUN/results.jsonl
. "$HERE/lib.sh"
upstreams_start || exit 1
MASTER=ogb-master-$(rand)
mkdir -p "$RUN/og"
keys_make "$RUN/og/keys10.db" || exit 1

switches() { # PID...: voluntary and nonvoluntary, summed
	local v=0 n=0 p a b
	for p; do
		read -r a b < <(awk '/^voluntary_ctxt/{v=$2}
		    /^nonvoluntary_ctxt/{n=$2} END{print v, n}' \
		    /proc/$p/status)
		v=$((v + a)) n=$((n + b))
	done
	echo "$v $n"
}
printf '| connections | requests | voluntary / req | involuntary / req |\n'
printf '|---:|---:|---:|---:|\n'
for c in 1 $CONNS; do
	og_start og$c $P_OG_FAST $P_UP_FAST "$RUN/og/keys10.db" \
	    --workers $c --min-spare 0 --max-spare $c --max-workers $c \
	    --auth-fail-limit 0 || exit 1
	pid=$LASTPID
	OGB_KEY=$OG_KEY timeout 30 wrk -t1 -c$c -d1s -s "$HERE/wrk.lua" \
	    http://127.0.0.1:$P_OG_FAST/api/tags >/dev/null 2>&1
	W=$(pgrep -P $pid)
	read -r v0 n0 < <(switches $W)
	OGB_KEY=$OG_KEY timeout $((SECS + 30)) wrk -t1 -c$c -d${SECS}s \
	    -s "$HERE/wrk.lua" http://127.0.0.1:$P_OG_FAST/api/tags 2>&1 |
	    sed -n 's/^OGB //p' >"$RUN/c$c.wrk"
	read -r v1 n1 < <(switches $W)
	req=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))
	    ["requests"])' "$RUN/c$c.wrk")
	awk -v c=$c -v r=$req -v v=$((v1 - v0)) -v n=$((n1 - n0)) \
	    'BEGIN { printf "| %d | %d | %.2f | %.2f |\n", c, r, v / r, n / r }'
	if command -v perf >/dev/null && perf stat -e cpu-clock true \
	    >/dev/null 2>&1; then
		perf record -q -e sched:sched_switch --call-graph=dwarf,16384 \
		    -o "$RUN/c$c.perf" -p "$(echo $W | tr ' ' ,)" \
		    >/dev/null 2>&1 &
		s=$!
		sleep 1
		OGB_KEY=$OG_KEY timeout $((SECS + 30)) wrk -t1 -c$c \
		    -d${SECS}s -s "$HERE/wrk.lua" \
		    http://127.0.0.1:$P_OG_FAST/api/tags 2>&1 |
		    sed -n 's/^OGB //p' >"$RUN/c$c.pwrk"
		kill -INT $s
		wait $s
		perf script -i "$RUN/c$c.perf" -F trace,ip,sym 2>/dev/null \
		    >"$RUN/c$c.sched"
		rm -f "$RUN/c$c.perf"
	fi
	stop $pid
done
[ -s "$RUN/c1.sched" ] || exit 0
$PY - "$RUN" 1 $CONNS <<'PY'
import collections, json, re, sys
run = sys.argv[1]
WHERE = (("wait_up", "waiting for the upstream (wait_up)"),
         ("curl_multi_poll", "waiting for the upstream (curl_multi_poll)"),
         ("client_fill", "waiting for the client (client_fill)"),
         ("client_sendv", "sending to the client (client_sendv)"),
         ("accept4", "accept"), ("curl_", "in libcurl"), ("Curl_", "in libcurl"))
rows, n = collections.Counter(), {}
for c in sys.argv[2:]:
    n[c] = json.load(open("%s/c%s.pwrk" % (run, c)))["requests"]
    for blk in open("%s/c%s.sched" % (run, c)).read().split("\n\n"):
        m = re.search(r"prev_state=(\S+)", blk)
        if not m:
            continue
        kind = "voluntary" if m.group(1)[0] in "SD" else "involuntary"
        where = next((lab for line in blk.split("\n")[1:]
                      for k, lab in WHERE if k in line), "elsewhere")
        rows[(kind, where)] += 1 if c == sys.argv[2] else 0
        rows[(kind, where, c)] += 1
cs = sys.argv[2:]
print("\nWhere the workers switched (perf, sched:sched_switch with call "
      "stacks; requests: %s):\n" % ", ".join("c%s %d" % (c, n[c]) for c in cs))
print("| switch | where | %s |" % " | ".join("c%s / req" % c for c in cs))
print("|---|---|%s" % ("---:|" * len(cs)))
keys = sorted({k[:2] for k in rows if len(k) == 3},
              key=lambda k: -sum(rows[k + (c,)] for c in cs))
for k in keys:
    v = [rows[k + (c,)] / n[c] for c in cs]
    if max(v) >= 0.005:
        print("| %s | %s | %s |" % (k[0], k[1],
                                    " | ".join("%.2f" % x for x in v)))
PY
