#!/bin/sh
# basic.sh - octostorectl against a private octostored (issue 2): ping with and without a
# payload, terminal escaping, --json output, daemon-status fields, the documented exit
# codes (64 usage, 69 daemon unavailable, 70 reply too large, 75 timeout), --help and
# --version.
. "$top_srcdir/tests/integration/lib.sh"

CTL=$OCTOSTORECTL
PY=${PYTHON:-python3}

# json_get FILE EXPR: print a Python expression over the JSON document d read from FILE.
json_get() {
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_rc WANT DESCRIPTION COMMAND...: the command exits with status WANT.
expect_rc() {
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$OCTO_TMP/out" 2>"$OCTO_TMP/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$what (exit $rc)"
	else
		not_ok "$what: exit $rc, expected $want"
		sed 's/^/	stderr: /' "$OCTO_TMP/err"
	fi
}

start_daemon --log-level warn

# --- ping
check "ping answers" sh -c '[ "$("$1" ping)" = pong ]' sh "$CTL"
check "ping echoes a payload" sh -c '[ "$("$1" ping "hello world")" = "pong hello world" ]' sh "$CTL"
# The payload comes back from the daemon; an ESC and a newline must reach the terminal
# escaped, as the four characters \x1b and \x0a.
esc=$(printf 'a\033[2Jb\nc')
"$CTL" ping "$esc" >"$OCTO_TMP/esc.out"
check "ping output escapes control characters" \
    sh -c '[ "$(cat "$1")" = "pong a\\x1b[2Jb\\x0ac" ]' sh "$OCTO_TMP/esc.out"
check "no raw ESC reaches the terminal" sh -c '! grep -q "$(printf "\033")" "$1"' sh "$OCTO_TMP/esc.out"
check "a backslash is escaped too" sh -c '[ "$("$1" ping "a\\b")" = "pong a\\\\b" ]' sh "$CTL"

"$CTL" --json ping "héllo \"quoted\"" >"$OCTO_TMP/ping.json"
check "--json ping echoes the payload as a JSON string" \
    test "$(json_get "$OCTO_TMP/ping.json" 'd["payload"]')" = 'héllo "quoted"'
"$CTL" ping --json >"$OCTO_TMP/ping2.json"
check "--json after the command, no payload: an empty object" \
    test "$(json_get "$OCTO_TMP/ping2.json" 'len(d)')" = 0
check "--socket overrides OCTOSTORED_SOCKET" sh -c '[ "$(env OCTOSTORED_SOCKET="$1/nowhere" \
    "$2" --socket "$3" ping)" = pong ]' sh "$OCTO_TMP" "$CTL" "$OCTOSTORED_SOCKET"

# --- daemon-status
"$CTL" --json daemon-status >"$OCTO_TMP/status.json"
check "daemon-status --json is one JSON object" \
    test "$(json_get "$OCTO_TMP/status.json" 'type(d).__name__')" = dict
check "daemon-status pid is the daemon's" \
    test "$(json_get "$OCTO_TMP/status.json" 'd["pid"]')" = "$DAEMON_PID"
version=$("$CTL" --version | sed -n 's/^octostorectl (octostored) //p')
check "daemon-status version matches octostorectl --version ($version)" \
    test "$(json_get "$OCTO_TMP/status.json" 'd["version"]')" = "$version"
check "daemon-status counters are integers, uptime and connections sane" \
    test "$(json_get "$OCTO_TMP/status.json" \
    'all(isinstance(d[k], int) and d[k] >= 0 for k in ("uptime_ms", "connections", "connections_total", "errors")) and d["connections"] >= 1 and d["connections_total"] >= 5')" = True
check "daemon-status counts our pings (at least the 6 above)" \
    test "$(json_get "$OCTO_TMP/status.json" 'd["requests"]["ping"] >= 6')" = True
check "daemon-status lists every method" \
    test "$(json_get "$OCTO_TMP/status.json" 'sorted(d["requests"]) == sorted(["hello", "ping", "daemon_status", "health", "acquire", "release", "renew", "status", "list", "rotate_token"])')" = True
"$CTL" daemon-status >"$OCTO_TMP/status.txt"
check "daemon-status text shows the pid" grep -qx "pid: $DAEMON_PID" "$OCTO_TMP/status.txt"
check "daemon-status text shows the ping counter" grep -q '^  ping: [0-9]' "$OCTO_TMP/status.txt"

# --- usage errors: 64, nothing sent
expect_rc 64 "no command" "$CTL"
expect_rc 64 "unknown command" "$CTL" frobnicate
expect_rc 64 "unknown option" "$CTL" --frobnicate ping
expect_rc 64 "too many arguments" "$CTL" ping a b
expect_rc 64 "missing argument" "$CTL" release onlyname
expect_rc 64 "option not valid for the command" "$CTL" ping --ttl 5
expect_rc 64 "non-numeric --ttl" "$CTL" acquire x --ttl soon
expect_rc 64 "non-numeric --timeout" "$CTL" --timeout abc ping
expect_rc 64 "run without -- CMD" "$CTL" run x
expect_rc 64 "run with nothing after --" "$CTL" run x --
expect_rc 64 "run with two names" "$CTL" run x y -- true
expect_rc 64 "run --wait with -n" "$CTL" run x --wait 1s -n -- true
expect_rc 64 "bad --wait duration" "$CTL" acquire x --wait 5parsecs
expect_rc 64 "negative --wait" "$CTL" acquire x --wait -1
expect_rc 64 "--detach without --hold" "$CTL" acquire x --detach
expect_rc 64 "--hold without --detach" "$CTL" acquire x --hold 10s
expect_rc 64 "--kill-after not valid for acquire" "$CTL" acquire x --kill-after 1s
expect_rc 64 "option missing its value" "$CTL" ping --socket
check "usage errors point to --help" grep -q -- "--help" "$OCTO_TMP/err"

# --- --help and --version
expect_rc 0 "--help" "$CTL" --help
for word in ping daemon-status health acquire release renew status list rotate-token \
    --socket --json --timeout --version; do
	grep -q -- "$word" "$OCTO_TMP/out" || not_ok "--help mentions $word"
done
for code in 0 1 10 11 64 65 69 70 75 77; do
	grep -q "^ *$code  " "$OCTO_TMP/out" || not_ok "--help documents exit status $code"
done
ok "--help lists the commands, options and exit codes"
expect_rc 0 "--version" "$CTL" --version
check "--version prints the package version" grep -qx "octostorectl (octostored) [0-9][0-9.]*" "$OCTO_TMP/out"

# --- daemon unavailable: 69
expect_rc 69 "missing socket" "$CTL" --socket "$OCTO_TMP/missing.sock" ping
check "the error names the socket" grep -q "missing.sock" "$OCTO_TMP/err"
expect_rc 69 "OCTOSTORED_SOCKET pointing nowhere" env OCTOSTORED_SOCKET="$OCTO_TMP/nowhere" "$CTL" ping
expect_rc 69 "--json still exits 69" "$CTL" --json --socket "$OCTO_TMP/missing.sock" daemon-status
check "--json reports the connect failure as a JSON error" \
    test "$(json_get "$OCTO_TMP/out" 'd["error"]["code"]')" = unavailable

# A socket that accepts and hangs up at once (69), and one that never answers (75 with
# --timeout).  Each fake server says "ready" through a fifo once it listens.
mkfifo "$OCTO_TMP/ready"
"$PY" - "$OCTO_TMP/mute.sock" "$OCTO_TMP/ready" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
with open(sys.argv[2], "w") as f:
    f.write("ready\n")
c1, _ = s.accept()	# first client: held open, never answered
c1.recv(64)
c2, _ = s.accept()	# second client: hung up on once its request is in
c2.recv(64)
c2.close()
c1.recv(64)		# returns when the first client gave up
EOF
mute_pid=$!
read -r _ <"$OCTO_TMP/ready"
start=$(date +%s%N)
expect_rc 75 "no reply within --timeout 300" "$CTL" --timeout 300 --socket "$OCTO_TMP/mute.sock" ping
elapsed=$((($(date +%s%N) - start) / 1000000))
check "the timeout took about 300 ms (took $elapsed ms)" test "$elapsed" -ge 290 -a "$elapsed" -lt 5000
check "the timeout error says timeout" grep -q "(timeout)" "$OCTO_TMP/err"
expect_rc 69 "daemon hangs up without replying" "$CTL" --timeout 5000 --socket "$OCTO_TMP/mute.sock" ping
kill "$mute_pid" 2>/dev/null
wait "$mute_pid" 2>/dev/null

# A reply over the client's 16 MiB limit: [1, 1, nil, {"payload": bin32 of 32 MiB}],
# refused on its header.  It is the daemon's fault, not the argument's: 70, not 65.
"$PY" - "$OCTO_TMP/big.sock" "$OCTO_TMP/ready" <<'EOF' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
with open(sys.argv[2], "w") as f:
    f.write("ready\n")
c, _ = s.accept()
c.recv(64)
c.sendall(b"\x94\x01\x01\xc0\x81\xa7payload\xc6" + struct.pack(">I", 32 << 20))
c.recv(64)		# returns when the client hung up
EOF
big_pid=$!
read -r _ <"$OCTO_TMP/ready"
expect_rc 70 "a reply over 16 MiB is a daemon failure" "$CTL" --timeout 5000 --socket "$OCTO_TMP/big.sock" ping
check "the error says the reply exceeds the client's limit" \
    grep -q "reply from the daemon exceeds the client's limit of 16777216 bytes (message_too_large)" "$OCTO_TMP/err"
kill "$big_pid" 2>/dev/null
wait "$big_pid" 2>/dev/null

# --- after the daemon stops
check "daemon stops cleanly on SIGTERM" stop_daemon
expect_rc 69 "ping after the daemon stopped" "$CTL" ping

finish
