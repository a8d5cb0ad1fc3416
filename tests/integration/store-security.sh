#!/bin/sh
# store-security.sh - the local backend's state directory against a hostile local user
# (issue 21, findings 1, 4 and 7): a state directory someone else owns or may write is
# refused; no file in it is followed through a symbolic link or used when foreign, at
# start-up or at compaction; a deleted log or tokens.hwm never lets tokens go back; the
# name table is bounded per uid and in all; a detached lease keeps its owner across
# kill -9.  Runs as root with users made by useradd (prefix octss).
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1; then
	echo "# skipped: needs root, setpriv and useradd to act as other users"
	exit 77
fi
CTL=$OCTOSTORECTL
U1=octss$$a
U2=octss$$b
store_cleanup() {
	userdel "$U1" 2>/dev/null
	userdel "$U2" 2>/dev/null
	octo_cleanup
}
trap store_cleanup EXIT
useradd -M -N -s /bin/false "$U1" && useradd -M -N -s /bin/false "$U2" ||
    fail "useradd"
ID1=$(id -u "$U1")
ID2=$(id -u "$U2")
chmod 0711 "$OCTO_TMP"
AS() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
# token OUTPUT_FILE / lease OUTPUT_FILE: a field of `octostorectl acquire`.
token() { awk '$1 == "fencing_token:" { print $2 }' "$1"; }
lease() { awk '$1 == "lease_id:" { print $2 }' "$1"; }

# refused DIR PATTERN: octostored exits non-zero on DIR without serving, saying PATTERN.
refused() {
	timeout 5 "$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config /dev/null \
	    --backend=local --state-dir "$1" >"$OCTO_TMP/refused.log" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "$2" "$OCTO_TMP/refused.log"
}
# private NAME: a fresh state directory as an administrator makes it (root, 0700).
private() {
	rm -rf "${OCTO_TMP:?}/$1"
	mkdir -m 0700 "$OCTO_TMP/$1" && echo "$OCTO_TMP/$1"
}
# victim NAME: a file owned by $U1 the daemon must never write; prints its path.
victim() {
	echo precious >"$OCTO_TMP/$1"
	chown "$U1" "$OCTO_TMP/$1"
	echo "$OCTO_TMP/$1"
}
untouched() { [ "$(cat "$1")" = precious ] && [ "$(stat -c %U "$1")" = "$U1" ]; }

# --- 1. A state directory another user made, or may write, is refused. ---
mkdir -m 1777 "$OCTO_TMP/pub"	# like /tmp
D=$OCTO_TMP/pub/userdir
AS "$ID1" mkdir -m 0700 "$D"
check "a state directory owned by $U1 is refused, naming it and its owner" \
    refused "$D" "state directory $D: owned by uid $ID1"
D=$(private open)
chmod 0777 "$D"
check "a root-owned state directory others may write (0777) is refused" \
    refused "$D" "state directory $D: writable by group or others (mode 0777)"
chmod 0770 "$D"
check "... and one its group may write (0770)" refused "$D" "writable by group or others"

# --- 2. Every file the daemon opens in state_dir: never through a link, never foreign. ---
for f in locks.wal tokens.hwm locks.wal.tmp tokens.hwm.tmp; do
	D=$(private "link-$f")
	V=$(victim "victim-$f")
	ln -s "$V" "$D/$f"
	check "a symlink $f -> a user's file is a start-up error naming it" \
	    refused "$D" "$D/$f.*symbolic link"
	check "... and the file it points to is untouched" untouched "$V"
	check "... and the link is left in place" [ -L "$D/$f" ]
done
D=$(private dangling)
ln -s "$OCTO_TMP/created-by-root" "$D/locks.wal"
check "a dangling locks.wal symlink is refused" refused "$D" "locks.wal.*symbolic link"
check "... and nothing is created at its target" [ ! -e "$OCTO_TMP/created-by-root" ]
for f in locks.wal tokens.hwm; do
	D=$(private "foreign-$f")
	start_daemon --backend=local --state-dir "$D"
	"$CTL" acquire f/x >/dev/null || not_ok "acquire in $D"
	stop_daemon || not_ok "daemon exit status"
	chown "$U1" "$D/$f"
	check "a $f owned by $U1 is a start-up error" refused "$D" "$f: owned by uid $ID1"
done
D=$(private hardlink)
start_daemon --backend=local --state-dir "$D"
stop_daemon || not_ok "daemon exit status"
ln "$D/locks.wal" "$OCTO_TMP/second-link"
check "a locks.wal with a second hard link is refused" refused "$D" "locks.wal: has 2 links"
D=$(private instance)
start_daemon --backend=local --state-dir "$D"
check "a second daemon on the same state directory is refused" \
    refused "$D" "in use by another octostored"
stop_daemon || not_ok "daemon exit status"

# At compaction: a locks.wal.tmp link planted while running is refused and logged, the
# compaction skipped, the target untouched, and the daemon keeps serving.
D=$(private compact)
OCTOSTORED_LOCAL_COMPACT_BYTES=512 start_daemon --backend=local --state-dir "$D"
V=$(victim victim-compact)
ln -s "$V" "$D/locks.wal.tmp"
for i in $(seq 1 40); do "$CTL" acquire "c/$i" >/dev/null; done
check "a locks.wal.tmp symlink at compaction: the error is logged, compaction skipped" \
    poll_until 5 grep -q "locks.wal.tmp is a symbolic link; left in place.*compaction skipped" \
    "$OCTO_TMP/daemon.log"
check "... the file it points to is untouched" untouched "$V"
check "... and the daemon still grants" "$CTL" acquire c/after
n=$(grep -c "compaction skipped" "$OCTO_TMP/daemon.log")
check "... retrying only as the log doubles, not on every write ($n errors)" [ "$n" -le 6 ]
rm "$D/locks.wal.tmp"
for i in $(seq 41 80); do "$CTL" acquire "c/$i" >/dev/null; done
check "with the link gone the next compaction succeeds (locks.wal small again)" \
    [ "$(stat -c %s "$D/locks.wal")" -lt 4096 ]
stop_daemon || not_ok "daemon exit status"

# --- 3. Deleting the log or tokens.hwm never takes tokens back. ---
D=$(private hwm)
start_daemon --backend=local --state-dir "$D"
check "a fresh state directory is logged as such" \
    grep -q "a fresh state directory, tokens start at 1" "$OCTO_TMP/daemon.log"
"$CTL" acquire h/x >"$OCTO_TMP/a" && "$CTL" acquire h/x >"$OCTO_TMP/b"
t1=$(token "$OCTO_TMP/b")
check "tokens.hwm is written beside the log" [ -f "$D/tokens.hwm" ]
stop_daemon || not_ok "daemon exit status"
rm "$D/locks.wal"
start_daemon --backend=local --state-dir "$D"
check "a deleted locks.wal is reported" \
    grep -q "locks.wal was missing but tokens.hwm says tokens up to" "$OCTO_TMP/daemon.log"
"$CTL" acquire h/x >"$OCTO_TMP/a"
t2=$(token "$OCTO_TMP/a")
check "... and the next token ($t2) is above the last one issued ($t1)" [ "$t2" -gt "$t1" ]
"$CTL" acquire h/other >"$OCTO_TMP/a"
t3=$(token "$OCTO_TMP/a")
check "... also for another name ($t3 > $t2)" [ "$t3" -gt "$t2" ]
stop_daemon || not_ok "daemon exit status"
rm "$D/tokens.hwm"
start_daemon --backend=local --state-dir "$D"
check "a deleted tokens.hwm is reported" \
    grep -q "tokens.hwm is missing but the log has tokens up to $t3" "$OCTO_TMP/daemon.log"
"$CTL" acquire h/x >"$OCTO_TMP/a"
t4=$(token "$OCTO_TMP/a")
check "... and the next token ($t4) is above the last one ($t3)" [ "$t4" -gt "$t3" ]
stop_daemon || not_ok "daemon exit status"
echo "garbage" >"$D/tokens.hwm"
check "a tokens.hwm that is not one is a start-up error" \
    refused "$D" "tokens.hwm: not an octostored token high-water mark"
echo "OCTOHWM1 1" >"$D/tokens.hwm"
start_daemon --backend=local --state-dir "$D"
check "a tokens.hwm below the log's tokens (an older copy) is reported" \
    grep -q "tokens.hwm (1) is below the log's highest token" "$OCTO_TMP/daemon.log"
"$CTL" acquire h/x >"$OCTO_TMP/a"
t5=$(token "$OCTO_TMP/a")
check "... and the next token ($t5) is above the last one ($t4)" [ "$t5" -gt "$t4" ]
stop_daemon || not_ok "daemon exit status"

# --- 4. The name table is bounded; forgotten names never reuse a token. ---
D=$(private names)
cat >"$OCTO_TMP/names.conf" <<CONF
backend = local
state_dir = $D
socket_mode = 0666
allow_uids = $ID1, $ID2
max_names = 30
max_names_per_uid = 10
log_level = debug
CONF
OCTOSTORED_LOCAL_COMPACT_BYTES=4096 start_daemon --config "$OCTO_TMP/names.conf"
AS "$ID2" "$CTL" acquire n/first >"$OCTO_TMP/a"
f1=$(token "$OCTO_TMP/a")
i=0
while [ "$i" -lt 10 ]; do
	AS "$ID1" "$CTL" acquire --detach --hold 5m --ttl 60 "n/held$i" >"$OCTO_TMP/held$i" ||
	    not_ok "detached acquire n/held$i"
	i=$((i + 1))
done
AS "$ID1" "$CTL" acquire n/one-more >"$OCTO_TMP/a" 2>&1
check "past max_names_per_uid a new name is refused with lock_limit_exceeded" \
    grep -q "lock_limit_exceeded" "$OCTO_TMP/a"
check "... saying which bound" grep -q "max_names_per_uid=10" "$OCTO_TMP/a"
check "... while another uid may still make names" AS "$ID2" "$CTL" acquire n/other
check "daemon_status shows the name table" \
    sh -c "'$BADCLIENT' multi '$OCTOSTORED_SOCKET' 1 daemon_status | grep -q names"
"$CTL" --json daemon-status >"$OCTO_TMP/ds" 2>&1
check "octostorectl daemon-status: both bounds, and the 10 detached names counted ($(cat "$OCTO_TMP/ds"))" \
    sh -c "jq -e '.names.max_names == 30 and .names.max_names_per_uid == 10 and
    .names.count >= 10 and .names.count <= 30' '$OCTO_TMP/ds' >/dev/null"
AS "$ID1" "$CTL" release n/held0 "$(lease "$OCTO_TMP/held0")" >/dev/null ||
    not_ok "release n/held0"
check "after a release the uid may make a new name again" AS "$ID1" "$CTL" acquire n/new
i=0
bad=0
while [ "$i" -lt 300 ]; do
	AS "$ID2" "$CTL" acquire "n/churn$i" >/dev/null || bad=$((bad + 1))
	i=$((i + 1))
done
check "300 distinct names acquired and released by one uid: none refused ($bad)" \
    [ "$bad" -eq 0 ]
check "... and the log stays small: $(stat -c %s "$D/locks.wal") bytes" \
    [ "$(stat -c %s "$D/locks.wal")" -lt 8192 ]
names=$(sed -n 's/.*log compacted to [0-9]* bytes, \([0-9]*\) names.*/\1/p' \
    "$OCTO_TMP/daemon.log" | tail -n 1)
check "... and the table stays bounded: ${names:-no} names at the last compaction" \
    [ "${names:-999}" -le 30 ]
AS "$ID2" "$CTL" acquire n/first >"$OCTO_TMP/a"
f2=$(token "$OCTO_TMP/a")
check "a name forgotten and made again gets a higher token ($f2 > $f1)" [ "$f2" -gt "$f1" ]
stop_daemon || not_ok "daemon exit status"
OCTOSTORED_LOCAL_COMPACT_BYTES=4096 start_daemon --config "$OCTO_TMP/names.conf"
AS "$ID2" "$CTL" acquire n/first >"$OCTO_TMP/a"
f3=$(token "$OCTO_TMP/a")
check "... and after a restart a higher one still ($f3 > $f2)" [ "$f3" -gt "$f2" ]
stop_daemon || not_ok "daemon exit status"

# --- 5. A detached lease keeps its owner across kill -9. ---
D=$(private owner)
cat >"$OCTO_TMP/owner.conf" <<CONF
backend = local
state_dir = $D
socket_mode = 0666
allow_uids = $ID1, $ID2
CONF
start_daemon --config "$OCTO_TMP/owner.conf"
AS "$ID1" "$CTL" acquire --detach --hold 5m --ttl 120 o/x >"$OCTO_TMP/a" || not_ok "acquire o/x"
AS "$ID1" "$CTL" acquire --detach --hold 5m --ttl 120 o/y >"$OCTO_TMP/b" || not_ok "acquire o/y"
LX=$(lease "$OCTO_TMP/a")
LY=$(lease "$OCTO_TMP/b")
AS "$ID2" "$CTL" release o/x "$LX" >"$OCTO_TMP/out" 2>&1
check "before the crash another uid gets not_owner" grep -q not_owner "$OCTO_TMP/out"
crash() {
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}
crash
# This start compacts at once (a log over 1 byte): the owner must survive the snapshot.
OCTOSTORED_LOCAL_COMPACT_BYTES=1 start_daemon --config "$OCTO_TMP/owner.conf"
AS "$ID2" "$CTL" release o/x "$LX" >"$OCTO_TMP/out" 2>&1
check "after kill -9 another uid still gets not_owner on release" \
    grep -q not_owner "$OCTO_TMP/out"
crash
start_daemon --config "$OCTO_TMP/owner.conf"
AS "$ID2" "$CTL" release o/x "$LX" >"$OCTO_TMP/out" 2>&1
check "... also after a second kill -9, from the compacted log" \
    grep -q not_owner "$OCTO_TMP/out"
AS "$ID2" "$CTL" renew o/x "$LX" >"$OCTO_TMP/out" 2>&1
check "... and on renew" grep -q not_owner "$OCTO_TMP/out"
check "... the owner may renew it" AS "$ID1" "$CTL" renew o/x "$LX"
check "... and release it" AS "$ID1" "$CTL" release o/x "$LX"
check "... and root may release another" "$CTL" release o/y "$LY"
stop_daemon || not_ok "daemon exit status"

finish
