#!/bin/sh
# access.sh - who may connect, name prefixes, admin-only views and every client limit
# (issue 6). Runs on the local backend so that no request can leave the host; clients
# under other uids are children that setpriv drops to unprivileged ids.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "# skipped: needs root and setpriv to run clients under other uids"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
S=$OCTOSTORED_SOCKET
BC=$BADCLIENT
AS() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
AS_G() { u=$1; g=$2; shift 2; setpriv --reuid="$u" --regid="$u" --groups="$g" "$@"; }
# conf LINES...: a fresh config for the local backend with the given extra lines.
conf() {
	mkdir -p "$OCTO_TMP/state"
	{
		echo "backend = local"
		echo "state_dir = $OCTO_TMP/state"
		echo "socket_mode = 0666"
		echo "log_level = debug"
		for l in "$@"; do echo "$l"; done
	} >"$OCTO_TMP/octostored.conf"
}
restart() {
	[ -n "$DAEMON_PID" ] && { stop_daemon || not_ok "daemon exit status on SIGTERM"; }
	start_daemon --config "$OCTO_TMP/octostored.conf"
}

# --- default admission: root, our uid, members of the socket's group ---
conf
restart
check "default: root may connect" "$BC" ping "$S"
check "default: uid 65534 without the socket's group is refused with permission_denied" \
    [ "$(AS 65534 "$BC" multi "$S" 1 ping)" = "error permission_denied" ]
check "default: the refusal is logged with uid and pid" \
    grep -q "denied client uid=65534 gid=65534 pid=" "$OCTO_TMP/daemon.log"
G=$(stat -c %g "$S")
check "default: uid 65534 in the socket's group ($G) may connect" \
    [ "$(AS_G 65534 "$G" "$BC" multi "$S" 1 ping)" = "ok" ]
check "default: daemon still answers root after the refusals" "$BC" ping "$S"

# --- allow_uids / allow_gids ---
conf "allow_uids = 65534" "allow_gids = 4242"
restart
check "allow_uids: 65534 may connect" [ "$(AS 65534 "$BC" multi "$S" 1 ping)" = "ok" ]
check "allow_uids: 65533 is refused" \
    [ "$(AS 65533 "$BC" multi "$S" 1 ping)" = "error permission_denied" ]
check "allow_gids: 65533 in group 4242 may connect" \
    [ "$(AS_G 65533 4242 "$BC" multi "$S" 1 ping)" = "ok" ]
check "allow lists keep root in" "$BC" ping "$S"

# --- name prefixes, list filtering, admin-only views ---
conf "allow_uids = 65534" "[uid:65534]" "prefixes = ci/, build/"
restart
check "prefix: uid 65534 may acquire ci/job" \
    "$BC" multi "$S" 1 acquire name=ci/job ttl=5 >"$OCTO_TMP/p1"
check "prefix: ... and it was acquired" grep -q "^ok status,name,lease_id" "$OCTO_TMP/p1"
check "prefix: uid 65534 may not acquire deploy/prod" \
    [ "$(AS 65534 "$BC" multi "$S" 1 acquire name=deploy/prod ttl=5)" = "error permission_denied" ]
check "prefix: nor ask its status" \
    [ "$(AS 65534 "$BC" multi "$S" 1 status name=deploy/prod)" = "error permission_denied" ]
check "prefix: the refused name was never taken" \
    [ "$("$OCTOSTORECTL" --json status deploy/prod | grep -o '"status":"[a-z]*"')" = '"status":"free"' ]
# Root holds one name inside and one outside the prefixes; the restricted uid lists.
mkfifo "$OCTO_TMP/holdfifo"
HOLD=1 "$BC" multi "$S" 2 acquire name=build/x%d ttl=30 <"$OCTO_TMP/holdfifo" >/dev/null &
HOLDER=$!
exec 4>"$OCTO_TMP/holdfifo"
HOLD=1 "$BC" multi "$S" 1 acquire name=secret/y ttl=30 <"$OCTO_TMP/holdfifo" >/dev/null 4>&- &
HOLDER2=$!
i=0
until [ "$("$OCTOSTORECTL" --json list | grep -o '"name":' | wc -l)" -ge 3 ] || [ $i -ge 250 ]; do
	sleep 0.02; i=$((i + 1))
done
ALL=$("$OCTOSTORECTL" --json list)
check "list: root sees all three held names" [ "$(printf '%s' "$ALL" | grep -o '"name":' | wc -l)" -eq 3 ]
MINE=$(AS 65534 "$OCTOSTORECTL" --json list)
check "list: uid 65534 sees only names under its prefixes" \
    [ "$(printf '%s' "$MINE" | grep -o '"name":"[^"]*"' | sort | tr '\n' ' ')" = '"name":"build/x0" "name":"build/x1" ' ]
check "list: total counts only what it may see" \
    [ "$(printf '%s' "$MINE" | grep -o '"total":[0-9]*')" = '"total":2' ]
exec 4>&-
wait "$HOLDER" "$HOLDER2"
check "daemon_status: non-admin gets version and uptime only" \
    [ "$(AS 65534 "$BC" multi "$S" 1 daemon_status)" = "ok version,uptime_ms" ]
check "daemon_status: root gets the full view" \
    [ "$("$BC" multi "$S" 1 daemon_status)" = "ok version,pid,uptime_ms,connections,connections_total,requests,errors,clients,names" ]

# --- limits: leases per client and per uid ---
conf "max_leases_per_client = 2" "max_leases_per_uid = 3"
restart
OUT=$("$BC" multi "$S" 3 acquire name=lim/a%d ttl=30 | cut -d' ' -f1-2 | tr '\n' ' ')
check "max_leases_per_client=2: the third acquire on one connection is busy ($OUT)" \
    [ "$OUT" = "ok status,name,lease_id,fencing_token,expires_at,renew_after_ms,metadata ok status,name,lease_id,fencing_token,expires_at,renew_after_ms,metadata error busy " ]
mkfifo "$OCTO_TMP/uidfifo"
HOLD=1 "$BC" multi "$S" 2 acquire name=lim/b%d ttl=30 >"$OCTO_TMP/held2" <"$OCTO_TMP/uidfifo" &
H=$!
exec 5>"$OCTO_TMP/uidfifo"
i=0
until [ "$(wc -l <"$OCTO_TMP/held2")" -ge 2 ] || [ $i -ge 250 ]; do sleep 0.02; i=$((i + 1)); done
OUT=$("$BC" multi "$S" 2 acquire name=lim/c%d ttl=30 | cut -d' ' -f1 | tr '\n' ' ')
check "max_leases_per_uid=3: with 2 held elsewhere, one more then busy ($OUT)" [ "$OUT" = "ok error " ]
exec 5>&-
wait "$H"
OUT=$("$BC" multi "$S" 2 acquire name=lim/d%d ttl=30 | cut -d' ' -f1 | tr '\n' ' ')
check "max_leases_per_uid: counts drop when the holder goes ($OUT)" [ "$OUT" = "ok ok " ]

# --- limits: clients, message size, idle partial message, in-flight ---
conf "max_clients = 3" "max_message_size = 2048" "idle_timeout = 1s" "max_inflight = 4"
restart
mkfifo "$OCTO_TMP/cfifo"
PIDS=
for n in 1 2 3; do
	HOLD=1 "$BC" multi "$S" 1 ping >"$OCTO_TMP/c$n" <"$OCTO_TMP/cfifo" &
	PIDS="$PIDS $!"
done
exec 6>"$OCTO_TMP/cfifo"
i=0
until [ "$(cat "$OCTO_TMP"/c1 "$OCTO_TMP"/c2 "$OCTO_TMP"/c3 | wc -l)" -ge 3 ] || [ $i -ge 250 ]; do
	sleep 0.02; i=$((i + 1))
done
check "max_clients=3: a fourth client gets busy and is closed" \
    [ "$("$BC" multi "$S" 1 ping)" = "error busy" ]
exec 6>&-
# shellcheck disable=SC2086
wait $PIDS
check "max_clients: room again once clients leave" "$BC" wait "$S" 5000 "$DAEMON_PID"
check "max_message_size=2048: a 4000-byte ping is message_too_large" \
    [ "$("$BC" multi "$S" 1 ping payload="$(head -c 4000 /dev/zero | tr '\0' x)")" = "error message_too_large" ]
check "max_message_size: a 1000-byte ping passes" \
    [ "$("$BC" multi "$S" 1 ping payload="$(head -c 1000 /dev/zero | tr '\0' x)")" = "ok payload" ]
MS=$("$BC" partial "$S")
check "idle_timeout=1s: a partial message is dropped after ~1 s (took ${MS} ms)" \
    [ -n "$MS" ] && [ "$MS" -ge 900 ] && [ "$MS" -lt 5000 ]
check "max_inflight=4: 1,000 pipelined pings are all answered (backpressure)" \
    "$BC" pipeline "$S" 1000
check "daemon answers after every limit was hit" "$BC" ping "$S"
check "daemon exits 0 on SIGTERM" stop_daemon
finish
