#!/usr/bin/env bash
#
# run.sh: the ollaguard benchmark.  Starts two fake Ollamas (nginx with a
# 1.3 KB /api/tags for S1, ogb-upstream for streams and bulk transfers),
# an nginx Bearer-key proxy and ollaguardd, runs scenarios S1-S6 and the
# auth-reject run against direct (the upstream itself), nginx and
# ollaguardd, prints one table and writes it to bench/results/latest.md.
#
# Run it through make (make bench, make bench-quick), which builds the
# daemon and the helpers first.  Settings, from the environment:
#
#   BENCH_QUICK=1           everything short: a smoke test, not a result
#   BENCH_BUILD             where ollaguardd, ollaguard-keyctl and
#                           bench/ogb-* are (default: ./build)
#   BENCH_DURATION          seconds of each measured wrk run (10; quick 2)
#   BENCH_WARMUP            seconds of wrk before each measured run (3; 1)
#   BENCH_DOWNLOAD_BYTES    S4 download (1 GiB; quick 64 MiB)
#   BENCH_UPLOAD_BYTES      S4 upload for MB/s (256 MiB; quick 32 MiB)
#   BENCH_BIG_UPLOAD_BYTES  S4 upload watched for memory growth
#                           (4 GiB; quick 256 MiB; the issue asks 5 GB)
#   BENCH_KEYS              S6 key count (1000000; quick 20000)
#   BENCH_S1_RUNS           S1 repetitions (3; quick 1)
#   BENCH_S2_ROUNDS         S2 streams per target, interleaved (10; quick 1)
#   BENCH_S3_RUNS           S3 repetitions (3; quick 1)
#   BENCH_ACCESS_LOG        on (default): nginx and ollaguardd both write
#                           an access log line per request to a file, as
#                           each does by default; off: neither does
#   BENCH_PORT_BASE         ports BASE+10..BASE+93 on 127.0.0.1 (19000)
#   BENCH_OUT               the table (bench/results/latest.md)
#
# Everything listens on 127.0.0.1 only.  Every client run is bounded by
# timeout(1), every wait loop by a count.  Only processes started here
# are signalled, with their descendants, on any exit.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
PY=/usr/bin/python3
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	q() { echo "$1"; }
else
	q() { echo "$2"; }
fi
DUR=${BENCH_DURATION:-$(q 2 10)}
WARM=${BENCH_WARMUP:-$(q 1 3)}
DL_BYTES=${BENCH_DOWNLOAD_BYTES:-$(q $((64 << 20)) $((1 << 30)))}
UL_BYTES=${BENCH_UPLOAD_BYTES:-$(q $((32 << 20)) $((256 << 20)))}
BIG_BYTES=${BENCH_BIG_UPLOAD_BYTES:-$(q $((256 << 20)) $((4 << 30)))}
NKEYS=${BENCH_KEYS:-$(q 20000 1000000)}
S3_RUNS=${BENCH_S3_RUNS:-$(q 1 3)}
S1_REPS=${BENCH_S1_RUNS:-$(q 1 3)}
XFER_RUNS=$(q 1 3)
S2_ROUNDS=${BENCH_S2_ROUNDS:-$(q 1 10)}
ACCESS_LOG=${BENCH_ACCESS_LOG:-on}
BASE=${BENCH_PORT_BASE:-19000}
OUT=${BENCH_OUT:-$HERE/results/latest.md}

OGD=$BUILD/ollaguardd
KCTL=$BUILD/ollaguard-keyctl
UPSTREAM=$BUILD/bench/ogb-upstream
STREAMS=$BUILD/bench/ogb-streams

P_UP_FAST=$((BASE + 80)) P_UP_STREAM=$((BASE + 81))
P_NG_FAST=$((BASE + 90)) P_NG_STREAM=$((BASE + 91))
P_NG_BIG=$((BASE + 92)) P_NG_BIG_S=$((BASE + 93))
P_OG_FAST=$((BASE + 10)) P_OG_STREAM=$((BASE + 11))
P_OG_NOLIM=$((BASE + 12)) P_OG_AUTH=$((BASE + 13)) P_OG_BIG=$((BASE + 14))
P_OG_SIZED=$((BASE + 15)) P_OG_S3=$((BASE + 16)) P_OG_AUTHBIG=$((BASE + 17))

for f in "$OGD" "$KCTL" "$UPSTREAM" "$STREAMS"; do
	[ -x "$f" ] || { echo "run.sh: $f missing; run make bench" >&2; exit 2; }
done
for t in wrk nginx timeout; do
	command -v $t >/dev/null ||
	    { echo "run.sh: $t missing; run make bench-deps" >&2; exit 2; }
done
[ -x $PY ] || { echo "run.sh: $PY missing" >&2; exit 2; }

RUN=$(mktemp -d /tmp/ogbench.XXXXXX)
RES=$RUN/results.jsonl
: >"$RES"
. "$HERE/lib.sh"

for p in $P_UP_FAST $P_UP_STREAM $P_NG_FAST $P_NG_STREAM $P_NG_BIG \
    $P_NG_BIG_S $P_OG_FAST $P_OG_STREAM $P_OG_NOLIM $P_OG_AUTH $P_OG_BIG \
    $P_OG_SIZED $P_OG_S3 $P_OG_AUTHBIG; do
	port_open $p && { echo "run.sh: port $p is in use" \
	    "(set BENCH_PORT_BASE)" >&2; exit 2; }
done
log "run directory $RUN$([ "$QUICK" = 1 ] && echo '; QUICK mode')"
# One run, one binary: others may rebuild build/ while this runs.
mkdir -p "$RUN/bin"
cp "$OGD" "$KCTL" "$RUN/bin/" || exit 1
OGD=$RUN/bin/ollaguardd KCTL=$RUN/bin/ollaguard-keyctl
SOURCE=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" \
    diff --quiet HEAD -- common ollaguardd ollaguard-keyctl 2>/dev/null ||
    echo +changes)

# ------------------------------------------------------------ S5, S6 idle
# Idle memory first, each proxy alone: PSS splits a shared page among
# every process that maps it, so a second copy of the same program
# running beside it would halve its figure.  Only ogb-upstream (another
# program) runs meanwhile.
stream_upstream_start || exit 1
MASTER=ogb-master-$(rand)
WRONG=ogb-wrong-$(rand)
NG_KEY=ogb-key-$(rand)
mkdir -p "$RUN/og"
OGDB=$RUN/og/keys10.db
keys_make "$OGDB" || exit 1

log "S6: generating $NKEYS keys"
$PY - "$NKEYS" >"$RUN/og/keys.json" <<-'EOF'
import json, secrets, sys
n = int(sys.argv[1])
json.dump(["ogb-" + secrets.token_hex(20) for _ in range(n - 1)], sys.stdout)
EOF
OGDB_BIG=$RUN/og/keysbig.db
log "S6: ollaguard-keyctl import of $NKEYS keys"
t0=$(now)
timeout 900 "$KCTL" --db "$OGDB_BIG" import "$RUN/og/keys.json" \
    >"$RUN/og/import.log" 2>&1
irc=$?
rec s6_import "{\"rc\":$irc,\"seconds\":$(since "$t0"),\"keys\":$NKEYS,\"db_bytes\":$(stat -c %s "$OGDB_BIG" 2>/dev/null || echo 0)}"
OG_BIG_KEY=$(timeout 30 "$KCTL" --db "$OGDB_BIG" add --name bench 2>/dev/null)

# idle NAME PORT KEY PID: one request through it, a pause, the probe.
idle() {
	local ok
	ok=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $3" http://127.0.0.1:$2/api/tags)
	[ "$ok" = 200 ] || log "$1: the idle probe's request got $ok"
	sleep 2
	rec "$1" "$($PY "$HERE/procstat.py" tree $4 --alone)"
}
log "S5: ollaguardd idle at defaults, 10 keys"
og_start og-idle $P_OG_STREAM $P_UP_STREAM "$OGDB" || exit 1
OG_IDLE_PID=$LASTPID
idle s5_ollaguardd $P_OG_STREAM "$OG_KEY" $OG_IDLE_PID
stop $OG_IDLE_PID
log "S6: ollaguardd idle at defaults, $NKEYS keys"
t0=$(now)
og_start og-big-idle $P_OG_BIG $P_UP_STREAM "$OGDB_BIG" || exit 1
rec s6_startup_ollaguardd "{\"seconds\":$(since "$t0")}"
OG_BIG_IDLE_PID=$LASTPID
idle s6_idle_ollaguardd $P_OG_BIG "$OG_BIG_KEY" $OG_BIG_IDLE_PID
stop $OG_BIG_IDLE_PID
log "S5: nginx idle"
nginx_peer nginx $P_NG_FAST $P_NG_STREAM 10 || exit 1
NG_PID=$LASTPID
idle s5_nginx $P_NG_STREAM "$NG_KEY" $NG_PID

# ------------------------------------------------------------ the rest
fast_upstream_start || exit 1
og_start og-fast $P_OG_FAST $P_UP_FAST "$OGDB" || exit 1
OG_PID=$LASTPID
og_start og-stream $P_OG_STREAM $P_UP_STREAM "$OGDB" || exit 1
OG_STREAM_PID=$LASTPID

declare -A FAST STREAM PID KEY TREE
FAST[direct]=$P_UP_FAST STREAM[direct]=$P_UP_STREAM
FAST[nginx]=$P_NG_FAST STREAM[nginx]=$P_NG_STREAM
FAST[ollaguardd]=$P_OG_FAST STREAM[ollaguardd]=$P_OG_STREAM
PID[direct]=$UP_FAST_PID PID[nginx]=$NG_PID PID[ollaguardd]=$OG_PID
TREE[direct]=$UP_STREAM_PID TREE[nginx]=$NG_PID
TREE[ollaguardd]=$OG_STREAM_PID
KEY[direct]=$OG_KEY KEY[nginx]=$NG_KEY KEY[ollaguardd]=$OG_KEY
TARGETS=(direct nginx ollaguardd)

# A key must pass and a missing key must not, or nothing below means
# anything.
sleep 2
for t in "${TARGETS[@]}"; do
	for port in ${FAST[$t]} ${STREAM[$t]}; do
		ok=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' \
		    -H "Authorization: Bearer ${KEY[$t]}" \
		    http://127.0.0.1:$port/api/tags)
		no=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' \
		    http://127.0.0.1:$port/api/tags)
		log "sanity $t :$port: with key $ok, without $no"
		[ "$ok" = 200 ] || { log "the key is refused"; exit 1; }
		[ $t = direct ] || [ "$no" = 401 ] ||
		    { log "a missing key passes"; exit 1; }
	done
done

# ------------------------------------------------------------ S6 set-up
# The key-count comparison runs inside S1's loop below: "sized" (10 keys)
# and "big" ($NKEYS keys) are the same daemon with the same pool, kept
# at 72 workers, so only the database differs.
og_start og-big $P_OG_BIG $P_UP_FAST "$OGDB_BIG" --workers 72 \
    --max-spare 72 || exit 1
FAST[big]=$P_OG_BIG PID[big]=$LASTPID KEY[big]=$OG_BIG_KEY

# ------------------------------------------------------------ S1
# A second ollaguardd with a pool sized for 64 connections and kept so
# (the README's advice: a worker per client at once), to tell the cost
# of a request from the cost of growing the pool.
og_start og-sized $P_OG_SIZED $P_UP_FAST "$OGDB" --workers 72 \
    --max-spare 72 || exit 1
OG_SIZED_PID=$LASTPID
FAST[sized]=$P_OG_SIZED PID[sized]=$OG_SIZED_PID KEY[sized]=$OG_KEY
# Repetitions go round the targets, so a drift of the host's speed
# spreads over all of them; the table takes the median.
for ((rep = 1; rep <= S1_REPS; rep++)); do
	for t in "${TARGETS[@]}" sized big; do
		for c in 16 64; do
			log "S1 $t: GET /api/tags, $c connections, ${DUR}s," \
			    "run $rep"
			wrk_run "s1_c${c}_${t}_r$rep" ${FAST[$t]} $c "${KEY[$t]}" \
			    ${PID[$t]}
		done
	done
done
stop $OG_SIZED_PID
stop ${PID[big]}

# ------------------------------------------------------------ S6 nginx
log "S6: nginx with a map of $NKEYS keys"
if nginx_peer nginx-big $P_NG_BIG $P_NG_BIG_S "$NKEYS"; then
	NG_BIG_PID=$LASTPID
	rec s6_startup_nginx "{\"seconds\":$STARTUP_S}"
	sleep 1
	rec s6_idle_nginx "$(probe $NG_BIG_PID)"
	for c in 16 64; do
		log "S6 nginx, $NKEYS keys: $c connections, ${DUR}s"
		wrk_run "s6_c${c}_nginx_r1" $P_NG_BIG $c "$NG_KEY" $NG_BIG_PID
	done
	log "auth reject: nginx, $NKEYS keys, wrong key, 16 connections"
	wrk_run auth_big_nginx_r1 $P_NG_BIG 16 "$WRONG" $NG_BIG_PID
	stop $NG_BIG_PID
fi


# ------------------------------------------------------------ auth reject
log "auth reject: nginx, wrong key, 16 connections, ${DUR}s"
wrk_run auth_nginx_r1 $P_NG_FAST 16 "$WRONG" $NG_PID
og_start og-auth $P_OG_AUTH $P_UP_FAST "$OGDB" --auth-fail-limit 0 || exit 1
OG_AUTH_PID=$LASTPID
log "auth reject: ollaguardd (--auth-fail-limit 0), wrong key, 16 connections"
wrk_run auth_ollaguardd_r1 $P_OG_AUTH 16 "$WRONG" $OG_AUTH_PID
stop $OG_AUTH_PID
# A miss is the one lookup that always reaches the database (valid keys
# are cached in each worker), so the reject run again on the big one.
og_start og-authbig $P_OG_AUTHBIG $P_UP_FAST "$OGDB_BIG" \
    --auth-fail-limit 0 || exit 1
OG_AUTHBIG_PID=$LASTPID
log "auth reject: ollaguardd, $NKEYS keys, wrong key, 16 connections"
wrk_run auth_big_r1 $P_OG_AUTHBIG 16 "$WRONG" $OG_AUTHBIG_PID
stop $OG_AUTHBIG_PID

# ------------------------------------------------------------ S2, S3
streams() { # NAME PORT KEY PATH CONNS ROUNDS
	local out
	out=$(timeout 300 "$STREAMS" -u "http://127.0.0.1:$2" -k "$3" \
	    -p "$4" -c "$5" -r "$6" -t 240)
	[ -n "$out" ] || out='{"streams":0,"complete":0,"failed":1}'
	rec "$1" "$out"
}
for ((i = 1; i <= S2_ROUNDS; i++)); do
	for t in "${TARGETS[@]}"; do
		log "S2 $t: one stream, 200 lines 5 ms apart, round $i"
		streams "s2_${t}_r$i" ${STREAM[$t]} "${KEY[$t]}" \
		    '/api/chat?n=200&ms=5' 1 1
	done
done
s3() { # TARGET PORT
	local i
	for ((i = 1; i <= S3_RUNS; i++)); do
		log "S3 $1: 256 streams of 20 lines 50 ms apart, run $i"
		streams "s3_$1_run$i" $2 "${KEY[$t]}" '/api/chat?n=20&ms=50' \
		    256 1
		sleep 2
	done
}
for t in "${TARGETS[@]}"; do
	s3 $t ${STREAM[$t]}
done
# The default --max-conns-per-ip (64) refuses the 65th connection from
# one address; S3 again without that cap shows what the pool does.
og_start og-nolimit $P_OG_NOLIM $P_UP_STREAM "$OGDB" \
    --max-conns-per-ip 0 || exit 1
OG_NOLIM_PID=$LASTPID
t=ollaguardd s3 ollaguardd_nolimit $P_OG_NOLIM
stop $OG_NOLIM_PID
# And with a pool made ready for all 256 before they come.
og_start og-s3 $P_OG_S3 $P_UP_STREAM "$OGDB" --max-conns-per-ip 0 \
    --workers 264 --max-spare 264 || exit 1
OG_S3_PID=$LASTPID
sleep 2
t=ollaguardd s3 ollaguardd_pool264 $P_OG_S3
stop $OG_S3_PID

# ------------------------------------------------------------ S4
for t in "${TARGETS[@]}"; do
	for ((i = 1; i <= XFER_RUNS; i++)); do
		log "S4 $t: download $DL_BYTES bytes, upload $UL_BYTES, run $i"
		rec "s4_dl_${t}_$i" "$(timeout 300 $PY "$HERE/xfer.py" get \
		    "http://127.0.0.1:${STREAM[$t]}/big?bytes=$DL_BYTES" \
		    "$DL_BYTES" "${KEY[$t]}")"
		rec "s4_ul_${t}_$i" "$(timeout 300 $PY "$HERE/xfer.py" post \
		    "http://127.0.0.1:${STREAM[$t]}/upload" "$UL_BYTES" \
		    "${KEY[$t]}")"
	done
	[ $t = direct ] && continue
	log "S4 $t: upload $BIG_BYTES bytes, memory watched"
	$PY "$HERE/procstat.py" watch ${TREE[$t]} "$RUN/watch-$t.out" &
	w=$!
	sleep 0.5
	rec "s4_big_$t" "$(timeout 900 $PY "$HERE/xfer.py" post \
	    "http://127.0.0.1:${STREAM[$t]}/upload" "$BIG_BYTES" "${KEY[$t]}")"
	sleep 0.3
	kill -TERM $w
	wait $w
	rec "s4_mem_$t" "$(cat "$RUN/watch-$t.out" 2>/dev/null || echo null)"
done

# ------------------------------------------------------------ report
cat >"$RUN/meta.json" <<EOF
{"nproc": $(nproc), "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)",
 "kernel": "$(uname -r)", "mem_gib": $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo),
 "os": "$(. /etc/os-release && echo "$PRETTY_NAME")",
 "nginx": "$(nginx -v 2>&1 | sed 's/.*nginx\///')", "wrk": "$(wrk -v 2>&1 | head -n1 | awk '{ print $2 }')",
 "ollaguardd": "$("$OGD" --version 2>&1 | head -n1)", "date": "$(date -u +%FT%TZ)",
 "source": "$SOURCE",
 "binary_sha256": "$(sha256sum "$OGD" | cut -c1-12)",
 "quick": $QUICK, "duration_s": $DUR, "warmup_s": $WARM, "download_bytes": $DL_BYTES,
 "upload_bytes": $UL_BYTES, "big_upload_bytes": $BIG_BYTES, "keys": $NKEYS,
 "s3_runs": $S3_RUNS, "s1_runs": $S1_REPS, "xfer_runs": $XFER_RUNS, "s2_rounds": $S2_ROUNDS,
 "access_log": "$ACCESS_LOG"}
EOF
mkdir -p "$(dirname "$OUT")"
$PY "$HERE/report.py" "$RES" "$RUN/meta.json" >"$OUT.tmp" &&
    mv "$OUT.tmp" "$OUT" && cat "$OUT"
cp "$RES" "$(dirname "$OUT")/latest.jsonl"
log "raw results $(dirname "$OUT")/latest.jsonl; logs in $RUN"
