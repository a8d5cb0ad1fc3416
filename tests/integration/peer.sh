#!/bin/sh
# peer.sh - a holder pid is reported only while it still names the process that connected
# (issue 4): a lease held through a connection that a forked child inherited, after the
# process that opened it exited, shows pid 0 and stale, stays held, and goes with the
# connection.
. "$top_srcdir/tests/integration/lib.sh"

CTL=$OCTOSTORECTL
FH=$top_builddir/tests/integration/forkholder
STATE=$OCTO_TMP/state
IN=$OCTO_TMP/in
OUT=$OCTO_TMP/out
mkdir "$STATE" || fail "mkdir"
mkfifo "$IN" || fail "mkfifo"
HOLDER=
CHILD=

# Stop the helper (both processes) on any exit, then the library's cleanup.
peer_cleanup() {
	exec 3>&- 2>/dev/null
	for p in $HOLDER $CHILD; do
		kill "$p" 2>/dev/null
	done
	[ -n "$HOLDER" ] && wait "$HOLDER" 2>/dev/null
	octo_cleanup
}
trap peer_cleanup EXIT

# line WORD: the number after WORD in the helper's output, once it is there.
line() {
	awk -v w="$1" '$1 == w { print $2 }' "$OUT"
}
has_line() {
	[ -n "$(line "$1")" ]
}
# probe: one line of what status and a competing acquire say about the lock.
probe() {
	"$FH" probe "$OCTOSTORED_SOCKET" peer/a
}
# free: the lock is free and the daemon holds nothing for it.
free() {
	probe >"$OCTO_TMP/probe" || return 1
	grep -q "status=free local=- " "$OCTO_TMP/probe"
}

# expect_holder PID STALE HOLDER_ID: status, list, a competing acquire's "held" reply and
# octostorectl acquire all report the holder as PID (STALE true or false) and HOLDER_ID.
expect_holder() {
	local p
	p=$(probe)
	echo "# $p"
	check "status: held locally, pid $1, pid_stale $2" \
	    [ "$p" != "${p#* status=held local=held pid=$1 pid_stale=$2 }" ]
	check "list: the same" [ "$p" != "${p#* list_pid=$1 list_pid_stale=$2 }" ]
	check "held reply: holder_pid $1, holder_pid_stale $2, holder_id $3" \
	    [ "$p" != "${p#* held=held holder_pid=$1 holder_pid_stale=$2 holder_id=$3}" ]
	"$CTL" acquire peer/a >"$OCTO_TMP/ctl" 2>&1
	check "octostorectl acquire names the holder $3" \
	    grep -q "^holder_id: $3\$" "$OCTO_TMP/ctl"
}

start_daemon --backend=local --state-dir "$STATE" --log-level info
uid=$(id -u)

# --- a. A holder that is alive: its real pid, not stale.
"$FH" hold "$OCTOSTORED_SOCKET" peer/a <"$IN" >"$OUT" 2>"$OCTO_TMP/fh.err" &
HOLDER=$!
exec 3>"$IN"
poll_until 10 has_line acquired || fail "the helper did not acquire"
pid=$(line acquired)
check "the helper acquired as pid $pid" [ "$pid" = "$HOLDER" ]
expect_holder "$pid" false "local:pid=$pid,uid=$uid"

# --- b. Fork; the parent exits, the child keeps the connection.
echo fork >&3
poll_until 10 has_line ready || fail "the forked child did not report"
CHILD=$(line ready)
check "the child ($CHILD) is another process than the parent ($pid)" [ "$CHILD" != "$pid" ]
check "the parent is gone (or a zombie)" sh -c \
    "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
expect_holder 0 true "local:uid=$uid"
# Reaped, the pid is free for reuse; the answer stays the same.
wait "$HOLDER"
HOLDER=
p=$(probe)
check "after the parent is reaped: still held, pid 0, stale" \
    [ "$p" != "${p#* status=held local=held pid=0 pid_stale=true }" ]
n=$(grep -c "client pid $pid exited but its connection (inherited) is still open" \
    "$OCTO_TMP/daemon.log")
check "the daemon logged it once (got $n)" [ "$n" = 1 ]
check "the child still has the connection, and the lease" kill -0 "$CHILD"

# --- c. The child exits: the connection closes and the lock is released.
exec 3>&-
check "the lock is released once the child exits" poll_until 10 free
check "the child has exited" poll_until 10 sh -c "! kill -0 $CHILD 2>/dev/null"
CHILD=

# --- d. SIGTERM to an inherited holder releases too; a new holder shows its own pid.
"$FH" hold "$OCTOSTORED_SOCKET" peer/a <"$IN" >"$OUT" 2>>"$OCTO_TMP/fh.err" &
HOLDER=$!
exec 3>"$IN"
poll_until 10 has_line acquired || fail "the helper did not acquire again"
p=$(probe)
check "a new holder: its own pid $HOLDER, not stale" \
    [ "$p" != "${p#* status=held local=held pid=$HOLDER pid_stale=false }" ]
echo fork >&3
poll_until 10 has_line ready || fail "the forked child did not report"
CHILD=$(line ready)
wait "$HOLDER"
HOLDER=
p=$(probe)
check "forked again: pid 0, stale" \
    [ "$p" != "${p#* status=held local=held pid=0 pid_stale=true }" ]
kill -TERM "$CHILD"
check "SIGTERM to the child releases the lock" poll_until 10 free
CHILD=
exec 3>&-

check "no helper errors" [ ! -s "$OCTO_TMP/fh.err" ]
stop_daemon || not_ok "daemon exit status"
finish
