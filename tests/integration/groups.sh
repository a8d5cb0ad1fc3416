#!/bin/sh
# groups.sh - [gid:N] policy for peers in many groups (issue 21, finding 2), lock names
# with "." and ".." components, prefixes entries without a trailing '/', and hello's
# client name in the log (finding 8).  Users and groups come from useradd/groupadd with
# the octsp prefix and are removed at exit.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1; then
	echo "# skipped: needs root, setpriv, useradd and groupadd"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
S=$OCTOSTORED_SOCKET
BC=$BADCLIENT
P=octspg$$
NG=40

# Remove what this test made, then what lib.sh started.
groups_cleanup() {
	userdel "${P}a" 2>/dev/null
	userdel "${P}b" 2>/dev/null
	for n in $(seq 1 $NG); do groupdel "${P}_$n" 2>/dev/null; done
	octo_cleanup
}
trap groups_cleanup EXIT

useradd -M -N -s /bin/false "${P}a" || fail "useradd ${P}a"
useradd -M -N -s /bin/false "${P}b" || fail "useradd ${P}b"
GL=
for n in $(seq 1 $NG); do
	groupadd "${P}_$n" || fail "groupadd ${P}_$n"
	GL="$GL${GL:+,}${P}_$n"
done
usermod -G "$GL" "${P}a" || fail "usermod -G"
UA=$(id -u "${P}a")
UB=$(id -u "${P}b")
PG=$(id -g "${P}a")
# The [gid:N] section names the user's last group, far past the old 32-entry buffer.
GLAST=$(getent group "${P}_$NG" | cut -d: -f3)
# AS_DB USER CMD...: run with the groups the group database gives USER.
AS_DB() { u=$1; shift; setpriv --reuid="$u" --regid="$PG" --init-groups "$@"; }
# AS_N UID N CMD...: run in N numeric supplementary groups 300001..300000+N.
AS_N() { u=$1; n=$2; shift 2
	setpriv --reuid="$u" --regid="$PG" --groups="$(seq -s, 300001 $((300000 + n)))" "$@"; }

check "setup: ${P}a has $NG supplementary groups" \
    [ "$(AS_DB "${P}a" id -G | wc -w)" -ge $NG ]

mkdir -p "$OCTO_TMP/state"
cat >"$OCTO_TMP/octostored.conf" <<EOF
backend = local
state_dir = $OCTO_TMP/state
socket_mode = 0666
log_level = debug
allow_uids = $UA
allow_gids = 301500
[gid:$GLAST]
prefixes = team-a/
[gid:301999]
prefixes = team-c/
EOF
start_daemon --config "$OCTO_TMP/octostored.conf"

# --- finding 2: 40 groups from the group database ---
check "40 groups: ${P}a may acquire team-a/x" \
    [ "$(AS_DB "${P}a" "$BC" multi "$S" 1 acquire name=team-a/x ttl=5 | cut -d' ' -f1)" = "ok" ]
check "40 groups: ${P}a may not acquire team-b/secret (was granted: groups read as none)" \
    [ "$(AS_DB "${P}a" "$BC" multi "$S" 1 acquire name=team-b/secret ttl=5)" = "error permission_denied" ]
check "40 groups: team-b/secret was never taken" \
    [ "$("$OCTOSTORECTL" --json status team-b/secret | grep -o '"status":"[a-z]*"')" = '"status":"free"' ]

# --- finding 2: 2000 groups from the kernel (setgroups), admission by allow_gids ---
check "2000 groups: ${P}b is admitted through allow_gids 301500" \
    [ "$(AS_N "$UB" 2000 "$BC" multi "$S" 1 ping)" = "ok" ]
check "2000 groups: ${P}b may acquire team-c/x (its [gid:301999] prefix)" \
    [ "$(AS_N "$UB" 2000 "$BC" multi "$S" 1 acquire name=team-c/x ttl=5 | cut -d' ' -f1)" = "ok" ]
check "2000 groups: ${P}b may not acquire team-b/secret" \
    [ "$(AS_N "$UB" 2000 "$BC" multi "$S" 1 acquire name=team-b/secret ttl=5)" = "error permission_denied" ]
check "2000 groups: ${P}b may not acquire team-a/x (not its section)" \
    [ "$(AS_N "$UB" 2000 "$BC" multi "$S" 1 acquire name=team-a/x ttl=5)" = "error permission_denied" ]
check "1000 groups (without 301500): ${P}b is refused admission" \
    [ "$(AS_N "$UB" 1000 "$BC" multi "$S" 1 ping)" = "error permission_denied" ]

# --- finding 8: "." and ".." components ---
for n in team-b/../team-a/x ./x a/./b a/.. ../a; do
	check "name $n is invalid_argument" \
	    [ "$("$BC" multi "$S" 1 acquire name="$n" ttl=5)" = "error invalid_argument" ]
done
for n in a/.b a..b/c .x/y...; do
	check "name $n (dots inside a component) is accepted" \
	    [ "$("$BC" multi "$S" 1 acquire name="$n" ttl=5 | cut -d' ' -f1)" = "ok" ]
done

# --- finding 8: hello's client name is logged, sanitized ---
"$BC" multi "$S" 1 hello client="$(printf 'my-tool\033[31mred')" >/dev/null
check "hello: the client name is logged with control bytes replaced" \
    poll_until 5 grep -q 'hello from "my-tool?\[31mred"' "$OCTO_TMP/daemon.log"
check "daemon exits 0 on SIGTERM" stop_daemon

# --- finding 8: a prefixes entry must end with '/' ---
printf '[uid:%s]\nprefixes = team-a/, team-b\n' "$UA" >"$OCTO_TMP/bad.conf"
OUT=$("$OCTOSTORED" --check-config --config "$OCTO_TMP/bad.conf" 2>&1)
RC=$?
check "prefixes = team-b (no '/') is a config error" [ "$RC" -ne 0 ]
check "... that says what to write ($OUT)" \
    sh -c 'printf "%s" "$1" | grep -q "bad.conf:2: prefixes: each entry must end with ./."' _ "$OUT"
finish
