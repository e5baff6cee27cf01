#!/bin/sh
#
# run.sh: both programs under valgrind's memcheck.
#
# The daemon runs with one worker in front of the end-to-end tests' stub
# upstream and serves about fifty requests (keys that pass and keys that
# do not, /key/generate, Content-Length and chunked bodies, streamed
# answers, pipelined and malformed requests); then SIGTERM stops it.
# Then ollaguard-keyctl runs add, list, revoke, export and import.  Every
# process, the daemon's forked workers included, writes its own log; the
# run fails if any of them reports an error: an invalid read or write,
# a jump on uninitialised memory, a bad free, or a block definitely lost.
#
#   tests/valgrind/run.sh [build-directory]      (default: build)
#
# The build must be a plain one: valgrind cannot run ASan binaries.
# VALGRIND overrides the valgrind command; KEEP=1 keeps the logs.

set -eu

BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}
VALGRIND=${VALGRIND:-valgrind}
MASTER=mk-valgrind-0123456789abcdefghijklmnopqrstuvwxyz

command -v "$VALGRIND" >/dev/null || { echo "run.sh: no valgrind" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh: no curl" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ollaguard-valgrind.XXXXXX")
STUB_PID=
DAEMON_PID=

cleanup() {
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null || true
	[ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "run.sh: logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Each process logs to vg.<pid>.log; forked workers are followed (fork
# needs no --trace-children, exec does) and speak after the fork.
VG="$VALGRIND --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes --trace-children=yes
    --child-silent-after-fork=no --error-exitcode=99
    --log-file=$TMP/vg.%p.log"

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The stub upstream of the end-to-end tests, in a process of its own,
# with its streams let through at once.
"$PYTHON" - "$REPO/tests/e2e" "$TMP/stub.port" <<'EOF' &
import os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
import stub_upstream
stub = stub_upstream.StubUpstream().start()
for gate in ("ndjson", "sse"):
    stub.release(gate)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(stub.port))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
done.wait()
stub.stop()
EOF
STUB_PID=$!
i=0
until [ -s "$TMP/stub.port" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "run.sh: the stub did not start" >&2; exit 1; }
	sleep 0.1
done
STUB_PORT=$(cat "$TMP/stub.port")

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
USER_OPT=
[ "$(id -u)" = 0 ] && USER_OPT="--user root"

# shellcheck disable=SC2086
$VG "$BUILD/ollaguardd" --host 127.0.0.1 --port "$PORT" \
    --target-url "http://127.0.0.1:$STUB_PORT" --master-key "$MASTER" \
    --db "$TMP/keys.db" --workers 1 --min-spare 1 --max-spare 1 \
    --max-workers 2 --auth-fail-limit 0 --timeout 30 $USER_OPT \
    >"$TMP/daemon.out" 2>&1 &
DAEMON_PID=$!

# Valgrind makes start-up slow: wait for the port.
i=0
until curl -s -o /dev/null "$URL/"; do
	i=$((i + 1))
	if [ $i -gt 120 ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "run.sh: the daemon did not start:" >&2
		cat "$TMP/daemon.out" >&2
		exit 1
	fi
	sleep 0.5
done

fails=0
# expect STATUS curl-arguments...: one request, its status checked.
expect() {
	want=$1
	shift
	got=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 60 "$@") ||
	    true
	if [ "$got" != "$want" ]; then
		echo "run.sh: got $got, expected $want: curl $*" >&2
		fails=$((fails + 1))
	fi
}
MK="Authorization: Bearer $MASTER"

# Keys: one made by the daemon, one that will be revoked.
expect 200 -X POST -H "$MK" -H 'Content-Type: application/json' \
    -d '{"name": "vg-user", "expires_in": "30d",
    "allow": ["read", "infer", "manage"]}' "$URL/key/generate"
KEY=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["key"])' "$TMP/body")
UK="Authorization: Bearer $KEY"
# A key with a model list and limits: bodies read whole, lists filtered.
expect 200 -X POST -H "$MK" -H 'Content-Type: application/json' \
    -d '{"name": "vg-team", "models": ["llama3"], "rpm": 1000,
    "concurrency": 4}' "$URL/key/generate"
TKEY=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["key"])' "$TMP/body")
TK="x-api-key: $TKEY"
expect 200 -H "$TK" -d '{"model": "llama3", "prompt": "hi"}' \
    "$URL/api/generate"
expect 403 -H "$TK" -d '{"model": "mistral"}' "$URL/api/generate"
expect 400 -H "$TK" -d '{"model": "a", "MODEL": "b"}' "$URL/api/generate"
expect 403 -H "$TK" -X POST "$URL/api/pull"
expect 200 -H "$TK" "$URL/api/ps"
expect 200 -H "$TK" "$URL/v1/models"
expect 200 -X POST -H "$MK" "$URL/key/generate"
expect 400 -X POST -H "$MK" -d '{"name": 5}' "$URL/key/generate"
expect 400 -X POST -H "$MK" -d 'not json' "$URL/key/generate"
expect 405 -H "$MK" "$URL/key/generate"
expect 401 -X POST -d '{}' "$URL/key/generate"
expect 403 -X POST -H "$UK" -d '{}' "$URL/key/generate"

# Forwarded requests, and refused ones.
for i in 1 2 3 4 5; do
	expect 200 -H "$UK" "$URL/api/tags"
	expect 200 -H "$MK" "$URL/api/tags?i=$i"
	expect 401 "$URL/api/tags"
	expect 401 -H 'Authorization: Bearer sk-wrong' "$URL/api/tags"
done
expect 401 -H 'Authorization: Basic dXNlcjpwYXNz' "$URL/api/tags"
expect 200 -H "$UK" -H 'Content-Type: application/json' \
    -d '{"model": "llama3", "prompt": "hi"}' "$URL/api/generate"
head -c 200000 /dev/zero | tr '\0' 'x' >"$TMP/big"
expect 200 -H "$UK" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$TMP/big" "$URL/api/chat"
expect 200 -H "$UK" -H 'Expect: 100-continue' \
    --data-binary "@$TMP/big" "$URL/api/chat"
expect 200 -H "$UK" "$URL/stream/ndjson"
expect 200 -H "$UK" "$URL/stream/sse"
expect 200 -H "$UK" --compressed "$URL/gzip"
expect 200 -H "$UK" "$URL/big-download?bytes=300000&chunked=1"
expect 200 -H "$UK" "$URL/hop-headers"
expect 200 -H "$UK" --http1.0 "$URL/api/tags"
expect 204 -X OPTIONS -H 'Origin: http://example.com' \
    -H 'Access-Control-Request-Method: POST' "$URL/cors"
expect 502 -H "$UK" "$URL/garbage"
expect 200200200 -H "$UK" "$URL/api/tags" -o /dev/null "$URL/api/tags?2" \
    -o /dev/null "$URL/api/tags?3"
expect 400 -H "$UK" -H 'Transfer-Encoding: gzip' -d x "$URL/api/chat"

# Raw bytes curl will not send: pipelined, malformed, cut off.
raw() {
	"$PYTHON" - "$PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
EOF
}
raw "GET /api/tags HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $KEY\r\n\r\nPOST /api/generate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $KEY\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"
raw "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"
raw "GET / HTTP/1.1\nHost: a\n\n"
raw "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
raw "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: a\r\n\r\n"
raw "POST /api/chat HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $KEY\r\nContent-Length: 100\r\n\r\ncut off"
raw "POST /api/chat HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $KEY\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"

# The revoked key fails at once, in the running worker.
# shellcheck disable=SC2086
$VG "$BUILD/ollaguard-keyctl" --db "$TMP/keys.db" revoke vg-user \
    >/dev/null || fails=$((fails + 1))
expect 401 -H "$UK" "$URL/api/tags"

kill -TERM "$DAEMON_PID"
i=0
while kill -0 "$DAEMON_PID" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 120 ]; then
		echo "run.sh: the daemon did not stop on SIGTERM" >&2
		exit 1
	fi
	sleep 0.5
done
wait "$DAEMON_PID" || { echo "run.sh: the daemon exited $?" >&2;
    fails=$((fails + 1)); }
DAEMON_PID=

# The admin tool, every command that touches memory worth checking.
keyctl() {
	# shellcheck disable=SC2086
	$VG "$BUILD/ollaguard-keyctl" "$@" >"$TMP/keyctl.out" 2>&1 || {
		echo "run.sh: ollaguard-keyctl $* failed:" >&2
		cat "$TMP/keyctl.out" >&2
		fails=$((fails + 1))
	}
}
keyctl --db "$TMP/keys.db" add --name vg-add --expires 7d
keyctl --db "$TMP/keys.db" add --prefix sk-
keyctl --db "$TMP/keys.db" list
keyctl --db "$TMP/keys.db" list --json
keyctl --db "$TMP/keys.db" revoke vg-add
keyctl --db "$TMP/keys.db" export "$TMP/export.json"
keyctl --db "$TMP/copy.db" import "$TMP/export.json"
keyctl --db "$TMP/copy.db" import "$TMP/export.json"
printf '["legacy-key-1", {"key": "legacy-key-2", "name": "old"}]' \
    >"$TMP/storage.json"
keyctl --db "$TMP/copy.db" import "$TMP/storage.json"
keyctl --db "$TMP/copy.db" list
keyctl help

# Every process's log: any error at all fails the run, and so does a
# log without its summary (the process never finished under valgrind).
n=0
bad=0
for log in "$TMP"/vg.*.log; do
	n=$((n + 1))
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$log" ||
	    grep -q 'definitely lost: [1-9]' "$log" ||
	    grep -Eq 'Invalid (read|write|free)|uninitialised' "$log"; then
		echo "== $log" >&2
		cat "$log" >&2
		bad=$((bad + 1))
	fi
done
echo "valgrind: $n processes, $bad with errors, $fails failed requests"
[ "$bad" = 0 ] && [ "$fails" = 0 ]
