#!/bin/sh
# socket-group.sh - socket_group (issue 20): the socket's owner, group and mode and the
# directory the daemon creates, who may connect with that group, a SIGHUP that changes
# it, and a missing group as a start-up error.  Users and groups made here are removed
# at exit.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skipped: needs root to create users and groups and to chgrp the socket"
	exit 77
fi
need useradd groupadd userdel groupdel setpriv
chmod 0711 "$OCTO_TMP"
GA=octcoga$$
GB=octcogb$$
UA=octcoua$$
UB=octcoub$$
UO=octcouo$$
octo_users_cleanup() {
	for u in "$UA" "$UB" "$UO"; do userdel "$u" 2>/dev/null; done
	for g in "$GA" "$GB" "$UA" "$UB" "$UO"; do groupdel "$g" 2>/dev/null; done
	octo_cleanup
}
trap octo_users_cleanup EXIT
groupadd "$GA" && groupadd "$GB" || fail "groupadd"
useradd -M -U -s /bin/false -G "$GA" "$UA" || fail "useradd $UA"
useradd -M -U -s /bin/false -G "$GB" "$UB" || fail "useradd $UB"
useradd -M -U -s /bin/false "$UO" || fail "useradd $UO"
GIDA=$(getent group "$GA" | cut -d: -f3)
GIDB=$(getent group "$GB" | cut -d: -f3)

# ctl_as USER ARGS...: octostorectl as USER with the groups the database gives it.
ctl_as() {
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$OCTOSTORECTL" "$@" \
	    >"$OCTO_TMP/ctl.out" 2>&1
}
ctl_rc() { ctl_as "$@"; echo $?; }
# conf LINES...: the configuration file for the local backend, with extra lines.
conf() {
	{
		echo "backend = local"
		echo "state_dir = $OCTO_TMP/state"
		for l in "$@"; do echo "$l"; done
	} >"$OCTO_TMP/octostored.conf"
}
has_group() { [ "$(stat -c %g "$1")" = "$2" ]; }
has_mode() { [ "$(stat -c %a "$1")" = "$2" ]; }
reload_to_group() {
	kill -HUP "$DAEMON_PID"
	poll_until 10 has_group "$1" "$2"
}
mkdir -m 0700 "$OCTO_TMP/state"

# --- a missing group is a start-up error, from the flag and from the file ---
conf "socket_group = octconope$$"
"$OCTOSTORED" --config "$OCTO_TMP/octostored.conf" --socket "$OCTO_TMP/x.sock" \
    >"$OCTO_TMP/bad.log" 2>&1
rc=$?
check "missing group in the file: exit 78 (got $rc)" [ "$rc" -eq 78 ]
check "missing group in the file: the message names it" \
    grep -q "socket_group: no such group: octconope$$" "$OCTO_TMP/bad.log"
"$OCTOSTORED" --config /dev/null --backend local --state-dir "$OCTO_TMP/state" \
    --socket "$OCTO_TMP/x.sock" --socket-group octconope$$ >"$OCTO_TMP/bad.log" 2>&1
rc=$?
check "missing group from --socket-group: exit 78 (got $rc)" [ "$rc" -eq 78 ]
check "missing group from --socket-group: the message names it" \
    grep -q "no such group: octconope$$" "$OCTO_TMP/bad.log"
check "missing group: no socket was made" [ ! -e "$OCTO_TMP/x.sock" ]

# --- the daemon creates the directory and the socket with the group ---
OCTOSTORED_SOCKET=$OCTO_TMP/run/octostored.sock
export OCTOSTORED_SOCKET
D=$OCTO_TMP/run
conf "socket_group = $GA"
start_daemon --config "$OCTO_TMP/octostored.conf"
check "socket: owner root, group $GA, mode 0660 (got $(stat -c '%u %g %a' "$OCTOSTORED_SOCKET"))" \
    [ "$(stat -c '%u %g %a' "$OCTOSTORED_SOCKET")" = "0 $GIDA 660" ]
check "directory: created root, group $GA, mode 0750 (got $(stat -c '%u %g %a' "$D"))" \
    [ "$(stat -c '%u %g %a' "$D")" = "0 $GIDA 750" ]
check "lock file beside the socket: octostored.sock.lock, 0600" \
    [ "$(stat -c %a "$D/octostored.sock.lock")" = 600 ]
check "a member of $GA connects" [ "$(ctl_rc "$UA" ping)" -eq 0 ]
rc=$(ctl_rc "$UO" ping)
check "a uid outside $GA does not (exit 77, got $rc)" [ "$rc" -eq 77 ]
rc=$(ctl_rc "$UB" ping)
check "a member of $GB only does not (exit 77, got $rc)" [ "$rc" -eq 77 ]

# --- SIGHUP with another group: socket and directory follow, so does admission ---
conf "socket_group = $GB" "socket_mode = 0640"
check "SIGHUP: the socket gets group $GB" reload_to_group "$OCTOSTORED_SOCKET" "$GIDB"
check "SIGHUP: socket mode 0640 (got $(stat -c %a "$OCTOSTORED_SOCKET"))" \
    [ "$(stat -c %a "$OCTOSTORED_SOCKET")" = 640 ]
check "SIGHUP: the directory gets group $GB, still 0750" \
    [ "$(stat -c '%g %a' "$D")" = "$GIDB 750" ]
check "SIGHUP: mode 0640 refuses even the group's members a connect (EACCES: exit 77)" \
    [ "$(ctl_rc "$UB" ping)" -eq 77 ]
conf "socket_group = $GB"
kill -HUP "$DAEMON_PID"
check "SIGHUP: mode back to 0660" poll_until 10 has_mode "$OCTOSTORED_SOCKET" 660
check "SIGHUP: now a member of $GB connects" [ "$(ctl_rc "$UB" ping)" -eq 0 ]
rc=$(ctl_rc "$UA" ping)
check "SIGHUP: the member of $GA only no longer does (exit 77, got $rc)" [ "$rc" -eq 77 ]
stop_daemon || not_ok "daemon exit status on SIGTERM"

# --- the policy alone: a socket open to all in an existing directory ---
# Only the daemon's "members of the socket's group" rule stands between a uid and the
# daemon here, so the refusals below come from it (permission_denied), not from modes.
mkdir -m 0755 "$OCTO_TMP/open"
OCTOSTORED_SOCKET=$OCTO_TMP/open/octostored.sock
conf "socket_group = $GA" "socket_mode = 0666"
start_daemon --config "$OCTO_TMP/octostored.conf"
check "existing directory is left as it was (0755, root's group)" \
    [ "$(stat -c '%g %a' "$OCTO_TMP/open")" = "0 755" ]
check "policy: a member of $GA connects" [ "$(ctl_rc "$UA" ping)" -eq 0 ]
rc=$(ctl_rc "$UO" ping)
check "policy: an outsider reaches the socket and is refused (exit 77, got $rc)" \
    [ "$rc" -eq 77 ]
check "policy: ... by the daemon (permission_denied)" grep -q permission_denied "$OCTO_TMP/ctl.out"
check "policy: ... which logs it" grep -q "denied client uid=$(id -u "$UO") " "$OCTO_TMP/daemon.log"
conf "socket_group = $GB" "socket_mode = 0666"
check "policy: SIGHUP gives the socket group $GB" \
    reload_to_group "$OCTOSTORED_SOCKET" "$GIDB"
check "policy: after SIGHUP a member of $GB connects" [ "$(ctl_rc "$UB" ping)" -eq 0 ]
rc=$(ctl_rc "$UA" ping)
check "policy: after SIGHUP the member of $GA is refused by the daemon (exit 77, got $rc)" \
    [ "$rc" -eq 77 ] && grep -q permission_denied "$OCTO_TMP/ctl.out"
# A group that has gone: the reload fails and the running group stays.
conf "socket_group = octconope$$" "socket_mode = 0666"
kill -HUP "$DAEMON_PID"
check "missing group at SIGHUP: the reload fails, naming it" \
    poll_until 10 grep -q "no such group: octconope$$" "$OCTO_TMP/daemon.log"
check "missing group at SIGHUP: the socket keeps group $GB" \
    [ "$(stat -c %g "$OCTOSTORED_SOCKET")" = "$GIDB" ]
check "missing group at SIGHUP: the member of $GB still connects" [ "$(ctl_rc "$UB" ping)" -eq 0 ]
# Without socket_group the policy reads the file's group at each reload: chgrp + SIGHUP.
conf "socket_mode = 0666"
kill -HUP "$DAEMON_PID"
poll_until 10 grep -q "socket_group=(unset)" "$OCTO_TMP/daemon.log"
chgrp "$GA" "$OCTOSTORED_SOCKET"
kill -HUP "$DAEMON_PID"
check "unset: chgrp $GA then SIGHUP lets the member of $GA in" \
    poll_until 10 sh -c "[ \"\$(setpriv --reuid=$UA --regid=$UA --init-groups \
    '$OCTOSTORECTL' ping >/dev/null 2>&1; echo \$?)\" -eq 0 ]"
stop_daemon || not_ok "daemon exit status on SIGTERM"
finish
