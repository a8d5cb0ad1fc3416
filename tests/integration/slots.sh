#!/bin/sh
# slots.sh - one uid cannot take every client slot (issue 21, finding 3):
# max_clients_per_uid, the slots reserved for root and admin_uids, their counters in
# daemon_status, and SIGHUP applying changed limits.  Users come from useradd with the
# octsp prefix and are removed at exit.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1; then
	echo "# skipped: needs root, setpriv and useradd"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
S=$OCTOSTORED_SOCKET
BC=$BADCLIENT
P=octsps$$
HOLDERS=
kill_at_exit HOLDERS

slots_cleanup() {
	exec 7>&- 2>/dev/null
	octo_cleanup
	userdel "${P}a" 2>/dev/null
	userdel "${P}b" 2>/dev/null
	userdel "${P}c" 2>/dev/null
}
trap slots_cleanup EXIT

for u in a b c; do useradd -M -N -s /bin/false "$P$u" || fail "useradd $P$u"; done
UA=$(id -u "${P}a")
UB=$(id -u "${P}b")
UC=$(id -u "${P}c")
AS() { u=$1; shift; setpriv --reuid="$u" --regid=65534 --clear-groups "$@"; }

# conf LINES...: local backend, everyone may connect, the given extra lines.
conf() {
	mkdir -p "$OCTO_TMP/state"
	{
		echo "backend = local"
		echo "state_dir = $OCTO_TMP/state"
		echo "socket_mode = 0666"
		echo "allow_uids = $UA, $UB, $UC"
		echo "admin_uids = $UC"
		for l in "$@"; do echo "$l"; done
	} >"$OCTO_TMP/octostored.conf"
}

# hold UID N: N connections from UID that ping once and stay open until release;
# waits until all N have an answer in $OCTO_TMP/h.*; sets R to the "OK BUSY" counts.
# Runs in this shell (not in $(...)): the holders and fd 7 must outlive it.
hold() {
	rm -f "$OCTO_TMP"/h.*
	[ -p "$OCTO_TMP/hfifo" ] || mkfifo "$OCTO_TMP/hfifo"
	for n in $(seq 1 "$2"); do
		HOLD=1 AS "$1" "$BC" multi "$S" 1 ping >"$OCTO_TMP/h.$n" <"$OCTO_TMP/hfifo" &
		HOLDERS="$HOLDERS $!"
	done
	exec 7>"$OCTO_TMP/hfifo"
	poll_until 20 sh -c '[ "$(cat "$1"/h.* | wc -l)" -ge "$2" ]' _ "$OCTO_TMP" "$2" ||
	    not_ok "hold: $2 clients of uid $1 did not all get an answer"
	R="$(cat "$OCTO_TMP"/h.* | grep -c '^ok') $(cat "$OCTO_TMP"/h.* | grep -c '^error busy')"
}
release() {
	exec 7>&-
	# shellcheck disable=SC2086
	[ -z "$HOLDERS" ] || wait $HOLDERS 2>/dev/null
	HOLDERS=
}
# field NAME: a number from root's daemon_status.
field() {
	DUMP=1 "$BC" multi "$S" 1 daemon_status | grep -o "\"$1\"=>[0-9]*" | cut -d'>' -f2
}

# --- defaults as in the finding: max_clients = 64, one uid opens 70 ---
conf "max_clients = 64"
start_daemon --config "$OCTO_TMP/octostored.conf"
hold "$UA" 70
check "70 clients of one uid: a quarter of max_clients (16) get in, 54 are busy ($R)" \
    [ "$R" = "16 54" ]
check "root still connects" [ "$("$BC" multi "$S" 1 ping)" = "ok" ]
check "another uid still connects" [ "$(AS "$UB" "$BC" multi "$S" 1 ping)" = "ok" ]
check "the refusals are logged, rate-limited" \
    grep -q "refusing client uid=$UA pid=[0-9]*: max_clients_per_uid reached" "$OCTO_TMP/daemon.log"
check "... at most a line or two a second, not 54" \
    [ "$(grep -c "max_clients_per_uid reached" "$OCTO_TMP/daemon.log")" -le 10 ]
DS=$("$BC" multi "$S" 1 daemon_status)
check "daemon_status lists clients ($DS)" \
    [ "$DS" = "ok version,pid,uptime_ms,connections,connections_total,requests,errors,clients,names" ]
check "daemon_status: max_clients 64, per uid 16, reserved 8" \
    [ "$(field max_clients) $(field max_clients_per_uid) $(field reserved_admin_clients)" = "64 16 8" ]
"$OCTOSTORECTL" --json daemon-status >"$OCTO_TMP/ds" 2>&1
check "octostorectl daemon-status shows the same ($(cat "$OCTO_TMP/ds"))" \
    sh -c "jq -e '.clients.max_clients == 64 and .clients.max_clients_per_uid == 16 and
    .clients.reserved_admin_clients == 8 and .clients.refused_per_uid == 54' '$OCTO_TMP/ds' >/dev/null"
check "daemon_status: one uid holds 16, 54 refused per uid" \
    [ "$(field top_uid_connections) $(field refused_per_uid)" = "16 54" ]
release

# --- limits from the config; the reserved slots ---
conf "max_clients = 20" "max_clients_per_uid = 100" "reserved_admin_clients = 4"
restart() { stop_daemon || not_ok "daemon exit status"; start_daemon --config "$OCTO_TMP/octostored.conf"; }
restart
hold "$UA" 20
check "max_clients=20, reserved_admin_clients=4: one uid gets 16, 4 busy ($R)" [ "$R" = "16 4" ]
check "another non-admin uid is refused once only reserved slots are left" \
    [ "$(AS "$UB" "$BC" multi "$S" 1 ping)" = "error busy" ]
check "root may use a reserved slot" [ "$("$BC" multi "$S" 1 ping)" = "ok" ]
check "admin_uids may use a reserved slot" [ "$(AS "$UC" "$BC" multi "$S" 1 ping)" = "ok" ]
check "the reserved refusal is logged" \
    grep -q "refusing client uid=[0-9]* pid=[0-9]*: only the slots reserved for admins are left" \
    "$OCTO_TMP/daemon.log"
check "daemon_status: 5 refused for the reserve (4 + 1), limits 20/100/4" \
    [ "$(field refused_reserved) $(field max_clients) $(field max_clients_per_uid) $(field reserved_admin_clients)" = "5 20 100 4" ]
release

# --- SIGHUP applies changed limits ---
conf "max_clients = 20" "max_clients_per_uid = 3" "reserved_admin_clients = 4"
kill -HUP "$DAEMON_PID"
check "reload is logged" poll_until 5 grep -q "reloading configuration" "$OCTO_TMP/daemon.log"
# The reload is done once the loop answers again.
"$BC" multi "$S" 1 ping >/dev/null
hold "$UA" 5
check "after SIGHUP max_clients_per_uid = 3: 3 in, 2 busy ($R)" [ "$R" = "3 2" ]
check "daemon_status shows the reloaded max_clients_per_uid" [ "$(field max_clients_per_uid)" = 3 ]
check "... and uid $UB still connects" [ "$(AS "$UB" "$BC" multi "$S" 1 ping)" = "ok" ]
release
check "daemon exits 0 on SIGTERM" stop_daemon
finish
