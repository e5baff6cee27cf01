#!/usr/bin/env bash
#
# connectonly.sh: instructions per proxied GET /api/tags in libcurl's two
# roads, from bench/connectonly.c under callgrind against ogb-upstream:
# curl_easy_perform() as proxy.c drives it, and CURLOPT_CONNECT_ONLY with
# curl_easy_send/recv and llhttp.  Counts only the request loop
# (--toggle-collect), after a warm-up request that connects.
#
#   BENCH_BUILD, BENCH_PORT_BASE: as for run.sh
#   BENCH_CONNECTONLY_N     requests per mode (2000)

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BENCH_BUILD:-$HERE/../build}
PORT=$(( ${BENCH_PORT_BASE:-19000} + 85 ))
N=${BENCH_CONNECTONLY_N:-2000}
RUN=$(mktemp -d /tmp/ogbench-co.XXXXXX)

"$BUILD/bench/ogb-upstream" -a 127.0.0.1 -p $PORT 2>"$RUN/up.log" &
UP=$!
trap 'kill $UP 2>/dev/null' EXIT
for i in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
	sleep 0.1
done
printf '| road | instructions per request |\n|---|---:|\n'
for m in perform connect; do
	valgrind --tool=callgrind --collect-atstart=no \
	    --toggle-collect=run_loop --callgrind-out-file="$RUN/$m.cg" \
	    "$BUILD/bench/ogb-connectonly" -n $N $m \
	    http://127.0.0.1:$PORT /api/tags >"$RUN/$m.out" 2>"$RUN/$m.err" ||
	    { echo "$m failed: $(tail -2 "$RUN/$m.err")" >&2; exit 1; }
	s=$(sed -n 's/^summary: //p' "$RUN/$m.cg")
	printf '| %s | %d |\n' $m $((s / N))
done
