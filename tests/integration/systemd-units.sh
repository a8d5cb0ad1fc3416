#!/bin/sh
# systemd-units.sh - the shipped units pass `systemd-analyze verify`, the service's
# `systemd-analyze security` exposure is at most 2.0, and the sysusers.d/tmpfiles.d
# entries create the user, group and directories in a scratch root (issue 5).
. "$top_srcdir/tests/integration/lib.sh"

MAX_EXPOSURE=2.0

command -v systemd-analyze >/dev/null 2>&1 || {
	echo "SKIP: systemd-analyze not installed (Debian package systemd)"
	exit 77
}

# The unit as installed, but naming the daemon in the build tree so verify finds it.
units=$OCTO_TMP/units
mkdir -p "$units"
sed -e "s|@sbindir@|$top_builddir/daemon|g" -e "s|@sysconfdir@|/etc|g" \
    "$top_srcdir/systemd/octostored.service.in" >"$units/octostored.service"
cp "$top_srcdir/systemd/octostored.socket" "$units/octostored.socket"
check "no @variable@ left in the service" \
    sh -c "! grep -n '@[a-z]*@' '$units/octostored.service'"

# Documentation=man:... lines must resolve: let man(1) find our pages.
for sec in 1 3 5 8; do
	mkdir -p "$OCTO_TMP/man/man$sec"
	for page in "$top_srcdir"/doc/*."$sec"; do
		[ -f "$page" ] && cp "$page" "$OCTO_TMP/man/man$sec/"
	done
done

# Without man(1) installed, verify cannot check Documentation= (manpages.sh skips too).
man_opt=
command -v man >/dev/null 2>&1 || man_opt=--man=no
# shellcheck disable=SC2086
MANPATH=$OCTO_TMP/man systemd-analyze verify $man_opt "$units/octostored.service" \
    "$units/octostored.socket" >"$OCTO_TMP/verify.log" 2>&1
rc=$?
cat "$OCTO_TMP/verify.log"
check "systemd-analyze verify exits 0" test "$rc" -eq 0
check "systemd-analyze verify says nothing about our units" \
    sh -c "! grep -i octostored '$OCTO_TMP/verify.log'"

# Security exposure, printed for the CI log.
systemd-analyze security --offline=true "$units/octostored.service" \
    >"$OCTO_TMP/security.log" 2>&1
grep -E '^[^✓]' "$OCTO_TMP/security.log" | grep -v '^ *$' || true
exposure=$(sed -n 's/.*Overall exposure level for octostored.service: \([0-9.]*\).*/\1/p' \
    "$OCTO_TMP/security.log")
echo "security exposure of octostored.service: ${exposure:-unknown} (limit $MAX_EXPOSURE)"
check "security exposure was reported" test -n "$exposure"
check "security exposure ${exposure:-?} <= $MAX_EXPOSURE" \
    awk -v e="${exposure:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'

# sysusers.d and tmpfiles.d entries, applied to a scratch root.
root=$OCTO_TMP/root
mkdir -p "$root/etc"
if systemd-sysusers --root="$root" "$top_srcdir/systemd/octostored.sysusers" \
    >"$OCTO_TMP/sysusers.log" 2>&1; then
	ok "systemd-sysusers accepts octostored.sysusers"
else
	cat "$OCTO_TMP/sysusers.log"
	not_ok "systemd-sysusers accepts octostored.sysusers"
fi
gid=$(awk -F: '$1 == "octostore" { print $3 }' "$root/etc/group")
uid=$(awk -F: '$1 == "octostored" { print $3 }' "$root/etc/passwd")
check "group octostore created" test -n "$gid"
check "user octostored created with primary group octostore" \
    test -n "$uid" -a "$(awk -F: '$1 == "octostored" { print $4 }' "$root/etc/passwd")" = "$gid"
check "user octostored has no login shell" \
    sh -c "awk -F: '\$1 == \"octostored\" { print \$7 }' '$root/etc/passwd' | grep -q nologin"

if systemd-tmpfiles --root="$root" --create "$top_srcdir/systemd/octostored.tmpfiles" \
    >"$OCTO_TMP/tmpfiles.log" 2>&1; then
	ok "systemd-tmpfiles accepts octostored.tmpfiles"
else
	cat "$OCTO_TMP/tmpfiles.log"
	not_ok "systemd-tmpfiles accepts octostored.tmpfiles"
fi
check "/run/octostored is octostored:octostore 0750" \
    test "$(stat -c '%u:%g %a' "$root/run/octostored" 2>/dev/null)" = "$uid:$gid 750"
check "/var/lib/octostored is octostored:octostore 0750" \
    test "$(stat -c '%u:%g %a' "$root/var/lib/octostored" 2>/dev/null)" = "$uid:$gid 750"
check "/etc/octostore exists" test -d "$root/etc/octostore"

finish
