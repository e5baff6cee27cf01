#!/usr/bin/env bash
#
# tls.sh: what serving TLS costs ollaguardd, against nginx serving the
# same certificate (an EC P-256 one made here with openssl).  Both sit in
# front of run.sh's fake Ollamas with the same keys as in run.sh:
#
#   S1  wrk, GET /api/tags over keep-alive https, 16 connections
#   S4  curl, one download of BENCH_DOWNLOAD_BYTES over https
#
# Runs go round the two targets BENCH_TLS_RUNS times (3) and the table
# takes the medians: req/s, CPU of the proxy's process tree per request
# (per GiB for S4) and ollaguardd's ratio to nginx.  Run it through make
# (make bench-tls); BENCH_DURATION (10), BENCH_WARMUP (3),
# BENCH_DOWNLOAD_BYTES (1 GiB), BENCH_ACCESS_LOG (on) as in run.sh;
# ports BENCH_PORT_BASE+300.. (19300..); the table goes to
# bench/results/tls.md (BENCH_OUT).
#
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
PY=/usr/bin/python3
DUR=${BENCH_DURATION:-10}
WARM=${BENCH_WARMUP:-3}
DL_BYTES=${BENCH_DOWNLOAD_BYTES:-$((1 << 30))}
RUNS=${BENCH_TLS_RUNS:-3}
ACCESS_LOG=${BENCH_ACCESS_LOG:-on}
BASE=$(( ${BENCH_PORT_BASE:-19000} + 300 ))
OUT=${BENCH_OUT:-$HERE/results/tls.md}
OGD=$BUILD/ollaguardd
KCTL=$BUILD/ollaguard-keyctl
UPSTREAM=$BUILD/bench/ogb-upstream
P_UP_FAST=$((BASE + 1)) P_UP_STREAM=$((BASE + 2))
P_NG_FAST=$((BASE + 3)) P_NG_STREAM=$((BASE + 4))
P_OG_FAST=$((BASE + 5)) P_OG_STREAM=$((BASE + 6))

for t in wrk nginx curl openssl timeout; do
	command -v $t >/dev/null ||
	    { echo "tls.sh: $t missing; run make bench-deps" >&2; exit 2; }
done
RUN=$(mktemp -d /tmp/ogbench-tls.XXXXXX)
RES=$RUN/results.jsonl
. "$HERE/lib.sh"

log "run directory $RUN"
mkdir -p "$RUN/pki" "$RUN/og"
( cd "$RUN/pki" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -nodes -days 2 -subj /CN=localhost -addext \
      subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem \
      -out cert.pem ) >"$RUN/pki/openssl.log" 2>&1 ||
    { log "openssl failed"; exit 1; }
CERT=$RUN/pki/cert.pem CERT_KEY=$RUN/pki/key.pem

upstreams_start || exit 1
MASTER=ogb-master-$(rand)
NG_KEY=ogb-key-$(rand)
keys_make "$RUN/og/keys.db" || exit 1
NG_CERT=$CERT NG_CERT_KEY=$CERT_KEY nginx_peer nginx $P_NG_FAST \
    $P_NG_STREAM 10 || exit 1
NG_PID=$LASTPID
og_start og-fast $P_OG_FAST $P_UP_FAST "$RUN/og/keys.db" \
    --tls-cert "$CERT" --tls-key "$CERT_KEY" || exit 1
OG_PID=$LASTPID
og_start og-stream $P_OG_STREAM $P_UP_STREAM "$RUN/og/keys.db" \
    --tls-cert "$CERT" --tls-key "$CERT_KEY" || exit 1
OG_STREAM_PID=$LASTPID

declare -A FAST STREAM PID TREE KEY
FAST[nginx]=$P_NG_FAST STREAM[nginx]=$P_NG_STREAM
FAST[ollaguardd]=$P_OG_FAST STREAM[ollaguardd]=$P_OG_STREAM
PID[nginx]=$NG_PID PID[ollaguardd]=$OG_PID
TREE[nginx]=$NG_PID TREE[ollaguardd]=$OG_STREAM_PID
KEY[nginx]=$NG_KEY KEY[ollaguardd]=$OG_KEY

# Over https with the certificate checked, a key passes and no key does
# not, or nothing below means anything.
sleep 2
for t in nginx ollaguardd; do
	for port in ${FAST[$t]} ${STREAM[$t]}; do
		ok=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' \
		    --cacert "$CERT" -H "Authorization: Bearer ${KEY[$t]}" \
		    https://localhost:$port/api/tags)
		no=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' \
		    --cacert "$CERT" https://localhost:$port/api/tags)
		log "sanity $t :$port: with key $ok, without $no"
		[ "$ok" = 200 ] && [ "$no" = 401 ] || exit 1
	done
done

# download NAME PORT KEY PID: one S4 download with curl, the tree's CPU.
download() {
	local out p0 p1
	p0=$(probe "$4")
	out=$(timeout 300 curl -s -o /dev/null --cacert "$CERT" \
	    -H "Authorization: Bearer $3" -w '%{http_code} %{size_download} %{time_total}' \
	    "https://localhost:$2/big?bytes=$DL_BYTES")
	p1=$(probe "$4")
	rec "$1" "$($PY - "$out" "$p0" "$p1" <<-'EOF'
	import json, sys
	code, size, secs = sys.argv[1].split()
	p0, p1 = (json.loads(a) for a in sys.argv[2:4])
	cpu = p1["cpu_s"] - p0["cpu_s"]
	print(json.dumps({"status": int(code), "bytes": int(size),
	    "mbps": round(int(size) / float(secs) / 1e6, 1),
	    "cpu_s_per_gib": round(cpu * (1 << 30) / max(int(size), 1), 3)}))
	EOF
	)"
}

SCHEME=https
for ((i = 1; i <= RUNS; i++)); do
	for t in nginx ollaguardd; do
		log "S1 $t: GET /api/tags over https, 16 connections, run $i"
		wrk_run "s1_${t}_r$i" ${FAST[$t]} 16 "${KEY[$t]}" ${PID[$t]}
		log "S4 $t: download $DL_BYTES bytes over https, run $i"
		download "s4_${t}_r$i" ${STREAM[$t]} "${KEY[$t]}" ${TREE[$t]}
	done
done

# ------------------------------------------------------------ report
mkdir -p "$(dirname "$OUT")"
$PY - "$RES" "$(nproc)" "$(nginx -v 2>&1 | sed 's/.*nginx\///')" \
    "$(openssl version | awk '{ print $2 }')" "$DUR" "$DL_BYTES" "$RUNS" \
    >"$OUT.tmp" <<-'EOF' && mv "$OUT.tmp" "$OUT" && cat "$OUT"
import json, statistics, sys, time

res, nproc, ngv, sslv, dur, dl, runs = sys.argv[1:8]
recs = {}
for line in open(res):
    r = json.loads(line)
    recs[r["k"]] = r["v"]


def med(prefix, field):
    vals = [v[field] for k, v in recs.items()
            if k.startswith(prefix + "_r") and v.get(field) is not None]
    return statistics.median(vals) if vals else None


rows = [("S1 req/s", "s1", "rps", "%.0f"),
        ("S1 p99 latency (ms)", "s1", "p99_us", "%.2f"),
        ("S1 proxy CPU per request (µs)", "s1", "cpu_us_per_req", "%.1f"),
        ("S4 download (MB/s)", "s4", "mbps", "%.0f"),
        ("S4 proxy CPU per GiB (s)", "s4", "cpu_s_per_gib", "%.2f")]
errors = sum(v.get("errors", 0) for k, v in recs.items() if k[:2] == "s1")
bad = [k for k, v in recs.items() if k[:2] == "s4" and
       (v["status"] != 200 or v["bytes"] != int(dl))]
print(f"# TLS: ollaguardd and nginx on the same certificate\n\n"
      f"{time.strftime('%Y-%m-%d', time.gmtime())}, {nproc} CPUs, "
      f"OpenSSL {sslv}, nginx {ngv}; medians of {runs} runs; S1 {dur} s "
      f"of wrk -c16 keep-alive, S4 one curl download of {int(dl)} bytes.\n")
print("| | nginx TLS | ollaguardd TLS | ollaguardd / nginx |")
print("|---|---:|---:|---:|")
for name, s, f, fmt in rows:
    n, o = med(f"{s}_nginx", f), med(f"{s}_ollaguardd", f)
    if f == "p99_us":
        n, o = n and n / 1000, o and o / 1000
    cell = lambda x: fmt % x if x is not None else "-"
    ratio = "%.2f" % (o / n) if n and o else "-"
    print(f"| {name} | {cell(n)} | {cell(o)} | {ratio} |")
print(f"\nS1 errors (all runs): {errors}; S4 runs short or not 200: "
      f"{len(bad)}")
EOF
cp "$RES" "$(dirname "$OUT")/tls.jsonl"
log "logs in $RUN"
