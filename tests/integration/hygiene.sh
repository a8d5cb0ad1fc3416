#!/bin/sh
# hygiene.sh - once the token is loaded the daemon is not dumpable (issue 6): no core
# file, no ptrace or /proc/PID/mem by other processes of its uid. The kernel shows it by
# giving the /proc/PID files of a non-dumpable process to root: run the daemon as an
# unprivileged uid and look at who owns its /proc/PID/environ. The token is never in the
# daemon's environment either.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "# skipped: needs root and setpriv to run the daemon as another uid"
	exit 77
fi
chmod 0711 "$OCTO_TMP"
mkdir "$OCTO_TMP/run"
chown 65534:65534 "$OCTO_TMP/run"
printf 'tok-hygiene-0123456789abcdef\n' >"$OCTO_TMP/run/token"
chown 65534:65534 "$OCTO_TMP/run/token"
chmod 0600 "$OCTO_TMP/run/token"
S="$OCTO_TMP/run/sock"
OCTOSTORE_TOKEN=tok-from-env-should-be-ignored-by-file-order \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$OCTOSTORED" --socket "$S" \
    --config /dev/null --token-file "$OCTO_TMP/run/token" \
    --base-url http://127.0.0.1:9 >"$OCTO_TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
check "daemon as uid 65534 answers ping" "$BADCLIENT" wait "$S" 10000 "$DAEMON_PID"
check "the daemon runs as uid 65534" [ "$(stat -c %u "/proc/$DAEMON_PID")" = 65534 ]
check "its /proc files belong to root: not dumpable" \
    [ "$(stat -c %u "/proc/$DAEMON_PID/environ")" = 0 ]
check "the token is not in its environment" \
    sh -c "! tr '\\0' '\\n' <'/proc/$DAEMON_PID/environ' | grep -q tok-"
check "nor in its argv" sh -c "! tr '\\0' ' ' <'/proc/$DAEMON_PID/cmdline' | grep -q tok-"
check "daemon exits 0 on SIGTERM" stop_daemon
check "the token is not in its log" sh -c "! grep -q tok- '$OCTO_TMP/daemon.log'"
finish
