#!/bin/sh
# install.sh - `make install DESTDIR=...` installs the daemon, CLI, library, header,
# pkg-config file, units, sysusers/tmpfiles entries, example config and manuals; a
# program built with `pkg-config --cflags --libs liboctostore` against the installed
# files alone talks to the installed daemon (issue 5).
. "$top_srcdir/tests/integration/lib.sh"

dest=$OCTO_TMP/root
# The parent make's jobserver and flags are not ours.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
    make -C "$top_builddir" install DESTDIR="$dest" >"$OCTO_TMP/install.log" 2>&1 || {
	tail -n 30 "$OCTO_TMP/install.log"
	fail "make install DESTDIR=$dest failed"
}
ok "make install DESTDIR=..."

# find_one NAME [find tests...]: the one installed file of that name, "" if none.
find_one() {
	local name=$1
	shift
	find "$dest" -name "$name" "$@" | head -n 1
}
# in_dest PATH: PATH with the DESTDIR prefix taken off.
in_dest() {
	echo "${1#"$dest"}"
}

for f in octostored:sbin octostorectl:bin; do
	path=$(find_one "${f%%:*}" -type f -path "*/${f#*:}/*")
	check "installed executable ${f%%:*} in ${f#*:}/" test -x "$path"
done
for f in liboctostore.so.3 liboctostore.so octostore.h octostore_err.h \
    octostored.socket octostorectl.1 liboctostore.3 octostored.conf.5 octostored.8; do
	check "installed $f" test -n "$(find_one "$f")"
done
pc=$(find_one liboctostore.pc -path '*/pkgconfig/*')
check "installed pkgconfig/liboctostore.pc" test -n "$pc"
libdir=$(dirname "$(dirname "$pc")")
unit=$(find_one octostored.service -path '*/systemd/system/*')
check "installed systemd/system/octostored.service" test -n "$unit"
check "installed socket unit beside the service" \
    test -f "$(dirname "$unit")/octostored.socket"
check "installed sysusers.d/octostored.conf" \
    test -n "$(find_one octostored.conf -path '*/lib/sysusers.d/*')"
check "installed tmpfiles.d/octostored.conf" \
    test -n "$(find_one octostored.conf -path '*/lib/tmpfiles.d/*')"
conf=$(find_one octostored.conf -path '*/etc/octostore/*')
check "installed etc/octostore/octostored.conf" test -n "$conf"
mandir=$(dirname "$(dirname "$(find_one octostored.8)")")

# The installed service starts the installed daemon with the installed config.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
echo "ExecStart=$exec_start"
daemon=${exec_start%% *}
check "ExecStart names the installed daemon" test -x "$dest$daemon" -a -f "$dest$daemon"
check "ExecStart names the installed config" \
    sh -c "echo '$exec_start' | grep -q -- ' --config $(in_dest "$conf")\( \|\$\)'"

# The installed units verify, with the daemon path rebased into DESTDIR.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$OCTO_TMP/units"
	sed "s|^ExecStart=$daemon |ExecStart=$dest$daemon |" "$unit" \
	    >"$OCTO_TMP/units/octostored.service"
	cp "$(dirname "$unit")/octostored.socket" "$OCTO_TMP/units/"
	man_opt=
	command -v man >/dev/null 2>&1 || man_opt=--man=no
	# shellcheck disable=SC2086
	MANPATH=$mandir systemd-analyze verify $man_opt "$OCTO_TMP/units/octostored.service" \
	    "$OCTO_TMP/units/octostored.socket" >"$OCTO_TMP/verify.log" 2>&1
	rc=$?
	cat "$OCTO_TMP/verify.log"
	check "systemd-analyze verify on the installed units" test "$rc" -eq 0
fi

# Build a client against the installed library only.
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs liboctostore) || fail "pkg-config liboctostore failed"
echo "pkg-config --cflags --libs liboctostore: $flags"
check "pkg-config flags point into DESTDIR" sh -c "echo '$flags' | grep -q -- '-L$dest'"
# The build's own CC, CFLAGS and LDFLAGS (a sanitizer build's library needs its runtime).
build_var() {
	sed -n "s/^$1 = //p" "$top_builddir/Makefile" | head -n 1
}
cc=$(build_var CC)
cflags=$(build_var CFLAGS)
ldflags=$(build_var LDFLAGS)
# shellcheck disable=SC2086
if ${cc:-cc} $cflags -Wall -Wextra -Werror -o "$OCTO_TMP/install-client" \
    "$top_srcdir/tests/integration/install-client.c" $flags $ldflags \
    >"$OCTO_TMP/cc.log" 2>&1; then
	ok "install-client.c compiles and links against the installed library"
else
	cat "$OCTO_TMP/cc.log"
	fail "install-client.c does not build against the installed library"
fi

LD_LIBRARY_PATH=$libdir
export LD_LIBRARY_PATH
check "install-client loads the installed liboctostore" \
    sh -c "ldd '$OCTO_TMP/install-client' | grep liboctostore | grep -q '$dest'"

# The installed daemon, the installed client program, the installed CLI.
OCTOSTORED=$dest$daemon
printf 'base_url = http://127.0.0.1:9\n' >"$OCTO_TMP/octostored.conf"
start_daemon --config "$OCTO_TMP/octostored.conf"
if "$OCTO_TMP/install-client" "$OCTOSTORED_SOCKET" >"$OCTO_TMP/client.log" 2>&1; then
	cat "$OCTO_TMP/client.log"
	ok "install-client talks to the installed daemon"
else
	cat "$OCTO_TMP/client.log"
	not_ok "install-client talks to the installed daemon"
fi
check "installed octostorectl ping" "$(find_one octostorectl -type f -path '*/bin/*')" --socket "$OCTOSTORED_SOCKET" ping
check "installed daemon exits 0 on SIGTERM" stop_daemon

finish
