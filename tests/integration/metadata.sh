#!/bin/sh
# metadata.sh - acquire metadata with a control character (C0, DEL, C1) is refused with
# invalid_argument, param metadata, by both backends alike, and nothing is acquired;
# ordinary UTF-8 text is kept (issue 21, finding 8).
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
[ -x "$FAKE" ] || fail "$FAKE is not built"
FAKE_PID=
kill_at_exit FAKE_PID
umask 077

# token NAME: the fencing token status reports (0: never handed out).
token() {
	"$OCTOSTORECTL" --json status "$1" | sed -n 's/.*"fencing_token":\([0-9]*\).*/\1/p'
}

# probe BACKEND: the checks against the daemon now running.
probe() {
	local be=$1 v i=0 out
	for v in "$(printf 'a\tb')" "$(printf 'line\nbreak')" "$(printf '\033[31mred')" \
	    "$(printf 'x\177')" "$(printf 'c1\302\200')" "$(printf 'csi\302\2332J')" \
	    "$(printf '\001')"; do
		i=$((i + 1))
		out=$("$BADCLIENT" multi "$OCTOSTORED_SOCKET" 1 acquire name=md/c$i \
		    ttl=30 "metadata=$v")
		check "$be: control character case $i is refused (got: $out)" \
		    [ "$out" = "error invalid_argument" ]
		check "$be: ... and md/c$i was never acquired (no fencing token)" \
		    [ "$(token "md/c$i")" = 0 ]
	done
	"$OCTOSTORECTL" acquire md/ctl --metadata "$(printf 'a\tb')" >/dev/null 2>"$OCTO_TMP/err"
	rc=$?
	check "$be: octostorectl acquire with a tab in metadata exits 65 (got $rc)" \
	    [ "$rc" -eq 65 ]
	check "$be: ... naming the parameter" grep -q "param=metadata" "$OCTO_TMP/err"
	out=$("$BADCLIENT" multi "$OCTOSTORED_SOCKET" 1 acquire name=md/ok ttl=30 \
	    "metadata=caf$(printf '\303\251') $(printf '\302\240')nbsp ok")
	check "$be: UTF-8 text (no control characters) is accepted (got: $out)" \
	    [ "${out#ok }" != "$out" ]
	check "$be: ... and md/ok then has a fencing token" [ "$(token md/ok)" != 0 ]
}

# --- the local backend
mkdir "$OCTO_TMP/state" || fail "mkdir"
start_daemon --backend=local --state-dir "$OCTO_TMP/state"
probe local
stop_daemon || not_ok "local: daemon exit status on SIGTERM"

# --- the remote backend, in front of octofake
TOK=tok-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOK" >"$OCTO_TMP/tok"
"$FAKE" --token-file "$OCTO_TMP/tok" --port-file "$OCTO_TMP/port" 2>"$OCTO_TMP/fake.log" &
FAKE_PID=$!
poll_until 20 test -s "$OCTO_TMP/port" || fail "octofake did not start"
start_daemon --base-url "http://127.0.0.1:$(cat "$OCTO_TMP/port")" \
    --token-file "$OCTO_TMP/tok"
probe remote
stop_daemon || not_ok "remote: daemon exit status on SIGTERM"

finish
