# lib.sh: what run.sh and syscalls.sh share: starting and stopping the
# processes under test (and only those), templates, probes.  Sourced;
# expects HERE, PY, RUN, RES, ACCESS_LOG, NG_KEY, MASTER, OGD and the
# P_UP_* ports to be set (and DUR, WARM for wrk_run), and sets the EXIT
# trap.

PIDS=()
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
rec() { printf '{"k":"%s","v":%s}\n' "$1" "$2" >>"$RES"; }
probe() { $PY "$HERE/procstat.py" tree "$1"; }

cleanup() {
	local p all=() i alive
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		all+=($($PY "$HERE/procstat.py" pids "$p" 2>/dev/null))
	done
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 50; i++)); do
		alive=0
		for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	# Keep the ends of the logs; drop access logs, key lists, databases
	# and the binaries' copies, which run to hundreds of megabytes.
	rm -rf "$RUN"/*.json "$RUN"/og/*.json "$RUN"/og/*.db* \
	    "$RUN"/*/keys.map "$RUN"/*/access.log "$RUN"/bin
	for p in "$RUN"/*.log; do
		[ -f "$p" ] || continue
		tail -n 200 "$p" >"$p.tail" && mv "$p.tail" "$p"
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD... : runs CMD in the background, output in $RUN/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$RUN/$name.log" 2>&1 &
	LASTPID=$!
	PIDS+=("$LASTPID")
}
stop() { # PID: TERM, then wait at most 10 s for the tree
	local p all i
	all=$($PY "$HERE/procstat.py" pids "$1" 2>/dev/null)
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	for p in $all; do kill -KILL "$p" 2>/dev/null; done
	wait "$1" 2>/dev/null
	# Forget it, so cleanup never signals a reused pid.
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$1" ] && unset "PIDS[$i]"
	done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # PORT [SECONDS]
	local i
	for ((i = 0; i < ${2:-15} * 20; i++)); do
		port_open "$1" && return 0
		sleep 0.05
	done
	log "port $1 did not open"
	return 1
}
fill() { # TEMPLATE OUT NAME=VALUE ...
	$PY - "$@" <<-'EOF'
	import sys
	t = open(sys.argv[1]).read()
	for kv in sys.argv[3:]:
	    k, _, v = kv.partition("=")
	    t = t.replace("@" + k + "@", v)
	open(sys.argv[2], "w").write(t)
	EOF
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
host_cpu() { awk '/^cpu /{ print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

nginx_peer() { # NAME PORT_FAST PORT_STREAM NKEYS; sets LASTPID, STARTUP_S
	local d=$RUN/$1 n=$4 size=2048 t0
	mkdir -p "$d"
	[ "$n" -gt 1000 ] && size=$((n * 2))
	$PY - "$n" "$NG_KEY" >"$d/keys.map" <<-'EOF'
	import secrets, sys
	n, key = int(sys.argv[1]), sys.argv[2]
	out = sys.stdout
	for _ in range(n - 1):
	    out.write('"Bearer ogb-%s" 1;\n' % secrets.token_hex(20))
	out.write('"Bearer %s" 1;\n' % key)
	EOF
	local al=off
	[ "$ACCESS_LOG" = on ] && al="$d/access.log"
	# NG_CERT and NG_CERT_KEY set: both ports speak TLS only.
	local ssl= tls=
	[ -n "${NG_CERT-}" ] && ssl="ssl " && tls="ssl_certificate $NG_CERT;
	ssl_certificate_key $NG_CERT_KEY;"
	fill "$HERE/conf/peer-nginx.conf.in" "$d/nginx.conf" DIR="$d" \
	    ACCESS_LOG="$al" MAP_SIZE=$size UP_FAST=$P_UP_FAST \
	    UP_STREAM=$P_UP_STREAM PORT_FAST=$2 PORT_STREAM=$3 SSL="$ssl" \
	    TLS="$tls"
	t0=$(now)
	start "$1" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
	    -g 'daemon off;'
	wait_port "$2" 120 && wait_port "$3" || return 1
	STARTUP_S=$(since "$t0")
}

og_start() { # NAME PORT TARGET_PORT DB [FLAG ...]; sets LASTPID
	local name=$1 port=$2 target=$3 db=$4
	shift 4
	local al=()
	[ "$ACCESS_LOG" = off ] && al=(--access-log off)
	start "$name" env -u OLLAGUARD_CONFIG -u MASTER_KEY \
	    -u MASTER_KEY_FILE -u OLLAGUARD_DB -u OLLAGUARD_WORKERS \
	    "$OGD" --host 127.0.0.1 --port "$port" \
	    --target-url "http://127.0.0.1:$target" --db "$db" \
	    --master-key "$MASTER" --user root "${al[@]}" "$@"
	wait_port "$port" 60
}

rand() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The fake Ollamas: ogb-upstream (streams, bulk), and nginx answering
# /api/tags with ogb-upstream's own body; they set UP_STREAM_PID and
# UP_FAST_PID.  upstreams_start starts both.
stream_upstream_start() {
	start up-stream "$UPSTREAM" -a 127.0.0.1 -p $P_UP_STREAM
	UP_STREAM_PID=$LASTPID
	wait_port $P_UP_STREAM
}
fast_upstream_start() {
	local tags
	tags=$(timeout 5 curl -sf http://127.0.0.1:$P_UP_STREAM/api/tags) ||
	    { log "ogb-upstream does not answer"; return 1; }
	mkdir -p "$RUN/up"
	fill "$HERE/conf/upstream-nginx.conf.in" "$RUN/up/nginx.conf" \
	    DIR="$RUN/up" PORT=$P_UP_FAST TAGS="$tags"
	start up-fast nginx -p "$RUN/up" -e "$RUN/up/error.log" \
	    -c "$RUN/up/nginx.conf" -g 'daemon off;'
	UP_FAST_PID=$LASTPID
	wait_port $P_UP_FAST
}
upstreams_start() {
	stream_upstream_start && fast_upstream_start
}

# keys_make DB: ten keys made with ollaguard-keyctl; sets OG_KEY to one,
# allowed the manage class too (S4's /big and /upload are not Ollama's).
keys_make() {
	local i
	OG_KEY=$(timeout 30 "$KCTL" --db "$1" add --name bench \
	    --allow read,infer,manage 2>/dev/null)
	for ((i = 1; i < 10; i++)); do
		timeout 30 "$KCTL" --db "$1" add --name "user$i" >/dev/null \
		    2>&1
	done
	[ -n "$OG_KEY" ] || { log "ollaguard-keyctl add printed no key"; \
	    return 1; }
}

# wrk_run NAME PORT CONNS KEY PID: a warm-up, then the measured run; the
# record has wrk's counts, the tree's CPU time per request and the
# host's busy share.  SCHEME=https measures over TLS.
wrk_run() {
	local name=$1 port=$2 c=$3 key=$4 pid=$5 out p0 p1 h0 h1
	OGB_KEY=$key timeout $((WARM + 20)) wrk -t1 -c"$c" -d"${WARM}s" \
	    --timeout 5s -s "$HERE/wrk.lua" \
	    "${SCHEME:-http}://127.0.0.1:$port/api/tags" >/dev/null 2>&1
	sleep 1
	p0=$(probe "$pid")
	h0=$(host_cpu)
	out=$(OGB_KEY=$key timeout $((DUR + 30)) wrk -t1 -c"$c" \
	    -d"${DUR}s" --timeout 5s -s "$HERE/wrk.lua" \
	    "${SCHEME:-http}://127.0.0.1:$port/api/tags" 2>&1 | sed -n 's/^OGB //p')
	h1=$(host_cpu)
	p1=$(probe "$pid")
	[ -n "$out" ] || out='{"requests":0,"rps":0,"failed":1}'
	rec "$name" "$($PY - "$out" "$p0" "$p1" "$h0" "$h1" <<-'EOF'
	import json, sys
	w, p0, p1 = (json.loads(a) for a in sys.argv[1:4])
	b0, t0 = map(float, sys.argv[4].split())
	b1, t1 = map(float, sys.argv[5].split())
	w["cpu_s"] = round(p1["cpu_s"] - p0["cpu_s"], 3)
	w["cpu_us_per_req"] = round(1e6 * w["cpu_s"] / w["requests"], 2) \
	    if w["requests"] else None
	w["host_busy_pct"] = round(100 * (b1 - b0) / max(t1 - t0, 1), 1)
	w["errors"] = sum(w.get(k, 0) for k in
	    ("connect", "read", "write", "timeout", "non2xx"))
	w["ctxsw_per_req"] = round((p1["ctxsw"] - p0["ctxsw"]) / w["requests"],
	    2) if w["requests"] else None
	w["nproc_after"] = p1["nproc"]
	w["pss_after_kb"] = p1["pss_kb"]
	print(json.dumps(w))
	EOF
	)"
	sleep 1
}
