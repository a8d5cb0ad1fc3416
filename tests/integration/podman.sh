#!/bin/sh
# podman.sh - the README's container recipe in real podman containers (issue 20): a
# FROM-scratch image with only the static octostorectl, the daemon started by hand on the
# host with --socket-group, the socket's directory mounted read-only, --group-add and
# --user 1000:1000; then the same through a user namespace with the host gid passed through
# the gid map, and rootless podman with --group-add keep-groups.  Skips (77, with the
# reason) where podman is missing or cannot run a container, and skips a part (saying why)
# where only that part cannot run.  Podman keeps its images and containers in this test's
# temporary directory; the group and the rootless user are removed at exit.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skipped: needs root to run podman with runc and to create a group"
	exit 77
fi
need podman runc tar groupadd groupdel
C=$OCTOSTORECTL
if ! ldd "$C" 2>&1 | grep -q 'statically linked\|not a dynamic executable'; then
	echo "# skipped: octostorectl is not static (--disable-static-ctl or --enable-sanitizers)"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
G=octpmg$$
IMG=localhost/octo-scratch:test$$
PR=$OCTO_TMP/podman
mkdir -p "$PR/tmp"
# The flags this kind of VM needs: root lacks CAP_SYS_RESOURCE (runc's default rlimits
# fail) and, as issue 20 found, crun refuses the hybrid cgroup set-up.  vfs storage: no overlay mounts to
# leave behind, and it takes split id maps (overlay refused them, see README).
PODMAN="env TMPDIR=$PR/tmp podman --root $PR/root --runroot $PR/runroot --tmpdir $PR/tmp
    --storage-driver vfs --runtime runc --events-backend none"
case $PR in *[[:space:]]*) echo "# skipped: a space in the temporary path $PR"; exit 77 ;; esac
# shellcheck disable=SC2086
pm() { $PODMAN "$@"; }
RUNF="--network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
RL=$OCTO_TMP/rootless
RU=octpmr$$
octo_podman_cleanup() {
	pm rm --all --force --time 0 >/dev/null 2>&1
	if id "$RU" >/dev/null 2>&1; then
		[ -d "$RL/root" ] && rl rm --all --force --time 0 >/dev/null 2>&1
		# Rootless podman leaves a pause process holding its user namespace.
		for p in $(cat "$RL/run/libpod/tmp/pause.pid" 2>/dev/null) \
		    $(ps -u "$RU" -o pid= 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		poll_until 5 sh -c "! ps -u '$RU' -o pid= >/dev/null 2>&1"
		userdel "$RU" 2>/dev/null
		groupdel "$RU" 2>/dev/null
	fi
	pm rmi --all --force >/dev/null 2>&1
	# Anything podman left mounted below its directories (a container's shm), deepest first.
	awk -v p="$PR/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r |
	    while read -r m; do umount -l "$m"; done
	groupdel "$G" 2>/dev/null
	octo_cleanup
}
trap octo_podman_cleanup EXIT

mkdir "$OCTO_TMP/img"
cp "$C" "$OCTO_TMP/img/octostorectl"
tar -C "$OCTO_TMP/img" -c octostorectl | pm import - "$IMG" >"$OCTO_TMP/import.out" 2>&1 || {
	echo "# skipped: podman import failed here: $(tail -n 1 "$OCTO_TMP/import.out")"
	exit 77
}
# shellcheck disable=SC2086
if ! pm run --rm $RUNF "$IMG" /octostorectl --version >"$OCTO_TMP/probe.out" 2>&1; then
	echo "# skipped: podman cannot run a container here: $(tail -n 1 "$OCTO_TMP/probe.out")"
	exit 77
fi
ok "podman runs a container from the scratch image ($(podman --version), runc)"

groupadd "$G" || fail "groupadd $G"
GID=$(getent group "$G" | cut -d: -f3)
mkdir -m 0700 "$OCTO_TMP/state"
OCTOSTORED_SOCKET=$OCTO_TMP/run/octostored.sock
export OCTOSTORED_SOCKET
start_daemon --backend local --state-dir "$OCTO_TMP/state" --socket-group "$G" \
    --log-level debug

# ctr [podman run options...] -- octostorectl ARGS...: the README's recipe.
ctr() {
	o=
	while [ "$1" != -- ]; do o="$o $1"; shift; done
	shift
	# shellcheck disable=SC2086
	pm run --rm $RUNF -v "$OCTO_TMP/run:/run/octostored:ro" $o "$IMG" /octostorectl "$@"
}
check "recipe: ping with --group-add $GID --user 1000:1000" \
    ctr --group-add "$GID" --user 1000:1000 -- ping
rc=0
ctr --user 1000:1000 -- ping >"$OCTO_TMP/nogroup.out" 2>&1 || rc=$?
check "recipe without --group-add: refused (exit 77, got $rc)" \
    sh -c "[ $rc -eq 77 ] && grep -q permission_denied '$OCTO_TMP/nogroup.out'"

# A lock held on the host: run -n in the container exits 11, acquire 10 naming the holder.
# The holder is the host's octostorectl run (its pid is $!), the container its command.
RECIPE="$PODMAN run --rm $RUNF -v $OCTO_TMP/run:/run/octostored:ro --group-add $GID
    --user 1000:1000 $IMG /octostorectl"
# shellcheck disable=SC2086
"$C" run pm/a -- $RECIPE run -n pm/a -- /octostorectl ping &
wait $!
rc=$?
check "busy: run -n in the container exits 11 (passed out through podman and run: $rc)" \
    [ "$rc" -eq 11 ]
# shellcheck disable=SC2086
"$C" run pm/a -- $RECIPE acquire pm/a >"$OCTO_TMP/acq.out" 2>&1 &
hp=$!
wait $hp
rc=$?
check "busy: acquire in the container exits 10 (got $rc)" [ "$rc" -eq 10 ]
check "busy: ... naming the host holder (uid 0, pid $hp)" sh -c \
    "grep -qx 'local.uid: 0' '$OCTO_TMP/acq.out' && grep -qx 'local.pid: $hp' '$OCTO_TMP/acq.out'"

# hold_then_kill WHAT NAME UID [podman run options...]: a container that holds NAME (run
# whose command waits for the same lock, so it blocks), checked from the host: status shows
# the container's host pid and UID; then podman kill, and the lease must be free within 5 s.
is_free() { "$C" --json status "$1" | grep -q '"status":"free"'; }
hold_then_kill() {
	what=$1 name=$2 uid=$3
	shift 3
	# shellcheck disable=SC2086
	pm run -d --name "octpm-$$-$name" $RUNF -v "$OCTO_TMP/run:/run/octostored:ro" "$@" \
	    "$IMG" /octostorectl run "pm/$name" -- /octostorectl run "pm/$name" -- \
	    /octostorectl ping >/dev/null || { not_ok "$what: podman run -d"; return; }
	poll_until 10 sh -c "\"$C\" --json status pm/$name | grep -q '\"status\":\"held\"'" ||
	    { not_ok "$what: the container did not take pm/$name"; return; }
	hp=$(pm inspect --format '{{.State.Pid}}' "octpm-$$-$name")
	js=$("$C" --json status "pm/$name")
	check "$what: status on the host shows host pid $hp and uid $uid" sh -c \
	    "printf '%s' '$js' | grep -q '\"pid\":$hp,\"pid_stale\":false,\"uid\":$uid,'"
	check "$what: the daemon logged the connection with host uid $uid and pid $hp" \
	    grep -q "uid=$uid gid=[0-9]* pid=$hp connected" "$OCTO_TMP/daemon.log"
	pm kill "octpm-$$-$name" >/dev/null || not_ok "$what: podman kill"
	t0=$(ms)
	if poll_until 5 is_free "pm/$name"; then
		ok "$what: lease released $(($(ms) - t0)) ms after podman kill returned (bound 5 s)"
	else
		not_ok "$what: lease still held 5 s after podman kill"
	fi
	pm rm --force --time 0 "octpm-$$-$name" >/dev/null 2>&1
}
hold_then_kill "recipe" k 1000 --group-add "$GID" --user 1000:1000

# --- user namespace: --uidmap/--gidmap, the host gid passed through the gid map ---
# Container ids 0..65535 are host BASE.., except gid $GID, which is itself, so that
# --group-add $GID (a setgroups() inside the namespace) names the host group.
BASE=400000
MAP="--uidmap 0:$BASE:65536 --gidmap 0:$BASE:$GID --gidmap $GID:$GID:1
    --gidmap $((GID + 1)):$((BASE + GID + 1)):$((65535 - GID))"
UNS_T="-e OCTOSTORED_TRUSTED_UID=65534"
rc=0
# shellcheck disable=SC2086
[ "$GID" -ge 65535 ] ||
    ctr $MAP $UNS_T --group-add "$GID" --user 1000:1000 -- ping >"$OCTO_TMP/uns.out" 2>&1 || rc=$?
if [ "$GID" -ge 65535 ]; then
	echo "# user namespace checks skipped: gid $GID does not fit the 65536-id map"
elif [ "$rc" -ne 0 ] && ! grep -q 'octostorectl:' "$OCTO_TMP/uns.out"; then
	echo "# user namespace checks skipped: podman cannot run this map here: $(tail -n 1 "$OCTO_TMP/uns.out")"
else
	check "userns: ping with the host gid mapped through and --group-add (exit $rc)" \
	    [ "$rc" -eq 0 ]
	rc=0
	# shellcheck disable=SC2086
	ctr $MAP --group-add "$GID" --user 1000:1000 -- ping >"$OCTO_TMP/uns.out" 2>&1 || rc=$?
	check "userns: without OCTOSTORED_TRUSTED_UID the unmapped daemon is untrusted ($rc)" \
	    sh -c "[ $rc -eq 77 ] && grep -q 'answered by uid 65534.*untrusted_daemon' '$OCTO_TMP/uns.out'"
	rc=0
	# shellcheck disable=SC2086
	ctr --uidmap 0:$BASE:65536 --gidmap 0:$BASE:65536 $UNS_T --group-add "$GID" \
	    --user 1000:1000 -- ping >"$OCTO_TMP/uns.out" 2>&1 || rc=$?
	check "userns: a single-range gid map makes --group-add $GID host gid $((BASE + GID)): refused ($rc)" \
	    sh -c "[ $rc -eq 77 ] && grep -q permission_denied '$OCTO_TMP/uns.out'"
	# shellcheck disable=SC2086
	hold_then_kill "userns" u $((BASE + 1000)) $MAP $UNS_T --group-add "$GID" --user 1000:1000
fi

# --- rootless podman (runc): a host user in the group, its podman with its own subuids ---
# rl ARGS...: podman as $RU, everything of it under $RL.
rl() {
	setpriv --reuid="$RU" --regid="$RU" --init-groups env HOME="$RL" \
	    XDG_RUNTIME_DIR="$RL/run" TMPDIR="$RL" podman --root "$RL/root" \
	    --runroot "$RL/runroot" --storage-driver vfs --runtime runc \
	    --events-backend none --cgroup-manager cgroupfs "$@"
}
if ! command -v newuidmap >/dev/null 2>&1 || ! command -v newgidmap >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
	echo "# rootless checks skipped: newuidmap/newgidmap (package uidmap), useradd or setpriv missing"
elif ! useradd -M -U -s /bin/false -G "$G" "$RU"; then
	not_ok "rootless: useradd $RU"
elif ! grep -q "^$RU:" /etc/subuid 2>/dev/null && ! grep -q "^$(id -u "$RU"):" /etc/subuid 2>/dev/null; then
	echo "# rootless checks skipped: useradd gave $RU no subordinate ids (/etc/subuid; SUB_UID_COUNT in login.defs)"
else
	mkdir -p "$RL/run"
	chmod 0700 "$RL/run"
	chown -R "$RU:$RU" "$RL"
	RUID=$(id -u "$RU")
	check "rootless: $RU itself connects from the host (a member of $G)" \
	    setpriv --reuid="$RU" --regid="$RU" --init-groups "$C" ping
	# shellcheck disable=SC2086
	if ! tar -C "$OCTO_TMP/img" -c octostorectl | rl import - "$IMG" \
	    >"$OCTO_TMP/rl.out" 2>&1 ||
	    ! rl run --rm $RUNF "$IMG" /octostorectl --version >"$OCTO_TMP/rl.out" 2>&1; then
		echo "# rootless checks skipped: rootless podman cannot run here: $(grep -v 'shared mount' "$OCTO_TMP/rl.out" | tail -n 1)"
	else
		# rlping [podman run options...]: ping from a rootless container; prints its exit status.
		rlping() {
			rc=0
			# shellcheck disable=SC2086
			rl run --rm $RUNF -v "$OCTO_TMP/run:/run/octostored:ro" \
			    -e OCTOSTORED_TRUSTED_UID=65534 "$@" "$IMG" /octostorectl ping \
			    >"$OCTO_TMP/rl.out" 2>&1 || rc=$?
			echo "$rc"
		}
		rc=$(rlping)
		check "rootless, no keep-groups: refused (exit 77, got $rc)" sh -c \
		    "[ $rc -eq 77 ] && grep -q permission_denied '$OCTO_TMP/rl.out'"
		rc=$(rlping --group-add keep-groups)
		check "rootless, --group-add keep-groups: the socket answers or refuses, podman ran (exit $rc)" \
		    sh -c "[ $rc -eq 0 ] || { [ $rc -eq 77 ] && grep -q permission_denied '$OCTO_TMP/rl.out'; }"
		if [ "$rc" -eq 0 ]; then
			echo "# rootless keep-groups with runc passed the group: ping works (uid $RUID)"
		else
			echo "# rootless keep-groups with runc: refused, exit $rc: the group did not reach the container (as issue 20 saw)"
		fi
	fi
fi
stop_daemon || not_ok "daemon exit status on SIGTERM"
finish
