#!/bin/sh
# holder.sh - status, list and a busy acquire show who holds a lock through this daemon:
# the holder's host pid, uid, detached and state, in text and --json, through
# liboctostore's structures (issue 20, finding 2).  Local backend; the holder is another
# uid (setpriv).
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "# skipped: needs root and setpriv to hold a lock as another uid"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
mkdir -m 0700 "$OCTO_TMP/state"
start_daemon --backend local --state-dir "$OCTO_TMP/state" --socket-mode 0666 \
    --socket-group 65534
AS() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
C=$OCTOSTORECTL

# A holder as uid 65534: octostorectl run, whose command reports run's pid and waits.
mkfifo "$OCTO_TMP/go"
chmod 0666 "$OCTO_TMP/go"
touch "$OCTO_TMP/pid"
chmod 0666 "$OCTO_TMP/pid"
AS "$C" run held/x -- sh -c "echo \$PPID >'$OCTO_TMP/pid'; read x <'$OCTO_TMP/go'" &
RUN=$!
kill_at_exit RUN
poll_until 10 [ -s "$OCTO_TMP/pid" ] || fail "the holder did not start"
HP=$(cat "$OCTO_TMP/pid")

out=$("$C" status held/x)
check "status text: local.state held" sh -c "printf '%s\n' '$out' | grep -qx 'local.state: held'"
check "status text: local.pid is the holder's pid $HP" \
    sh -c "printf '%s\n' '$out' | grep -qx 'local.pid: $HP'"
check "status text: local.uid 65534" sh -c "printf '%s\n' '$out' | grep -qx 'local.uid: 65534'"
check "status text: local.detached no" \
    sh -c "printf '%s\n' '$out' | grep -qx 'local.detached: no'"
js=$("$C" --json status held/x)
check "status --json: local view ($js)" sh -c "printf '%s' '$js' | grep -q \
    '\"local\":{\"state\":\"held\",\"pid\":$HP,\"pid_stale\":false,\"uid\":65534,\"detached\":false}'"

line=$("$C" list | grep '^held/x	')
check "list text: LOCAL PID UID DETACHED columns ($line)" \
    [ "$(printf '%s' "$line" | cut -f6-9)" = "held	$HP	65534	no" ]
check "list text: header names the columns" \
    [ "$("$C" list | head -n 1 | cut -f5-9)" = "HOLDER_ID	LOCAL	PID	UID	DETACHED" ]
check "list --json: local view" sh -c "'$C' --json list | grep -q \
    '\"local\":{\"state\":\"held\",\"pid\":$HP,\"pid_stale\":false,\"uid\":65534,\"detached\":false}'"

"$C" --json acquire held/x >"$OCTO_TMP/busy" 2>&1
rc=$?
check "busy acquire: exit 10 (got $rc)" [ "$rc" -eq 10 ]
check "busy acquire --json: the holder's pid and uid" grep -q \
    "\"local\":{\"state\":\"held\",\"pid\":$HP,\"pid_stale\":false,\"uid\":65534,\"detached\":null}" \
    "$OCTO_TMP/busy"
"$C" acquire held/x >"$OCTO_TMP/busy" 2>&1
check "busy acquire text: local.pid and local.uid" \
    sh -c "grep -qx 'local.pid: $HP' '$OCTO_TMP/busy' && grep -qx 'local.uid: 65534' '$OCTO_TMP/busy'"

# A detached lease: no process owns it (pid 0), its uid does.
AS "$C" acquire --detach --hold 30s det/y >/dev/null || not_ok "detached acquire as 65534"
check "detached: status --json" sh -c "'$C' --json status det/y | grep -q \
    '\"local\":{\"state\":\"held\",\"pid\":0,\"pid_stale\":false,\"uid\":65534,\"detached\":true}'"
check "detached: status text says so" sh -c "'$C' status det/y | grep -qx 'local.detached: yes'"

# A free name has no local view.
check "free: status --json local is null" sh -c "'$C' --json status free/z | grep -q '\"local\":null'"
check "free: status text has no local lines" sh -c "! '$C' status free/z | grep -q '^local\\.'"
check "free: list line (held/x released later) keeps 9 columns" \
    [ "$("$C" list | awk -F '\t' 'NF != 9' | wc -l)" -eq 0 ]

echo >"$OCTO_TMP/go"
wait "$RUN"
check "the holder's run exited 0" [ $? -eq 0 ]
RUN=
check "released: status --json local is null again" \
    sh -c "'$C' --json status held/x | grep -q '\"local\":null'"
stop_daemon || not_ok "daemon exit status on SIGTERM"
finish
