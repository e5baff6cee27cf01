# scratch.sh: what the one-off benches (meter.sh, multi.sh, policy.sh)
# share: a scratch folder (TMP, removed at exit), --user root when run
# as root (USER_ARG), and stopping what they started (PIDS) on any
# exit.  Sourced, after HERE is set.

TMP=$(mktemp -d)
USER_ARG=
[ "$(id -u)" = 0 ] && USER_ARG="--user root"
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
