#!/bin/sh
# run-ping.sh - ping round trips: octostored against the raw libevent echo server, then
# octostorectl start-up against /bin/true.  Run from the build directory (`make bench`).
#
# Environment: BENCH_SECONDS (per point, default 2), BENCH_ROUNDS (median of, default 3),
# BENCH_SPAWNS (default 200),
# BENCH_CONNS (default 1,8,64), BENCH_DEPTHS (default 1,16), and PINGBENCH, OCTOSTORED,
# OCTOSTORECTL to use other binaries.
set -u

builddir=${top_builddir:-$(pwd)}
pingbench=${PINGBENCH:-$builddir/bench/pingbench}
octostored=${OCTOSTORED:-$builddir/daemon/octostored}
seconds=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-3}
spawns=${BENCH_SPAWNS:-200}
conns=${BENCH_CONNS:-1,8,64}
depths=${BENCH_DEPTHS:-1,16}

dir=$(mktemp -d "${TMPDIR:-/tmp}/pingbench.XXXXXX") || exit 1
echo_pid=
daemon_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for p in $echo_pid $daemon_pid; do
		kill "$p" 2>/dev/null
	done
	for p in $echo_pid $daemon_pid; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait until a ping on socket $1 is answered; $2 is the server's pid, $3 its name.
wait_ready() {
	i=0
	while [ "$i" -lt 100 ]; do
		if "$pingbench" probe "$1"; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "run-ping: $3 exited before answering" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	echo "run-ping: $3 did not answer within 5 s" >&2
	return 1
}

echo "# $(uname -srm), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
status=0

"$pingbench" echo "$dir/echo.sock" &
echo_pid=$!
wait_ready "$dir/echo.sock" "$echo_pid" "echo server" || exit 1

daemon_ok=0
if [ -x "$octostored" ]; then
	"$octostored" --socket "$dir/octostored.sock" --config /dev/null \
	    >"$dir/octostored.log" 2>&1 &
	daemon_pid=$!
	if wait_ready "$dir/octostored.sock" "$daemon_pid" octostored; then
		daemon_ok=1
	else
		sed 's/^/octostored: /' "$dir/octostored.log" | tail -5 >&2
	fi
else
	echo "run-ping: $octostored not built" >&2
fi

echo
if [ "$daemon_ok" = 1 ]; then
	echo "## octostored (left) against the raw echo server (right)"
	"$pingbench" -t "$seconds" -r "$rounds" -c "$conns" -d "$depths" \
	    -p "$daemon_pid" -q "$echo_pid" \
	    "$dir/octostored.sock" "$dir/echo.sock" || status=1
else
	echo "## raw echo server only (octostored unavailable)"
	"$pingbench" -t "$seconds" -r "$rounds" -c "$conns" -d "$depths" \
	    -p "$echo_pid" "$dir/echo.sock" || status=1
	status=1
fi

# The CLI's start-up: the real binary, not a libtool wrapper script in the build tree.
echo
echo "## new process spawn time, mean of $spawns runs"
ctl=${OCTOSTORECTL:-$builddir/client/octostorectl}
if [ -z "${OCTOSTORECTL:-}" ] && head -c 2 "$ctl" 2>/dev/null | grep -q '^#!' &&
    [ -x "$builddir/client/.libs/octostorectl" ]; then
	ctl=$builddir/client/.libs/octostorectl
	LD_LIBRARY_PATH=$builddir/client/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export LD_LIBRARY_PATH
fi
# Alternate the two commands in five batches so that load drift hits both alike.
if [ "$daemon_ok" = 1 ] && [ -x "$ctl" ]; then
	t_true=0
	t_ctl=0
	for _ in 1 2 3 4 5; do
		a=$("$pingbench" spawn $((spawns / 5)) /bin/true) || status=1
		b=$("$pingbench" spawn $((spawns / 5)) "$ctl" ping \
		    --socket "$dir/octostored.sock") || status=1
		t_true=$(awk -v s="$t_true" -v x="${a:-0}" 'BEGIN { print s + x / 5 }')
		t_ctl=$(awk -v s="$t_ctl" -v x="${b:-0}" 'BEGIN { print s + x / 5 }')
	done
	printf '%-40s %10.1f us\n' "/bin/true" "$t_true"
	printf '%-40s %10.1f us\n' "octostorectl ping" "$t_ctl"
	awk -v a="$t_ctl" -v b="$t_true" \
	    'BEGIN { printf "%-40s %10.2f (target <= 1.25)\n", "ratio", a / b }'
else
	t_true=$("$pingbench" spawn "$spawns" /bin/true) || status=1
	printf '%-40s %10s us\n' "/bin/true" "$t_true"
	echo "octostorectl ping: not measured (daemon or CLI unavailable)"
	status=1
fi
exit "$status"
