#!/bin/sh
# detached-crash.sh - a detached lease of the remote backend keeps its owner across a
# daemon crash (issue 21, finding 7): the daemon records it in state_dir, and a daemon
# started after a kill -9 releases it at once, refusing its id to other uids meanwhile;
# a state_dir or record others could have planted is a start-up error.
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
need jq curl setpriv useradd userdel
[ -x "$FAKE" ] || fail "$FAKE is not built"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root to add test users and run clients as them"
	exit 77
fi

U1=octsta$$
U2=octstb$$
FAKE_PID=
kill_at_exit FAKE_PID
del_users() {
	userdel "$U1" 2>/dev/null
	userdel "$U2" 2>/dev/null
}
trap 'del_users; octo_cleanup' EXIT
useradd -M -N -s /usr/sbin/nologin "$U1" || fail "useradd $U1"
useradd -M -N -s /usr/sbin/nologin "$U2" || fail "useradd $U2"
UID1=$(id -u "$U1")
UID2=$(id -u "$U2")

T=$OCTO_TMP
chmod 0711 "$T"
TOK=tok-crash-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOK" >"$T/fake-tok"
(umask 077 && printf '%s\n' "$TOK" >"$T/daemon-tok")
start_fake "$T/port" --token-file "$T/fake-tok" --verbose 2>"$T/fake.log"
held_upstream() { [ "$(curl -sS --noproxy '*' "$U/_fake/stats" | jq .locks_held)" = "$1" ]; }
# as USER ARGS...: octostorectl --json as USER; stdout in $OUT, exit status in $RC.
as() {
	u=$1
	shift
	OUT=$(setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups \
	    "$OCTOSTORECTL" --json "$@" 2>>"$T/ctl.err")
	RC=$?
}
ctl() { as root "$@"; }
jqo() { printf '%s' "$OUT" | jq -r "$1"; }

mkdir -m 0700 "$T/state"
cat >"$T/octostored.conf" <<EOF
base_url = $U
token_file = $T/daemon-tok
state_dir = $T/state
log_level = debug
socket_mode = 0666
allow_uids = $UID1, $UID2
request_timeout = 2s
EOF
start_daemon --config "$T/octostored.conf"

# A link planted where the temporary file goes is replaced, never written through.
echo precious >"$T/victim"
ln -s "$T/victim" "$T/state/remote-leases.tmp"
as "$U1" acquire c/det --ttl 60 --detach --hold 600s
LID=$(jqo .lease_id)
check "$U1: detached acquire" [ "$RC $(jqo .status)" = "0 acquired" ]
check "a symlink at remote-leases.tmp was not followed" \
    sh -c "[ \"\$(cat '$T/victim')\" = precious ] && [ ! -L '$T/state/remote-leases' ] &&
        [ ! -e '$T/state/remote-leases.tmp' ]"
check "the lease is recorded in state_dir/remote-leases, mode 0600, with its uid" \
    sh -c "[ \"\$(stat -c %a '$T/state/remote-leases')\" = 600 ] &&
        grep -qx '$UID1 $LID c/det' '$T/state/remote-leases'"
as "$U2" release c/det "$LID"
check "before the crash: $U2's release is refused: not_owner" \
    [ "$RC $(jqo .error.code)" = "1 not_owner" ] || [ "$(jqo .error.code)" = not_owner ]

# --- kill -9, then a restart whose first release of the lease hangs at the server ---
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "after the crash the server still holds the lease" held_upstream 1
fake_post /_fake/fault '{"mode":"hang","count":1,"path_prefix":"/locks/c%2Fdet/release"}'
start_daemon --config "$T/octostored.conf"
check "the restarted daemon releases the lease it finds recorded" \
    poll_until 5 grep -q "name=c/det .*left by a previous run; releasing it" "$T/daemon.log"
as "$U2" release c/det "$LID"
check "after the crash: $U2's release with the id is still refused: not_owner ($(jqo .error.code))" \
    [ "$(jqo .error.code)" = not_owner ]
check "and the lease is still held upstream" held_upstream 1
as "$U1" release c/det "$LID"
check "after the crash: the owner $U1 may release it ($(jqo '.released // .error.code'))" \
    [ "$RC $(jqo .released)" = "0 true" ]
check "the lock is free upstream" held_upstream 0
check "the record is emptied once the daemon's own release is over" \
    poll_until 10 sh -c "! grep -q '$LID' '$T/state/remote-leases'"

# --- a crash with nobody around: the lease is released at start-up ---
as "$U1" acquire c/det2 --ttl 60 --detach --hold 600s
LID2=$(jqo .lease_id)
check "$U1: second detached acquire" [ "$(jqo .status)" = acquired ]
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon --config "$T/octostored.conf"
check "released at start-up: free upstream" poll_until 5 held_upstream 0
as "$U2" release c/det2 "$LID2"
check "after that, the id releases nothing: lease_not_current ($(jqo .error.code))" \
    [ "$(jqo .error.code)" = lease_not_current ]
ctl acquire c/det2 --ttl 5
check "root can take the name again" [ "$(jqo .status)" = acquired ]
check "a clean stop exits 0" stop_daemon

# --- a state_dir or record that another user could have planted refuses the start ---
# start_refused WHY: the daemon must exit non-zero at start-up, saying why.
start_refused() {
	"$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config "$T/octostored.conf" \
	    >"$T/refused.log" 2>&1 &
	p=$!
	i=0
	while kill -0 "$p" 2>/dev/null && [ "$i" -lt 250 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p"
		wait "$p"
		not_ok "$1: the daemon started"
		return
	fi
	wait "$p"
	rc=$?
	check "$1: start refused (exit $rc)" [ "$rc" -ne 0 ]
	check "$1: the log says $2" grep -q "$2" "$T/refused.log"
}
chown "$U1" "$T/state"
start_refused "state_dir owned by $U1" "owned by uid $UID1"
chown root "$T/state"
chmod 0770 "$T/state"
start_refused "state_dir writable by its group" "writable by group or others"
chmod 0700 "$T/state"
rm -f "$T/state/remote-leases"
ln -s "$T/daemon-tok" "$T/state/remote-leases"
start_refused "remote-leases a symlink" "a symlink"
rm -f "$T/state/remote-leases"
finish
