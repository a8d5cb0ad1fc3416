#!/bin/sh
# run-local.sh - durable acquire+release pairs on the local backend, with 1 and 64
# clients, against the ping round trip and one fsync measured in the same run (issue 7).
# Run from the build directory (`make bench-local`).
#
# Environment: BENCH_SECONDS (per point, default 3), BENCH_CLIENTS (default 1,64),
# BENCH_STATE_DIR (where the log lives, default a fresh directory under $TMPDIR or /tmp;
# it must be on the disk you care about: tmpfs makes fsync free), LOCALBENCH, OCTOSTORED.
set -u

builddir=${top_builddir:-$(pwd)}
localbench=${LOCALBENCH:-$builddir/bench/localbench}
octostored=${OCTOSTORED:-$builddir/daemon/octostored}
seconds=${BENCH_SECONDS:-3}
clients=${BENCH_CLIENTS:-1,64}

dir=$(mktemp -d "${TMPDIR:-/tmp}/localbench.XXXXXX") || exit 1
state=${BENCH_STATE_DIR:-$dir/state}
mkdir -p "$state" || exit 1
daemon_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	rm -rf "$dir"
	[ -n "${BENCH_STATE_DIR:-}" ] && rm -f "$state/locks.wal"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$octostored" --socket "$dir/sock" --config /dev/null --backend=local \
    --state-dir "$state" --log-level info >"$dir/octostored.log" 2>&1 &
daemon_pid=$!
i=0
until [ -S "$dir/sock" ]; do
	if ! kill -0 "$daemon_pid" 2>/dev/null || [ "$i" -ge 100 ]; then
		echo "run-local: octostored did not start" >&2
		cat "$dir/octostored.log" >&2
		exit 1
	fi
	sleep 0.05
	i=$((i + 1))
done

echo "# $(uname -srm), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# state directory $state ($(df -T "$state" | awk 'NR == 2 { print $2 }'))"
"$localbench" -t "$seconds" -c "$clients" "$dir/sock" "$state"
status=$?
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	echo "run-local: octostored died" >&2
	cat "$dir/octostored.log" >&2
	status=1
fi
# Stop the daemon to read its group commit count.
kill "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
grep -o 'local: [0-9]* fsyncs.*' "$dir/octostored.log"
exit "$status"
