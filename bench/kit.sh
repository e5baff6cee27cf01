#!/usr/bin/env bash
#
# kit.sh: the cross-check that ends `make bench`.  The shared benchmark
# kit (BENCH_KIT, ../shared/bench beside this checkout) measures the
# same scenarios with its own code, peers and clients: direct, nginx,
# the original Python tool, and this build installed with
# `make install DESTDIR=...`.  The kit is read-only, so it is copied to
# a scratch folder and run there; its table goes to
# bench/results/kit.md, its JSON beside it.  Without the kit (a
# checkout of its own), this says so and stops: the project's own
# benchmark has already run.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
OUT=${BENCH_KIT_OUT:-$HERE/results/kit.md}

if [ ! -x "$KIT/run.sh" ]; then
	echo "kit.sh: no shared kit at $KIT (set BENCH_KIT): cross-check skipped"
	exit 0
fi
RUN=$(mktemp -d /tmp/ogbench-kit.XXXXXX)
trap 'rm -rf "$RUN/root" "$RUN/kit"' EXIT
make -s -C "$ROOT" install DESTDIR="$RUN/root" >"$RUN/install.log" 2>&1 ||
	{ echo "kit.sh: make install failed, see $RUN/install.log"; exit 1; }
cp -r "$KIT" "$RUN/kit" && chmod -R u+w "$RUN/kit"
src=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "kit.sh: the shared kit on this build (source $src), about 8 minutes"
# The kit's S4 paths (/big, /upload) are no Ollama endpoint, so the
# policy counts them as manage; its keys are made as the project's own
# benchmark makes them, allowed every class.
(cd "$RUN/kit" && OLLAGUARD_DEFAULT_ALLOW=infer,read,manage \
    timeout 1800 ./run.sh --project "$RUN/root" --out "$RUN/kit.json") \
    >"$RUN/kit.out" 2>"$RUN/kit.log"
rc=$?
{
	echo "# The shared kit's cross-check"
	echo
	echo "\`$KIT/run.sh --project DESTDIR\` on a \`make install\` of source"
	echo "$src, $(date -u +%Y-%m-%dT%H:%M:%SZ), exit status $rc."
	echo
	echo '```'
	cat "$RUN/kit.out"
	echo '```'
} >"$OUT"
cp "$RUN/kit.json" "${OUT%.md}.json" 2>/dev/null
cat "$RUN/kit.out"
echo "kit.sh: table in $OUT; logs in $RUN"
exit $rc
