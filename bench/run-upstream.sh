#!/bin/sh
# run-upstream.sh - acquire+release pairs through octostored against the fake OctoStore
# server, compared in the same run with direct keep-alive libcurl (one easy handle; a curl
# multi on libevent with 32 transfers), a bare Unix-socket echo, and new processes (one curl
# per HTTP request against octostorectl per operation), over HTTP and HTTPS (issue 3).
# Run from the build directory (`make bench-upstream`).
#
# Environment: UPBENCH_SECONDS (per measurement, default 5), UPBENCH_ROUNDS (default 3, the
# median round is reported), UPBENCH_SPAWNS (process pairs, default 200), UPBENCH_SCHEMES (default "http https"), UPBENCH_LOG_LEVEL (daemon log level,
# default: the daemon's own default), UPBENCH_MAX_CONNECTIONS (daemon upstream pool,
# default: the daemon's own default, 8), and UPBENCH, MINICTL, OCTOSTORED, OCTOSTORECTL,
# OCTOFAKE to use other binaries.
set -u

builddir=${top_builddir:-$(pwd)}
upbench=${UPBENCH:-$builddir/bench/upbench}
minictl=${MINICTL:-$builddir/bench/minictl}
octostored=${OCTOSTORED:-$builddir/daemon/octostored}
octofake=${OCTOFAKE:-$builddir/tests/fake-upstream/octofake}
seconds=${UPBENCH_SECONDS:-5}
spawns=${UPBENCH_SPAWNS:-200}
rounds=${UPBENCH_ROUNDS:-3}
schemes=${UPBENCH_SCHEMES:-http https}

# The CLI: the real binary, not libtool's wrapper script in the build tree.
if [ -n "${OCTOSTORECTL:-}" ]; then
	ctl=$OCTOSTORECTL
elif [ -x "$builddir/client/.libs/octostorectl" ]; then
	ctl=$builddir/client/.libs/octostorectl
	LD_LIBRARY_PATH=$builddir/client/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export LD_LIBRARY_PATH
else
	ctl=$builddir/client/octostorectl
fi
curl_bin=$(command -v curl) || { echo "run-upstream: curl is required" >&2; exit 1; }
for b in "$upbench" "$minictl" "$octostored" "$octofake" "$ctl"; do
	[ -x "$b" ] || { echo "run-upstream: $b not built" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/upbench.XXXXXX") || exit 1
fake_pid=
daemon_pid=
daemon32_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
stop() {
	for p in $daemon_pid $daemon32_pid $fake_pid; do
		kill "$p" 2>/dev/null
	done
	for p in $daemon_pid $daemon32_pid $fake_pid; do
		wait "$p" 2>/dev/null
	done
	daemon_pid=
	daemon32_pid=
	fake_pid=
}
# shellcheck disable=SC2317
cleanup() {
	stop
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
tok=upbench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$tok" >"$dir/token"
printf 'Authorization: Bearer %s\n' "$tok" >"$dir/auth-header"

# Start octofake ($1 = http or https); sets fake_pid and url.
start_fake() {
	rm -f "$dir/port"
	if [ "$1" = https ]; then
		"$octofake" --token-file "$dir/token" --port-file "$dir/port" \
		    --tls-cert "$dir/server.pem" --tls-key "$dir/server.key" \
		    2>"$dir/fake.log" &
	else
		"$octofake" --token-file "$dir/token" --port-file "$dir/port" \
		    2>"$dir/fake.log" &
	fi
	fake_pid=$!
	i=0
	while [ ! -s "$dir/port" ]; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$fake_pid" 2>/dev/null; then
			echo "run-upstream: octofake did not start" >&2
			cat "$dir/fake.log" >&2
			return 1
		fi
		sleep 0.05
	done
	url=$1://127.0.0.1:$(cat "$dir/port")
}

# Start octostored against $url ($1 = scheme) as $2 (d or d32) with an upstream pool of
# $3 connections (empty: the daemon's default); sets started_pid.
start_daemon() {
	{
		echo "base_url = $url"
		echo "token_file = $dir/token"
		[ "$1" = https ] && echo "ca_file = $dir/ca.pem"
		[ -n "${UPBENCH_LOG_LEVEL:-}" ] && echo "log_level = $UPBENCH_LOG_LEVEL"
		[ -n "$3" ] && echo "upstream_max_connections = $3"
	} >"$dir/$2.conf"
	"$octostored" --socket "$dir/$2.sock" --config "$dir/$2.conf" \
	    >"$dir/$2.log" 2>&1 &
	started_pid=$!
	i=0
	until "$ctl" --socket "$dir/$2.sock" ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$started_pid" 2>/dev/null; then
			echo "run-upstream: octostored did not answer" >&2
			tail -5 "$dir/$2.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# A CA and a server certificate for 127.0.0.1, made for this run.
make_certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 1 -subj /CN=upbench-ca \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$dir/server.key" -out "$dir/server.csr" -subj /CN=127.0.0.1 \
	    2>/dev/null &&
	printf 'subjectAltName = IP:127.0.0.1\n' >"$dir/server.ext" &&
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
	    -CAcreateserial -days 1 -extfile "$dir/server.ext" -out "$dir/server.pem" \
	    2>/dev/null
}

# connections_accepted from the fake's stats (this request's own connection included).
fake_conns() {
	"$curl_bin" -sS --noproxy '*' ${cacert:+--cacert "$cacert"} "$url/_fake/stats" |
	    sed -n 's/.*"connections_accepted":\([0-9]*\).*/\1/p'
}

# Field $2 of the upbench result line in file $1.
field() {
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1
}

# verdict NAME VALUE OP TARGET: print the comparison and whether it meets the target.
verdict() {
	awk -v n="$1" -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
		ok = (op == "<=") ? (v + 0 <= t + 0) : (v + 0 >= t + 0)
		printf "  %-52s %8.2f  target %s %s  %s\n", n, v, op, t, ok ? "met" : "MISSED"
	}'
}

echo "# $(uname -srm), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $seconds s per measurement after 1 s warm-up, median of $rounds rounds," \
    "$spawns process pairs"
status=0
if echo "$schemes" | grep -q https; then
	command -v openssl >/dev/null 2>&1 || { echo "run-upstream: openssl CLI needed" >&2; exit 1; }
	make_certs || { echo "run-upstream: certificate generation failed" >&2; exit 1; }
fi
detach=0
"$ctl" --help 2>&1 | grep -q -- '--detach' && detach=1

for scheme in $schemes; do
	cacert=
	[ "$scheme" = https ] && cacert=$dir/ca.pem
	start_fake "$scheme" || exit 1
	# The daemon as configured by default (pool of 8, or UPBENCH_MAX_CONNECTIONS), and
	# one with a pool of 32, to compare with the 32-way multi loop, which opens 32
	# connections, like for like.
	start_daemon "$scheme" d "${UPBENCH_MAX_CONNECTIONS:-}" || exit 1
	daemon_pid=$started_pid
	start_daemon "$scheme" d32 32 || exit 1
	daemon32_pid=$started_pid
	r=$dir/$scheme
	echo
	echo "## $scheme (fake at $url)"
	# run OUT ARGS...: one upbench measurement appended to $r.OUT.
	run() {
		out=$1
		shift
		if ! "$upbench" -t "$seconds" -u "$url" -k "$dir/token" \
		    ${cacert:+-C "$cacert"} -l "$scheme" "$@" >>"$r.$out" 2>"$r.err"; then
			echo "run-upstream: upbench $* failed" >&2
			cat "$r.err" >&2
			status=1
		fi
	}
	# All 32 clients once, so that the pool is warm.
	run warm -c 32 daemon "$dir/d.sock"
	run warm -c 32 daemon "$dir/d32.sock"
	# Rounds alternate every measurement, so that a change in the machine's other load
	# hits all of them alike; the round with the median ops/s is used.
	newc=0
	n=0
	while [ "$n" -lt "$rounds" ]; do
		n=$((n + 1))
		run echo echo
		run easy easy
		run multi -c 32 multi
		# The same with at most 8 connections, the size of the daemon's default pool.
		run multi8 -c 32 -m "${UPBENCH_MAX_CONNECTIONS:-8}" multi
		run d1 -c 1 daemon "$dir/d.sock"
		c0=$(fake_conns)
		run d32 -c 32 daemon "$dir/d.sock"
		run d32p32 -c 32 daemon "$dir/d32.sock"
		c1=$(fake_conns)
		newc=$((newc + c1 - c0 - 1))
	done
	for out in echo easy multi multi8 d1 d32 d32p32; do
		sort -t= -k5 -n "$r.$out" >"$r.$out.all"
		sed -n "$(((rounds + 1) / 2))p" "$r.$out.all" >"$r.$out"
		sed "s/^result /  /; s/\$/  (median of $rounds)/" "$r.$out"
	done
	if ! "$upbench" -n "$spawns" -u "$url" ${cacert:+-C "$cacert"} -l "$scheme" procs \
	    "$curl_bin" "$dir/auth-header" "$ctl" "$dir/d.sock" "$detach" "$minictl" \
	    >"$r.procs" 2>"$r.procs.err"; then
		echo "run-upstream: process pairs failed" >&2
		cat "$r.procs.err" >&2
		status=1
	fi
	sed 's/^result /  /' "$r.procs"

	echo "  -- $scheme targets"
	e=$(field "$r.echo" mean_us)
	k=$(field "$r.easy" mean_us)
	d=$(field "$r.d1" mean_us)
	ep=$(field "$r.echo" p50_us)
	kp=$(field "$r.easy" p50_us)
	dp=$(field "$r.d1" p50_us)
	verdict "1 client: daemon op / (echo + easy request), mean" \
	    "$(awk -v d="$d" -v e="$e" -v k="$k" 'BEGIN { print d / (e + k) }')" "<=" 1.2
	verdict "1 client: daemon op / (echo + easy request), p50" \
	    "$(awk -v d="$dp" -v e="$ep" -v k="$kp" 'BEGIN { print d / (e + k) }')" "<=" 1.2
	pool=${UPBENCH_MAX_CONNECTIONS:-8}
	verdict "32 clients, pool $pool: daemon / multi on <= $pool connections" \
	    "$(awk -v d="$(field "$r.d32" ops_per_s)" -v m="$(field "$r.multi8" ops_per_s)" \
	    'BEGIN { print d / m }')" ">=" 0.8
	verdict "32 clients, pool 32: daemon / multi on 32 connections" \
	    "$(awk -v d="$(field "$r.d32p32" ops_per_s)" -v m="$(field "$r.multi" ops_per_s)" \
	    'BEGIN { print d / m }')" ">=" 0.8
	awk -v d="$(field "$r.d32" ops_per_s)" -v m="$(field "$r.multi" ops_per_s)" \
	    -v p="$pool" 'BEGIN {
		printf "  %-52s %8.2f  (pool %d against 32 connections: not like for like)\n",
		    "32 clients: daemon / multi on 32 connections", d / m, p
	}'
	verdict "new upstream connections in steady state" "$newc" "<=" 0
	if [ "$scheme" = https ]; then
		verdict "process pairs: curl / octostorectl" "$(field "$r.procs" ratio)" ">=" 10
	else
		verdict "process pairs: curl / octostorectl" "$(field "$r.procs" ratio)" ">=" 6
	fi
	# The floor: the same pairs from bench/minictl, the cheapest client process.
	awk -v m="$(field "$r.procs" mini_ratio)" -v c="$(field "$r.procs" ctl_over_mini)" \
	    'BEGIN {
		printf "  %-52s %8.2f  (a client doing only the exchange)\n",
		    "process pairs: curl / minictl", m
		printf "  %-52s %8.2f  (1 = no cost beyond the exchange)\n",
		    "process pairs: octostorectl / minictl", c
	}'
	[ "$detach" = 0 ] && echo "  (octostorectl has no --detach: each acquire's lease goes" \
	    "with its process, so the release process gets lease_not_current after the same" \
	    "round trip)"
	stop
done
exit "$status"
