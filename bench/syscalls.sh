#!/usr/bin/env bash
#
# syscalls.sh: system calls per request of nginx's workers and
# ollaguardd's workers, for S1's request (GET /api/tags, keep-alive,
# one connection).  strace -c -f is attached to every worker of each
# proxy during a wrk run; the counts are divided by wrk's request count.
# strace slows the workers down, but not what they call per request.
# The same again with a wrong key: the cost of a 401.
# Then, where perf(1) works, a CPU profile of the same workers during
# another run (software clock, 4999 Hz, no call graphs): the share of
# samples in each binary or library, as microseconds per request.
# Writes both tables to bench/results/syscalls.md (BENCH_SYSCALLS_OUT).
#
#   BENCH_BUILD, BENCH_PORT_BASE, BENCH_ACCESS_LOG: as for run.sh
#   BENCH_SYSCALLS_SECONDS  length of each traced run (3)
#   BENCH_SYSCALLS_CONNS    wrk connections (1)

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
PY=/usr/bin/python3
ACCESS_LOG=${BENCH_ACCESS_LOG:-on}
BASE=${BENCH_PORT_BASE:-19000}
SECS=${BENCH_SYSCALLS_SECONDS:-3}
CONNS=${BENCH_SYSCALLS_CONNS:-1}
OUT=${BENCH_SYSCALLS_OUT:-$HERE/results/syscalls.md}
OGD=$BUILD/ollaguardd
KCTL=$BUILD/ollaguard-keyctl
UPSTREAM=$BUILD/bench/ogb-upstream
P_UP_FAST=$((BASE + 80)) P_UP_STREAM=$((BASE + 81))
P_NG_FAST=$((BASE + 90)) P_NG_STREAM=$((BASE + 91))
P_OG_FAST=$((BASE + 10))

for t in wrk nginx strace timeout; do
	command -v $t >/dev/null ||
	    { echo "syscalls.sh: $t missing; run make bench-deps" >&2; exit 2; }
done
RUN=$(mktemp -d /tmp/ogbench-sys.XXXXXX)
RES=$RUN/results.jsonl
. "$HERE/lib.sh"
mkdir -p "$RUN/bin"
cp "$OGD" "$KCTL" "$RUN/bin/" || exit 1
OGD=$RUN/bin/ollaguardd KCTL=$RUN/bin/ollaguard-keyctl
SHA=$(sha256sum "$OGD" | cut -c1-12)

upstreams_start || exit 1
MASTER=ogb-master-$(rand)
NG_KEY=ogb-key-$(rand)
mkdir -p "$RUN/og"
keys_make "$RUN/og/keys10.db" || exit 1
nginx_peer nginx $P_NG_FAST $P_NG_STREAM 10 || exit 1
NG_PID=$LASTPID
# No --auth-fail-limit, so the reject run gets 401s, not 429s.
og_start og $P_OG_FAST $P_UP_FAST "$RUN/og/keys10.db" \
    --auth-fail-limit 0 || exit 1
OG_PID=$LASTPID
sleep 2

# traced NAME PORT KEY MASTER_PID: strace output in $RUN/NAME.strace,
# wrk's request count in $RUN/NAME.requests.
traced() {
	local name=$1 port=$2 key=$3 pid=$4 args=() w s
	OGB_KEY=$key timeout 20 wrk -t1 -c"$CONNS" -d1s -s "$HERE/wrk.lua" \
	    "http://127.0.0.1:$port/api/tags" >/dev/null 2>&1
	for w in $(pgrep -P "$pid"); do args+=(-p "$w"); done
	strace -c -f -qq -o "$RUN/$name.strace" "${args[@]}" &
	s=$!
	sleep 1
	OGB_KEY=$key timeout $((SECS + 20)) wrk -t1 -c"$CONNS" -d"${SECS}s" \
	    -s "$HERE/wrk.lua" "http://127.0.0.1:$port/api/tags" 2>&1 |
	    sed -n 's/^OGB //p' >"$RUN/$name.wrk"
	kill -INT $s
	wait $s
	log "$name: $(cat "$RUN/$name.wrk")"
}
# profiled NAME PORT KEY MASTER_PID: perf data in $RUN/NAME.perf.
profiled() {
	local name=$1 port=$2 key=$3 pid=$4 s
	perf record -q -e cpu-clock -F 4999 -o "$RUN/$name.perf" \
	    -p "$(pgrep -P "$pid" | paste -sd,)" >/dev/null 2>&1 &
	s=$!
	sleep 1
	OGB_KEY=$key timeout $((SECS + 20)) wrk -t1 -c"$CONNS" -d"${SECS}s" \
	    -s "$HERE/wrk.lua" "http://127.0.0.1:$port/api/tags" 2>&1 |
	    sed -n 's/^OGB //p' >"$RUN/$name.pwrk"
	kill -INT $s
	wait $s
	perf report -i "$RUN/$name.perf" --stdio --sort dso -g none -n \
	    2>/dev/null >"$RUN/$name.dso"
}
log "tracing nginx workers, $CONNS connection(s), ${SECS}s"
traced nginx $P_NG_FAST "$NG_KEY" $NG_PID
log "tracing ollaguardd workers, $CONNS connection(s), ${SECS}s"
traced ollaguardd $P_OG_FAST "$OG_KEY" $OG_PID
WRONG=ogb-wrong-$(rand)
log "tracing both with a wrong key (401), ${SECS}s each"
traced nginx-401 $P_NG_FAST "$WRONG" $NG_PID
traced ollaguardd-401 $P_OG_FAST "$WRONG" $OG_PID

if command -v perf >/dev/null && perf stat -e cpu-clock true \
    >/dev/null 2>&1; then
	log "profiling nginx workers, ${SECS}s"
	profiled nginx $P_NG_FAST "$NG_KEY" $NG_PID
	log "profiling ollaguardd workers, ${SECS}s"
	profiled ollaguardd $P_OG_FAST "$OG_KEY" $OG_PID
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$RUN" "$CONNS" >"$OUT" <<-'EOF'
import json, sys
run, conns = sys.argv[1], sys.argv[2]
T = ("nginx", "ollaguardd", "nginx-401", "ollaguardd-401")
per, req = {}, {}
for t in T:
    w = json.load(open("%s/%s.wrk" % (run, t)))
    req[t] = w["requests"]
    for line in open("%s/%s.strace" % (run, t)):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            calls = int(f[3])
            per.setdefault(f[-1], {})[t] = calls / max(req[t], 1)
names = sorted(per, key=lambda s: -max(per[s].values()))
print("# System calls per request (GET /api/tags, keep-alive, wrk -c%s)\n"
      % conns)
print("strace -c -f on every worker; requests: %s.  The -401 columns "
      "send a wrong key.\n" % ", ".join("%s %d" % (t, req[t]) for t in T))
print("| syscall | %s |" % " | ".join("%s / req" % t for t in T))
print("|---|%s" % ("---:|" * len(T)))
tot = dict.fromkeys(T, 0.0)
for s in names:
    v = per[s]
    if max(v.values()) < 0.005:
        continue
    for t in tot:
        tot[t] += v.get(t, 0)
    print("| %s | %s |" % (s, " | ".join("%.2f" % v.get(t, 0) for t in T)))
print("| **total** | %s |" % " | ".join("**%.2f**" % tot[t] for t in T))
import os
if not os.path.exists("%s/ollaguardd.dso" % run):
    sys.exit(0)
print("\n# Where the workers' CPU goes (perf, cpu-clock at 4999 Hz)\n")
print("Samples of the workers during a second run, by binary; us/req ="
      " samples / 4999 / requests, perf's own cost included.  With one "
      "connection every request sleeps and wakes, so the kernel row is "
      "mostly wake-ups and larger than under load; compare the "
      "user-space rows.\n")
print("| binary | nginx % | nginx us/req | ollaguardd % | ollaguardd us/req |")
print("|---|---:|---:|---:|---:|")
dso, n = {}, {}
for t in ("nginx", "ollaguardd"):
    n[t] = json.load(open("%s/%s.pwrk" % (run, t)))["requests"]
    for line in open("%s/%s.dso" % (run, t)):
        f = line.split()
        if len(f) == 3 and f[0].endswith("%") and f[1].isdigit():
            dso.setdefault(f[2], {})[t] = int(f[1])
tot = {t: sum(v.get(t, 0) for v in dso.values()) for t in n}
for d in sorted(dso, key=lambda d: -sum(dso[d].values())):
    cells = []
    for t in ("nginx", "ollaguardd"):
        c = dso[d].get(t, 0)
        cells += ["%.1f" % (100.0 * c / max(tot[t], 1)),
                  "%.2f" % (1e6 * c / 4999 / max(n[t], 1))]
    print("| %s | %s |" % (d, " | ".join(cells)))
print("| **total** | 100 | **%.2f** | 100 | **%.2f** |" % tuple(
    1e6 * tot[t] / 4999 / max(n[t], 1) for t in ("nginx", "ollaguardd")))
EOF
printf '\nollaguardd binary sha256 %s…, source %s.\n' "$SHA" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" >>"$OUT"
cat "$OUT"
