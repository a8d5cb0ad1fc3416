#!/bin/sh
# notify.sh - sd_notify for real: READY=1, STATUS=, WATCHDOG=1 at half of WATCHDOG_USEC,
# RELOADING=1 (with MONOTONIC_USEC) and READY=1 around SIGHUP, STOPPING=1 on SIGTERM;
# no WATCHDOG=1 without WATCHDOG_USEC (issue 5).  notifyrecv plays the service manager.
. "$top_srcdir/tests/integration/lib.sh"

grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/autoconf.h" || {
	echo "SKIP: built --without-systemd"
	exit 77
}
NOTIFYRECV="$top_builddir/tests/integration/notifyrecv"

# No network: the upstream is a closed loopback port.
conf=$OCTO_TMP/octostored.conf
printf 'base_url = http://127.0.0.1:9\n' >"$conf"

echo "# watchdog 200 ms, reload, stop"
if "$NOTIFYRECV" -s "$OCTO_TMP/notify" -w 200000 -W 1000 -H -- \
    $OCTO_WRAPPER "$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config "$conf" \
    2>"$OCTO_TMP/daemon.log"; then
	ok "notifications with the watchdog enabled"
else
	not_ok "notifications with the watchdog enabled"
	tail -n 20 "$OCTO_TMP/daemon.log"
fi

echo "# no watchdog"
if "$NOTIFYRECV" -s "$OCTO_TMP/notify" -W 500 -- \
    $OCTO_WRAPPER "$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config "$conf" \
    2>"$OCTO_TMP/daemon.log"; then
	ok "notifications without the watchdog"
else
	not_ok "notifications without the watchdog"
	tail -n 20 "$OCTO_TMP/daemon.log"
fi

finish
