#!/bin/sh
# rotate-crash.sh - token rotation is crash-safe (issue 6): the daemon is SIGKILLed at a
# random moment (0-200 ms) while a client fires rotate_token in a loop, many rounds.
# After each kill the token file must hold exactly one complete token that the fake
# accepts, and the temporary files a kill can leave behind must not stop a restart.
# rotate_token is admin-only: the test needs root.  ROTATE_ROUNDS sets the rounds (50).
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
T=$OCTO_TMP
ROUNDS=${ROTATE_ROUNDS:-50}
need curl
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: rotate_token is admin-only; run as root"
	exit 77
fi
[ -x "$FAKE" ] || fail "$FAKE is not built"

FAKE_PID=
LOOP_PID=
kill_at_exit LOOP_PID FAKE_PID
# The stress loop stops at its next round; the cleanup then kills it.
rotate_cleanup() {
	touch "$T/stop" 2>/dev/null
	octo_cleanup
}
trap rotate_cleanup EXIT

umask 077
mkdir "$T/tok" || fail "mkdir"
TOKFILE=$T/tok/token
newtoken() { echo "tok-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; }

# start_fake PORT TOKEN: octofake whose only user has TOKEN.
start_fake() {
	printf '%s\n' "$2" >"$T/fake-tok"
	rm -f "$T/port"
	"$FAKE" --token-file "$T/fake-tok" --listen "127.0.0.1:$1" --port-file "$T/port" \
	    2>>"$T/fake.log" &
	FAKE_PID=$!
	poll_until 20 test -s "$T/port" || fail "octofake did not start"
	U="http://127.0.0.1:$(cat "$T/port")"
}
TOK=$(newtoken)
printf '%s\n' "$TOK" >"$TOKFILE"
start_fake 0 "$TOK"
PORT=$(cat "$T/port")

cat >"$T/octostored.conf" <<EOF2
base_url = $U
token_file = $TOKFILE
log_level = info
connect_timeout = 1s
request_timeout = 2s
EOF2

# http_code TOKEN: the fake's answer to GET /locks with TOKEN (401 when refused).
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 \
	    -H "Authorization: Bearer $1" "$U/locks"
}
rotations() {
	curl -sS --noproxy '*' --max-time 5 "$U/_fake/stats" | sed -n 's/.*"rotate": *\([0-9]*\).*/\1/p'
}

bad_file=0
refused=0
older=0
changed=0
restart_fail=0
R0=$(rotations)
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	before=$(cat "$TOKFILE")
	# Not start_daemon, which ends the test: a daemon that does not come up is counted,
	# its log shown, and the rounds go on.
	# shellcheck disable=SC2086
	$OCTO_WRAPPER "$OCTOSTORED" --socket "$OCTOSTORED_SOCKET" --config "$T/octostored.conf" \
	    >"$OCTO_TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	if ! wait_ready "$OCTOSTORED_SOCKET" "$DAEMON_PID" 20000; then
		restart_fail=$((restart_fail + 1))
		echo "# round $r: the daemon did not start; the end of its log:"
		tail -n 20 "$OCTO_TMP/daemon.log" | sed 's/^/#   /'
	fi
	rm -f "$T/stop"
	(
		while [ ! -e "$T/stop" ]; do
			"$OCTOSTORECTL" -t 3000 rotate-token >/dev/null 2>&1
		done
	) &
	LOOP_PID=$!
	# A random moment 0-200 ms into the rotations.
	sleep "0.$(printf '%03d' $(($(od -An -N2 -tu2 /dev/urandom) % 201)))"
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	touch "$T/stop"
	wait "$LOOP_PID"
	LOOP_PID=
	lines=$(wc -l <"$TOKFILE")
	tok=$(cat "$TOKFILE")
	if [ "$lines" -ne 1 ] || ! printf '%s' "$tok" | grep -Eq '^[A-Za-z0-9_-]{8,}$'; then
		bad_file=$((bad_file + 1))
		echo "# round $r: the token file is not one complete token ($lines lines)"
	fi
	[ "$tok" != "$before" ] && changed=$((changed + 1))
	code=$(http_code "$tok")
	if [ "$code" = 401 ]; then
		refused=$((refused + 1))
		state=$(curl -sS --noproxy '*' --max-time 5 -X POST "$U/_fake/token_state" \
		    -d "{\"token\":\"$tok\"}" | sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p')
		# The server invalidates the old token the moment it rotates (OpenAPI: "invalidating
		# the current one") and the new one exists only in its reply: a kill after the
		# server rotated and before the rename loses that one rotation, and nothing can
		# save it. The file must then hold exactly the token that rotation replaced.
		[ "$state" = previous ] || older=$((older + 1))
		echo "# round $r: the server refuses the token in the file, which is the one the" \
		    "rotation in flight at the kill replaced ($state)"
		# Start over with a token both sides know, so that later rounds still count.
		kill -KILL "$FAKE_PID"
		wait "$FAKE_PID" 2>/dev/null
		TOK=$(newtoken)
		printf '%s\n' "$TOK" >"$TOKFILE"
		start_fake "$PORT" "$TOK"
	fi
done
N=$(rotations)
echo "# $ROUNDS rounds; $changed of them changed the file; leftover temporary files:" \
    "$(find "$T/tok" -name '.token.*' | wc -l)"
check "the daemon started in every round, whatever a kill left behind" [ "$restart_fail" -eq 0 ]
check "rotations were under way when the kills came ($changed of $ROUNDS rounds changed the file)" \
    [ "$changed" -gt 0 ]
check "the token file held one complete token after every kill ($bad_file bad)" \
    [ "$bad_file" -eq 0 ]
check "the file held the server's token, or the one the rotation in flight replaced, after every kill ($refused of $ROUNDS lost the rotation in flight, $older held anything older)" \
    [ "$older" -eq 0 ]
check "nothing but the token file and temporary .token.* files in its directory" \
    [ -z "$(find "$T/tok" -mindepth 1 ! -name token ! -name '.token.*')" ]
finish
