# lib.sh - integration test helpers: a private daemon (and fake upstream) in a fresh
# temporary directory, readiness waits with deadlines, and cleanup on every exit.
# Source it from a test: . "$top_srcdir/tests/integration/lib.sh"
set -u

: "${top_builddir:?run through make check, or set top_builddir}"
: "${top_srcdir:?run through make check, or set top_srcdir}"

OCTO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/octo-test.XXXXXX")
OCTOSTORED_SOCKET="$OCTO_TMP/sock"
export OCTOSTORED_SOCKET
OCTOSTORED="$top_builddir/daemon/octostored"
OCTOSTORECTL="$top_builddir/client/octostorectl"
BADCLIENT="$top_builddir/tests/integration/badclient"
# OCTO_WRAPPER runs the daemon under a tool, e.g. "valgrind --error-exitcode=99 ...".
OCTO_WRAPPER=${OCTO_WRAPPER:-}
DAEMON_PID=
OCTO_FAILS=0

# Variables that hold the pids of a test's own background processes (a fake server,
# helpers): `kill_at_exit NAME...`.  Cleanup kills and reaps them before the daemon.
OCTO_KILL_VARS=
kill_at_exit() { OCTO_KILL_VARS="$OCTO_KILL_VARS $*"; }

# need TOOL...: skip the test (exit status 77) unless every tool is installed.
need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 && continue
		echo "SKIP: $tool not installed"
		exit 77
	done
}

# Stop what we started and remove the directory, whatever way the test ends.
octo_cleanup() {
	for v in $OCTO_KILL_VARS; do
		eval "pids=\${$v:-}"
		for p in $pids; do
			kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		done
	done
	# Under a tool (valgrind), a daemon still running ends with SIGTERM so that the tool
	# reports, and its error exit status fails the test.
	if [ -n "$OCTO_WRAPPER" ] && [ -n "$DAEMON_PID" ] && ! stop_daemon; then
		echo "not ok - the daemon under $OCTO_WRAPPER did not exit 0" >&2
		[ -f "$OCTO_TMP/daemon.log" ] && tail -n 40 "$OCTO_TMP/daemon.log" >&2
		OCTO_WRAPPER=
		rm -rf "$OCTO_TMP"
		exit 1
	fi
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	if [ "${OCTO_KEEP:-0}" = 1 ]; then
		echo "kept $OCTO_TMP"
	else
		rm -rf "$OCTO_TMP"
	fi
}
trap octo_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Report one check; failures are counted and the test exits non-zero at the end.
ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	OCTO_FAILS=$((OCTO_FAILS + 1))
}
# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
fail() {
	echo "FATAL: $*" >&2
	[ -f "$OCTO_TMP/daemon.log" ] && tail -n 30 "$OCTO_TMP/daemon.log" >&2
	exit 1
}
# End the test: exit status says whether any check failed.
finish() {
	if [ "$OCTO_FAILS" -ne 0 ]; then
		echo "$OCTO_FAILS check(s) failed" >&2
		[ -f "$OCTO_TMP/daemon.log" ] && tail -n 30 "$OCTO_TMP/daemon.log" >&2
		exit 1
	fi
	exit 0
}

# start_daemon [octostored options...]: start on $OCTOSTORED_SOCKET, wait until it answers.
start_daemon() {
	# shellcheck disable=SC2086
	$OCTO_WRAPPER "$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config /dev/null "$@" \
	    >"$OCTO_TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_ready "$OCTOSTORED_SOCKET" "$DAEMON_PID" 20000 ||
	    fail "daemon did not become ready"
}

# wait_ready SOCKET PID TIMEOUT_MS: until a ping is answered (the process must stay alive).
wait_ready() {
	"$BADCLIENT" wait "$1" "$3" "$2"
}

# stop_daemon: SIGTERM, wait (bounded), and require a clean exit status 0.
stop_daemon() {
	local i rc
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for i in $(seq 1 300); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		not_ok "daemon did not exit within 6 s of SIGTERM"
		kill -KILL "$DAEMON_PID"
	fi
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=
	return "$rc"
}

# start_fake PORTFILE ARGS...: start the fake OctoStore server (octofake) with ARGS in the
# background and wait (bounded) until it has written its port to PORTFILE; sets FAKE_PID
# and U, its base URL.  Redirect its output at the call: start_fake F ... 2>"$T/fake.log".
OCTOFAKE="$top_builddir/tests/fake-upstream/octofake"
start_fake() {
	local pf=$1 i=0
	shift
	"$OCTOFAKE" --port-file "$pf" "$@" &
	FAKE_PID=$!
	while [ ! -s "$pf" ]; do
		i=$((i + 1))
		{ [ "$i" -le 400 ] && kill -0 "$FAKE_PID" 2>/dev/null; } || fail "octofake did not start"
		sleep 0.05
	done
	U="http://127.0.0.1:$(cat "$pf")"
}
# fake_get PATH / fake_post PATH JSON: the fake's control API at $U.
fake_get() { curl -sS --noproxy '*' --max-time 5 "$U$1"; }
fake_post() {
	curl -sS --noproxy '*' --max-time 5 -X POST -H 'Content-Type: application/json' \
	    -d "$2" "$U$1" >/dev/null
}

# poll_until SECONDS COMMAND...: run COMMAND every 20 ms until it succeeds (bounded).
poll_until() {
	local n=$(($1 * 50)) i=0
	shift
	while [ "$i" -lt "$n" ]; do
		"$@" && return 0
		sleep 0.02
		i=$((i + 1))
	done
	return 1
}

# ms: the wall clock in milliseconds.
ms() { echo $(($(date +%s%N) / 1000000)); }

# rss_kb PID: resident set size in KiB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
