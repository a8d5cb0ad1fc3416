#!/bin/sh
# run-renew.sh - 10,000 leases (TTL 30 s) held through octostored against the fake OctoStore
# server for 2 minutes: renewals per second, the busiest second, daemon CPU, RSS per lease,
# lost leases (issue 4).  Run from the build directory (`make bench-renew`).
#
# Environment: RENEW_SECONDS (hold time, default 120), RENEW_LEASES (default 10000),
# RENEW_TTL (default 30), RENEW_CONNS (client connections, default 16), RENEW_RATE
# (acquires per second, default 0: as fast as the daemon answers), RENEW_LOG_LEVEL
# (daemon log level, default: the daemon's own default), RENEW_MAX_CONNECTIONS (daemon
# upstream pool, default: the daemon's own default, 8), and RENEWBENCH, OCTOSTORED,
# OCTOFAKE to use other binaries.
set -u

builddir=${top_builddir:-$(pwd)}
renewbench=${RENEWBENCH:-$builddir/bench/renewbench}
octostored=${OCTOSTORED:-$builddir/daemon/octostored}
octofake=${OCTOFAKE:-$builddir/tests/fake-upstream/octofake}
seconds=${RENEW_SECONDS:-120}
leases=${RENEW_LEASES:-10000}
ttl=${RENEW_TTL:-30}
conns=${RENEW_CONNS:-16}
rate=${RENEW_RATE:-0}
for b in "$renewbench" "$octostored" "$octofake"; do
	[ -x "$b" ] || { echo "run-renew: $b not built" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/renewbench.XXXXXX") || exit 1
fake_pid=
daemon_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for p in $daemon_pid $fake_pid; do
		kill "$p" 2>/dev/null
	done
	for p in $daemon_pid $fake_pid; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

umask 077
# Private copies under other names: a broad `pkill octofake` or `pkill octostored` from
# another job on the machine must not end this run's servers half-way (it happened).
cp "$octofake" "$dir/f" && cp "$octostored" "$dir/d" || exit 1
octofake=$dir/f
octostored=$dir/d
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^/renewbench-/' >"$dir/token"
echo >>"$dir/token"

"$octofake" --token-file "$dir/token" --port-file "$dir/port" 2>"$dir/fake.log" &
fake_pid=$!
i=0
while [ ! -s "$dir/port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ] || ! kill -0 "$fake_pid" 2>/dev/null; then
		echo "run-renew: octofake did not start" >&2
		exit 1
	fi
	sleep 0.05
done
url=http://127.0.0.1:$(cat "$dir/port")

{
	echo "base_url = $url"
	echo "token_file = $dir/token"
	[ -n "${RENEW_LOG_LEVEL:-}" ] && echo "log_level = $RENEW_LOG_LEVEL"
	[ -n "${RENEW_MAX_CONNECTIONS:-}" ] &&
	    echo "upstream_max_connections = $RENEW_MAX_CONNECTIONS"
} >"$dir/d.conf"
"$octostored" --socket "$dir/d.sock" --config "$dir/d.conf" \
    >"$dir/d.log" 2>&1 &
daemon_pid=$!
i=0
while [ ! -S "$dir/d.sock" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
		echo "run-renew: octostored did not start" >&2
		tail -5 "$dir/d.log" >&2
		exit 1
	fi
	sleep 0.05
done

echo "# $(uname -srm), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $leases leases, TTL $ttl s, $conns connections, acquire rate $rate/s (0: unpaced)," \
    "held $seconds s"
"$renewbench" -n "$leases" -c "$conns" -T "$ttl" -t "$seconds" -r "$rate" -p "$daemon_pid" \
    -S "$url/_fake/stats" "$dir/d.sock" >"$dir/out"
status=$?
cat "$dir/out"
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	echo "run-renew: octostored died" >&2
	tail -20 "$dir/d.log" >&2
	status=1
fi
echo "daemon log: $(wc -l <"$dir/d.log") lines," \
    "$(grep -c '\[warn\]\|\[error\]' "$dir/d.log") warnings or errors"
grep '\[warn\]\|\[error\]' "$dir/d.log" | head -5
echo "  -- targets"
sed -n 's/^result //p' "$dir/out" | awk '
function verdict(n, v, op, t) {
	ok = (op == "<=") ? (v + 0 <= t + 0) : (v + 0 >= t + 0)
	printf "  %-40s %10.2f  target %s %s  %s\n", n, v, op, t, ok ? "met" : "MISSED"
}
{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	verdict("lease_lost notifications", v["lost"], "<=", 0)
	verdict("leases still held upstream", v["locks_held"], ">=", v["leases"])
	verdict("daemon CPU, % of one core", v["cpu_pct"], "<=", 5)
	verdict("RSS per lease, bytes", v["rss_per_lease"], "<=", 2048)
	verdict("busiest second / mean", v["burst_ratio"], "<=", 2)
}'
exit "$status"
