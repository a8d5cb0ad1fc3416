#!/bin/sh
# userns.sh - clients in user and pid namespaces, as in a rootless or --userns container,
# made with unshare(1) so that it runs wherever user namespaces do (issue 20): the daemon
# sees the host uid and host pid, root inside a namespace is not root to it, and a
# supplementary group passes through even where the namespace cannot name it.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skipped: needs root to create users and groups"
	exit 77
fi
need useradd groupadd userdel groupdel setpriv unshare
if ! setpriv --reuid=65534 --regid=65534 --clear-groups \
    unshare --user --map-root-user --pid --fork --mount-proc true 2>/dev/null; then
	echo "# skipped: this kernel does not let an unprivileged user make a user namespace"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
G=octcogn$$
U=octcoun$$
V=octcovn$$
octo_users_cleanup() {
	for u in "$U" "$V"; do userdel "$u" 2>/dev/null; done
	for g in "$G" "$U" "$V"; do groupdel "$g" 2>/dev/null; done
	octo_cleanup
}
trap octo_users_cleanup EXIT
groupadd "$G" || fail "groupadd"
useradd -M -U -s /bin/false -G "$G" "$U" || fail "useradd $U"
useradd -M -U -s /bin/false "$V" || fail "useradd $V"
UID_U=$(id -u "$U")
GID=$(getent group "$G" | cut -d: -f3)
C=$OCTOSTORECTL

# in_ns USER CMD...: CMD as root of a new user namespace (mapped to USER, with USER's
# groups from the database) and as pid 1 of a new pid namespace.  The daemon's uid (root)
# is not mapped there, so clients see it as 65534 and trust it only when told to
# (OCTOSTORED_TRUSTED_UID, as the README's Containers section says); in_ns_untrusting
# leaves that out.
in_ns_untrusting() {
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups \
	    unshare --user --map-root-user --pid --fork --mount-proc "$@"
}
in_ns() {
	OCTOSTORED_TRUSTED_UID=65534 in_ns_untrusting "$@"
}

mkdir -m 0700 "$OCTO_TMP/state"
OCTOSTORED_SOCKET=$OCTO_TMP/run/octostored.sock
export OCTOSTORED_SOCKET
start_daemon --backend local --state-dir "$OCTO_TMP/state" --socket-group "$G"

# Root in the namespace, a member of the socket's group on the host: it connects through
# a 0750 directory and a 0660 socket of that group, which it cannot even name.
in_ns "$U" sh -c 'id -u; id -G' >"$OCTO_TMP/ids"
check "inside: uid 0" [ "$(head -n 1 "$OCTO_TMP/ids")" = 0 ]
check "inside: the socket's group is unmapped (shows as 65534)" \
    sh -c "sed -n 2p '$OCTO_TMP/ids' | tr ' ' '\n' | grep -qx 65534 &&
    ! sed -n 2p '$OCTO_TMP/ids' | tr ' ' '\n' | grep -qx '$GID'"
check "inside: ping passes (the host gid $GID still counts)" in_ns "$U" sh -c "\"$C\" ping >/dev/null"
rc=0
in_ns "$V" "$C" ping >"$OCTO_TMP/v.out" 2>&1 || rc=$?
check "inside, not in the group: refused although root there (exit 77, got $rc)" \
    sh -c "[ $rc -eq 77 ] && grep -q permission_denied '$OCTO_TMP/v.out'"
rc=0
in_ns_untrusting "$U" "$C" ping >"$OCTO_TMP/u.out" 2>&1 || rc=$?
check "inside, without OCTOSTORED_TRUSTED_UID: the daemon, unmapped, is not trusted (exit $rc)" \
    sh -c "[ $rc -eq 77 ] && grep -q 'answered by uid 65534.*untrusted_daemon' '$OCTO_TMP/u.out'"

# Root in a namespace is not root to the daemon: the admin view stays closed.
ds=$(in_ns "$U" "$C" --json daemon-status)
check "inside: daemon-status answers ($ds)" sh -c "printf '%s' '$ds' | grep -q '\"version\"'"
check "inside: ... without the administrator's fields" \
    sh -c "! printf '%s' '$ds' | grep -q '\"connections\"'"
ds=$("$C" --json daemon-status)
check "host root: daemon-status has them (the check above is not vacuous)" \
    sh -c "printf '%s' '$ds' | grep -q '\"connections\"'"

# A holder inside: status on the host shows its host uid and host pid, not 0 and 1.
mkfifo "$OCTO_TMP/go"
chmod 0666 "$OCTO_TMP/go"
: >"$OCTO_TMP/inner"
chmod 0666 "$OCTO_TMP/inner"
# A simple command, so that $! is setpriv's pid, which execs unshare.
OCTOSTORED_TRUSTED_UID=65534 setpriv --reuid="$U" --regid="$U" --init-groups \
    unshare --user --map-root-user --pid --fork --mount-proc \
    "$C" run ns/a -- sh -c "echo \$PPID \$(id -u) >'$OCTO_TMP/inner'; read x <'$OCTO_TMP/go'" &
NS=$!
kill_at_exit NS
poll_until 10 [ -s "$OCTO_TMP/inner" ] || fail "the holder in the namespaces did not start"
check "inside: run's pid is 1, its uid 0 ($(cat "$OCTO_TMP/inner"))" \
    [ "$(cat "$OCTO_TMP/inner")" = "1 0" ]
# unshare forks once and execs octostorectl in the child: that child is the holder.
HP=$(pgrep -P "$NS" | head -n 1)
check "host: found the holder's host pid ($HP)" [ -n "$HP" ]
check "host: its pid namespace says 1 for it" \
    sh -c "grep -q '^NSpid:[[:space:]]*$HP[[:space:]]*1\$' /proc/$HP/status"
js=$("$C" --json status ns/a)
check "status: the host pid and uid ($js)" sh -c "printf '%s' '$js' | grep -q \
    '\"local\":{\"state\":\"held\",\"pid\":$HP,\"pid_stale\":false,\"uid\":$UID_U,\"detached\":false}'"
check "list: the host pid and uid" \
    [ "$("$C" list | grep '^ns/a	' | cut -f6-8)" = "held	$HP	$UID_U" ]
echo >"$OCTO_TMP/go"
wait "$NS"
check "the holder's run exited 0" [ $? -eq 0 ]
NS=

# The README's recipe without a runtime: an empty root with only the static
# octostorectl (as a FROM scratch image), the socket's directory bind-mounted read-only,
# uid 1000 with the group's gid added, in its own mount namespace.
if ldd "$C" 2>&1 | grep -q 'statically linked\|not a dynamic executable'; then
	R=$OCTO_TMP/rootfs
	mkdir -p "$R/run/octostored"
	cp "$C" "$R/octostorectl"
	# scratch ARGS...: octostorectl ARGS in that root, as uid 1000 with gid $GID added.
	scratch() {
		unshare --mount sh -c 'mount --bind -o ro "$1" "$2/run/octostored" &&
		    shift 2 && OCTOSTORED_SOCKET=/run/octostored/octostored.sock \
		    exec chroot --userspec=1000:1000 "$@"' sh \
		    "$OCTO_TMP/run" "$R" --groups="$GID" "$R" /octostorectl "$@"
	}
	check "scratch root: ping with only the static binary" scratch ping
	scratch run scr/a -- /octostorectl run -n scr/a -- /octostorectl ping \
	    >"$OCTO_TMP/scr.out" 2>&1
	rc=$?
	check "scratch root: run -n on a busy lock exits 11 (outer run passed it on: $rc)" \
	    [ "$rc" -eq 11 ]
	scratch run scr/a -- /octostorectl acquire scr/a >"$OCTO_TMP/scr.out" 2>&1
	rc=$?
	check "scratch root: acquire on a busy lock exits 10 (got $rc)" [ "$rc" -eq 10 ]
	check "scratch root: ... naming the holder's host uid 1000" \
	    grep -qx 'local.uid: 1000' "$OCTO_TMP/scr.out"
	check "scratch root: the mount is read-only, even for root" \
	    unshare --mount sh -c 'mount --bind -o ro "$1" "$2" || exit 1
	    ! touch "$2/x" 2>/dev/null' sh "$OCTO_TMP/run" "$R/run/octostored"
else
	echo "# scratch root checks skipped: octostorectl is not static (built with --disable-static-ctl or --enable-sanitizers)"
fi
stop_daemon || not_ok "daemon exit status on SIGTERM"
finish
