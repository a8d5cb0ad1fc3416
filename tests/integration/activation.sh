#!/bin/sh
# activation.sh - socket activation for real: under systemd-socket-activate the daemon
# serves the socket it was passed, neither creates a socket of its own nor replaces or
# removes the activated socket file, and a client request succeeds (issue 5).
. "$top_srcdir/tests/integration/lib.sh"

command -v systemd-socket-activate >/dev/null 2>&1 || {
	echo "SKIP: systemd-socket-activate not installed (Debian package systemd)"
	exit 77
}
grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/autoconf.h" || {
	echo "SKIP: built --without-systemd"
	exit 77
}

conf=$OCTO_TMP/octostored.conf
printf 'base_url = http://127.0.0.1:9\n' >"$conf"

# wait_socket PATH: until systemd-socket-activate has bound PATH (bounded, 5 s).
wait_socket() {
	local i
	for i in $(seq 1 250); do
		[ -S "$1" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

# activate NAME DAEMON_SOCKET: start the daemon under systemd-socket-activate on
# $OCTO_TMP/NAME.sock, its own --socket set to DAEMON_SOCKET, and send one ping.
activate() {
	local sock=$OCTO_TMP/$1.sock own=$2 ino log=$OCTO_TMP/$1.log pid

	# systemd-socket-activate execs the daemon in place: one pid throughout.
	systemd-socket-activate -l "$sock" \
	    $OCTO_WRAPPER "$OCTOSTORED" --socket "$own" --config "$conf" >"$log" 2>&1 &
	DAEMON_PID=$!
	pid=$DAEMON_PID
	wait_socket "$sock" || fail "$1: systemd-socket-activate did not bind $sock"
	ino=$(stat -c %i "$sock")

	# The first connection makes systemd-socket-activate exec the daemon.
	if "$OCTOSTORECTL" --socket "$sock" ping >"$OCTO_TMP/$1.ping" 2>&1; then
		ok "$1: octostorectl ping through the activated socket"
	else
		cat "$OCTO_TMP/$1.ping"
		not_ok "$1: octostorectl ping through the activated socket"
	fi
	check "$1: a second client is served too" \
	    sh -c "\"$OCTOSTORECTL\" --socket \"$sock\" ping >/dev/null"
	check "$1: the daemon is running in the activator's pid" kill -0 "$pid"
	check "$1: daemon log says it uses the activated socket" \
	    grep -q 'socket from systemd activation' "$log"
	check "$1: the socket file is still the one systemd-socket-activate bound" \
	    test "$(stat -c %i "$sock" 2>/dev/null)" = "$ino"

	check "$1: daemon exits 0 on SIGTERM" stop_daemon
	check "$1: the activated socket file outlives the daemon" \
	    test "$(stat -c %i "$sock" 2>/dev/null)" = "$ino"
	grep -q 'ready' "$log" || cat "$log"
}

# The daemon's own path differs: it must not create it.
activate other "$OCTO_TMP/own.sock"
check "other: the daemon did not create its own socket" test ! -e "$OCTO_TMP/own.sock"

# The daemon's own path is the activated one (as with the shipped units): it must not
# treat it as stale and replace it.
activate same "$OCTO_TMP/same.sock"

# The unit's group and mode stay; a difference from socket_group/socket_mode is logged
# (issue 20).  systemd-socket-activate binds under our umask; ask for another mode.
mode=$(stat -c %a "$OCTO_TMP/same.sock")
printf 'base_url = http://127.0.0.1:9\nsocket_mode = 0604\nsocket_group = 0\n' >"$conf"
activate differs "$OCTO_TMP/differs.sock"
check "differs: the activated socket kept its mode" \
    test "$(stat -c %a "$OCTO_TMP/differs.sock")" = "$mode"
check "differs: the daemon logged that the unit's mode differs from socket_mode" \
    grep -q "activated socket $OCTO_TMP/differs.sock has gid=[0-9]* mode=0*$mode from its unit.*socket_group=0 socket_mode=0604" \
    "$OCTO_TMP/differs.log"

finish
