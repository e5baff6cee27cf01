#!/usr/bin/env bash
#
# callgrind.sh: instructions per request of one ollaguardd worker, from
# valgrind's callgrind, for S1's request (GET /api/tags with a valid key)
# and for a 401 (a wrong key).  The daemon runs under valgrind with one
# worker; after a warm-up the counters are zeroed, wrk sends requests on
# one connection for BENCH_CALLGRIND_SECONDS, and the counters are dumped.
# Prints, per request, the total and the inclusive count of the daemon's
# main functions, and nginx's total for the same requests (the peer's
# configuration run as one process under callgrind); writes it to
# bench/results/callgrind.md.  Instruction
# counts do not depend on the host's load, so they show what a change to
# the hot path saved even on a busy machine.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
PY=/usr/bin/python3
ACCESS_LOG=${BENCH_ACCESS_LOG:-on}
BASE=${BENCH_PORT_BASE:-19000}
SECS=${BENCH_CALLGRIND_SECONDS:-5}
OUT=${BENCH_CALLGRIND_OUT:-$HERE/results/callgrind.md}
OGD=$BUILD/ollaguardd
KCTL=$BUILD/ollaguard-keyctl
UPSTREAM=$BUILD/bench/ogb-upstream
P_UP_FAST=$((BASE + 80)) P_UP_STREAM=$((BASE + 81))
P_OG_FAST=$((BASE + 10))

for t in wrk nginx valgrind callgrind_control callgrind_annotate timeout; do
	command -v $t >/dev/null ||
	    { echo "callgrind.sh: $t missing (apt-get install valgrind)" >&2;
	    exit 2; }
done
RUN=$(mktemp -d /tmp/ogbench-cg.XXXXXX)
RES=$RUN/results.jsonl
. "$HERE/lib.sh"
mkdir -p "$RUN/bin"
cp "$OGD" "$KCTL" "$RUN/bin/" || exit 1
OGD=$RUN/bin/ollaguardd KCTL=$RUN/bin/ollaguard-keyctl
SHA=$(sha256sum "$OGD" | cut -c1-12)

upstreams_start || exit 1
MASTER=ogb-master-$(rand)
mkdir -p "$RUN/og"
keys_make "$RUN/og/keys10.db" || exit 1
al=()
[ "$ACCESS_LOG" = off ] && al=(--access-log off)
start og valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$RUN/cg.%p" "$OGD" --host 127.0.0.1 \
    --port $P_OG_FAST --target-url http://127.0.0.1:$P_UP_FAST \
    --db "$RUN/og/keys10.db" --master-key "$MASTER" --user root \
    --workers 1 --min-spare 0 --max-spare 1 --max-workers 1 \
    --auth-fail-limit 0 "${al[@]}"
OG_PID=$LASTPID
wait_port $P_OG_FAST 60 || exit 1
sleep 2
OGB_KEY=$OG_KEY timeout 30 wrk -t1 -c1 -d2s -s "$HERE/wrk.lua" \
    http://127.0.0.1:$P_OG_FAST/api/tags >/dev/null 2>&1
# The master's pid is valgrind's; the worker is its child, the only one
# (--max-workers 1).  Should the pool still replace it, every child is
# zeroed and dumped, and the report takes the largest dump.
for t in ok reject; do
	key=$OG_KEY
	[ $t = reject ] && key=ogb-wrong-$(rand)
	W=$(pgrep -P $OG_PID)
	[ -n "$W" ] || { log "no worker"; exit 1; }
	for w in $W; do timeout 30 callgrind_control -z $w >/dev/null; done
	log "callgrind: $t, ${SECS}s"
	OGB_KEY=$key timeout $((SECS + 30)) wrk -t1 -c1 -d"${SECS}s" \
	    -s "$HERE/wrk.lua" http://127.0.0.1:$P_OG_FAST/api/tags 2>&1 |
	    sed -n 's/^OGB //p' >"$RUN/$t.wrk"
	for w in $W; do timeout 60 callgrind_control -d $t $w >/dev/null; done
done
stop $OG_PID

# nginx, the peer's configuration, as one process (no master) under
# callgrind: its totals per request, for scale.
NG_KEY=ogb-key-$(rand)
P_NG_FAST=$((BASE + 90)) P_NG_STREAM=$((BASE + 91))
d=$RUN/nginx
mkdir -p "$d"
printf '"Bearer %s" 1;\n' "$NG_KEY" >"$d/keys.map"
al=off
[ "$ACCESS_LOG" = on ] && al="$d/access.log"
fill "$HERE/conf/peer-nginx.conf.in" "$d/nginx.conf" DIR="$d" \
    ACCESS_LOG="$al" MAP_SIZE=2048 UP_FAST=$P_UP_FAST \
    UP_STREAM=$P_UP_STREAM PORT_FAST=$P_NG_FAST PORT_STREAM=$P_NG_STREAM \
    SSL= TLS=
start nginx valgrind --tool=callgrind --callgrind-out-file="$RUN/ng.%p" \
    nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
    -g 'daemon off; master_process off;'
NG_PID=$LASTPID
wait_port $P_NG_FAST 60 || exit 1
OGB_KEY=$NG_KEY timeout 30 wrk -t1 -c1 -d2s -s "$HERE/wrk.lua" \
    http://127.0.0.1:$P_NG_FAST/api/tags >/dev/null 2>&1
for t in ok reject; do
	key=$NG_KEY
	[ $t = reject ] && key=ogb-wrong-$(rand)
	timeout 30 callgrind_control -z $NG_PID >/dev/null
	log "callgrind: nginx $t, ${SECS}s"
	OGB_KEY=$key timeout $((SECS + 30)) wrk -t1 -c1 -d"${SECS}s" \
	    -s "$HERE/wrk.lua" http://127.0.0.1:$P_NG_FAST/api/tags 2>&1 |
	    sed -n 's/^OGB //p' >"$RUN/ng-$t.wrk"
	timeout 60 callgrind_control -d $t $NG_PID >/dev/null
done
stop $NG_PID

mkdir -p "$(dirname "$OUT")"
$PY - "$RUN" "$NG_PID" >"$OUT" <<-'EOF'
import glob, json, re, subprocess, sys
run = sys.argv[1]
FUNCS = ("worker_main", "proxy_forward", "exchange_run", "upconn_open",
         "headers_upstream", "exchange_take", "llhttp_execute",
         "accesslog_write", "client_read_head", "request_parse_head",
         "auth_check", "keystore_changed", "sqlite3_step", "refuse_key",
         "log_warnx", "reply_error_hdrs", "sb_set_what", "client_sendv")
print("# Instructions per request, one ollaguardd worker (callgrind)\n")
print("Inclusive counts (a function with all it calls), divided by wrk's "
      "request count.\n")
print("| function | valid key (200) | wrong key (401) |")
print("|---|---:|---:|")
col = {}
for t, trig in (("ok", "ok"), ("reject", "reject")):
    n = json.load(open("%s/%s.wrk" % (run, t)))["requests"]
    dumps = []
    for f in glob.glob("%s/cg.*.*" % run):
        text = open(f, errors="replace").read()
        m = re.search(r"^summary: (\d+)", text, re.M)
        if ("Trigger: dump %s\n" % trig) in text[:4096] and m:
            dumps.append((int(m.group(1)), f))
    if not dumps:
        continue
    dumps = [max(dumps)[1]]
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", dumps[0]], capture_output=True,
                         text=True).stdout
    tot = re.search(r"^([\d,]+) \S*\s*PROGRAM TOTALS", out, re.M) or \
        re.search(r"^([\d,]+)\s+PROGRAM TOTALS", out, re.M)
    col[t] = {"requests": n}
    if tot:
        col[t]["total"] = int(tot.group(1).replace(",", "")) / n
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \([\d. ]+%\)\s+\S*:(\w+)", line)
        if m and m.group(2).split(".")[0] in FUNCS:
            f = m.group(2).split(".")[0]
            col[t].setdefault(f, int(m.group(1).replace(",", "")) / n)
cell = lambda t, k: "%.0f" % col[t][k] if t in col and k in col[t] else "-"
print("| **all (program total)** | **%s** | **%s** |" % (
    cell("ok", "total"), cell("reject", "total")))
for f in FUNCS:
    if any(f in col.get(t, {}) for t in ("ok", "reject")):
        print("| %s | %s | %s |" % (f, cell("ok", f), cell("reject", f)))
print("\nrequests: %s valid, %s rejected" % (
    col.get("ok", {}).get("requests", "-"),
    col.get("reject", {}).get("requests", "-")))
ng = {}
for t in ("ok", "reject"):
    try:
        n = json.load(open("%s/ng-%s.wrk" % (run, t)))["requests"]
    except (OSError, ValueError):
        continue
    for f in glob.glob("%s/ng.%s.*" % (run, sys.argv[2])):
        head = open(f, errors="replace").read(4096)
        m = re.search(r"^summary: (\d+)", open(f, errors="replace").read(),
                      re.M)
        if ("Trigger: dump %s\n" % t) in head and m:
            ng[t] = int(m.group(1)) / n
if ng:
    print("\nnginx (the peer's configuration, one process, same requests): "
          "%s instructions per valid request, %s per 401." % (
              "%.0f" % ng["ok"] if "ok" in ng else "-",
              "%.0f" % ng["reject"] if "reject" in ng else "-"))
EOF
printf '\nollaguardd binary sha256 %s…, source %s.\n' "$SHA" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" >>"$OUT"
cat "$OUT"
