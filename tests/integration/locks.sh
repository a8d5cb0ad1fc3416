#!/bin/sh
# locks.sh - octostorectl's lock commands end to end (issue 3, client side): text and
# --json output of acquire, status, list, release, renew and health, the exit codes 10
# (held, delayed), 65 (invalid argument), 1 (lease_not_current, not_owner) and 75
# (server unreachable), and escaping of server-supplied text.  Runs against the local
# backend (no network), then briefly against octofake for a list of 400 held locks (a
# reply far over the request limits: 64 KiB, 4,096 objects) and the unreachable case.
# upstream.sh covers the remote path in depth.
. "$top_srcdir/tests/integration/lib.sh"

CTL=$OCTOSTORECTL
PY=${PYTHON:-python3}
HOLD="$top_builddir/tests/integration/localstream"
FAKE="$top_builddir/tests/fake-upstream/octofake"
UCLIENT="$top_builddir/tests/integration/upstream_client"
HOLD_PID=
FAKE_PID=
FILL_PID=
kill_at_exit HOLD_PID FAKE_PID FILL_PID

# json_get FILE EXPR: print a Python expression over the JSON document d read from FILE.
json_get() {
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval("(" + sys.argv[2] + ")"))' "$1" "$2"
}
# run ARGS...: octostorectl with stdout in $OCTO_TMP/out, stderr in $OCTO_TMP/err, status in $RC.
run() {
	"$CTL" "$@" >"$OCTO_TMP/out" 2>"$OCTO_TMP/err"
	RC=$?
}
# has LINE: the last output holds exactly that line.
has() { grep -qxF -- "$1" "$OCTO_TMP/out"; }
# is EXPR: a Python expression over the last (JSON) output is True.
is() { [ "$(json_get "$OCTO_TMP/out" "$1")" = True ]; }

[ -x "$HOLD" ] || fail "$HOLD is not built"
mkdir -m 0700 "$OCTO_TMP/state"
start_daemon --log-level warn --backend=local --state-dir "$OCTO_TMP/state"

# --- health
run health
check "health: exit 0, text fields" sh -c '[ "$1" -eq 0 ] && grep -qx "status: ok" "$2" &&
    grep -qx "upstream.reachable: yes" "$2"' sh "$RC" "$OCTO_TMP/out"
run --json health
check "health --json: status, upstream map, base_url" \
    is 'd["status"] == "ok" and d["upstream"]["reachable"] is True and isinstance(d["base_url"], str)'

# --- acquire: text, then JSON; the lease goes when the process exits
run acquire t/one --ttl 30 --metadata "job 1"
check "acquire: exit 0" [ "$RC" -eq 0 ]
check "acquire: text names the lock" has "acquired: t/one"
check "acquire: a lease id and a fencing token" sh -c \
    'grep -Eq "^lease_id: [0-9a-f-]{36}$" "$1" && grep -Eq "^fencing_token: [1-9][0-9]*$" "$1"' \
    sh "$OCTO_TMP/out"
check "acquire: metadata shown" has 'metadata: job 1'
tok1=$(sed -n 's/^fencing_token: //p' "$OCTO_TMP/out")

run --json acquire t/one --ttl 30 --metadata "job 2"
check "acquire --json: exit 0, every field with its type" is \
    'd["status"] == "acquired" and d["name"] == "t/one" and len(d["lease_id"]) == 36 and
     isinstance(d["fencing_token"], int) and isinstance(d["expires_at"], str) and
     isinstance(d["renew_after_ms"], int) and d["metadata"] == "job 2"'
check "acquire --json: fencing token grew ($tok1 before)" is "d['fencing_token'] > $tok1"

# Control characters in metadata are refused before any backend sees them (exit 65);
# metadata.sh covers each class.  What a server sends anyway is escaped: see the
# remote part below.
run acquire t/ctl --metadata "$(printf 'job\033[2J 1')"
check "acquire with ESC in metadata: exit 65" [ "$RC" -eq 65 ]

# --- another connection holds t/held
mkfifo "$OCTO_TMP/hold.fifo"
"$HOLD" hold "$OCTOSTORED_SOCKET" t/held 60 >"$OCTO_TMP/hold.fifo" &
HOLD_PID=$!
read -r htok hlease <"$OCTO_TMP/hold.fifo" || fail "the holder did not acquire t/held"

run acquire t/held
check "acquire of a held lock: exit 10" [ "$RC" -eq 10 ]
check "held: text names the lock, holder and retry hint" sh -c \
    'grep -qx "held: t/held" "$1" && grep -q "^holder_id: ." "$1" &&
     grep -Eq "^retry_after_ms: [0-9]+$" "$1" && grep -qx "metadata: held-by-test" "$1"' \
    sh "$OCTO_TMP/out"
run --json acquire t/held
check "held --json: exit 10 and the held fields" sh -c '[ "$1" -eq 10 ]' sh "$RC"
check "held --json: status, holder_id, expires_at, retry_after_ms, metadata" is \
    'd["status"] == "held" and d["holder_id"] and d["expires_at"] and
     d["retry_after_ms"] >= 0 and d["metadata"] == "held-by-test" and "lease_id" not in d'

run status t/held
check "status: text shows held with the holder's fencing token" sh -c \
    '[ "$1" -eq 0 ] && grep -qx "status: held" "$2" && grep -qx "fencing_token: $3" "$2"' \
    sh "$RC" "$OCTO_TMP/out" "$htok"
run --json status t/held
check "status --json: name, status, holder, token, expiry, metadata" is \
    "d['name'] == 't/held' and d['status'] == 'held' and d['holder_id'] and
     d['fencing_token'] == $htok and d['expires_at'] and d['metadata'] == 'held-by-test'"

run list --prefix t/
check "list: header and one line per lock" sh -c \
    '[ "$1" -eq 0 ] && head -n 1 "$2" | grep -q "^NAME	STATUS	FENCING_TOKEN" &&
     grep -q "^t/held	held	$3	" "$2"' sh "$RC" "$OCTO_TMP/out" "$htok"
run --json list --prefix t/
check "list --json: locks array with t/held, total" is \
    '"t/held" in [l["name"] for l in d["locks"]] and d["total"] == len(d["locks"])'

# Ownership: the holder's lease id is useless from another connection.
run release t/held "$hlease"
check "release from another connection: exit 1, not_owner" sh -c \
    '[ "$1" -eq 1 ] && grep -q "(not_owner" "$2"' sh "$RC" "$OCTO_TMP/err"
run --json renew t/held "$hlease"
check "renew from another connection: exit 1, JSON error not_owner" \
    test "$RC $(json_get "$OCTO_TMP/out" 'd["error"]["code"]')" = "1 not_owner"
run release t/one 00000000-0000-4000-8000-000000000000
check "release of an unknown lease: exit 1, lease_not_current" sh -c \
    '[ "$1" -eq 1 ] && grep -q "(lease_not_current" "$2"' sh "$RC" "$OCTO_TMP/err"

# The holder exits: its lease goes with its connection.
kill -TERM "$HOLD_PID"
wait "$HOLD_PID" 2>/dev/null
HOLD_PID=
i=0
while :; do
	run --json status t/held
	is 'd["status"] == "free"' && break
	i=$((i + 1))
	[ "$i" -lt 250 ] || break
	sleep 0.02
done
check "status after the holder exits: free, no holder, token kept" \
    is "d['status'] == 'free' and d['holder_id'] is None and d['fencing_token'] == $htok"
run acquire t/held
check "acquire after the holder exits: exit 0" [ "$RC" -eq 0 ]

# --- release delay: delayed is exit 10 too
run acquire t/delay --lock-delay 30
check "acquire --lock-delay 30: exit 0" [ "$RC" -eq 0 ]
run --json acquire t/delay
check "acquire during the release delay: exit 10" [ "$RC" -eq 10 ]
check "delayed --json: available_at and retry_after_ms" is \
    'd["status"] == "delayed" and d["available_at"] and 0 < d["retry_after_ms"] <= 30000'
run acquire t/delay
check "delayed text" sh -c 'grep -qx "delayed: t/delay" "$1" && grep -q "^available_at: ." "$1"' \
    sh "$OCTO_TMP/out"

# --- invalid arguments: 65 with the parameter named
run acquire 'a b'
check "bad lock name: exit 65, param=name" sh -c \
    '[ "$1" -eq 65 ] && grep -q "invalid_argument, param=name" "$2"' sh "$RC" "$OCTO_TMP/err"
run --json acquire ok --ttl 3601
check "ttl 3601: exit 65, JSON error with param ttl" \
    test "$RC $(json_get "$OCTO_TMP/out" 'd["error"]["param"]')" = "65 ttl"
run status "$(printf 'x\033y')"
check "an escape in a rejected name is not echoed raw" sh -c \
    '[ "$1" -eq 65 ] && ! grep -q "$(printf "\033")" "$2"' sh "$RC" "$OCTO_TMP/err"

check "daemon stops cleanly" stop_daemon

# --- remote backend with the server gone: 75 and health says so
if [ -x "$FAKE" ]; then
	umask 077
	printf 'tok-%s\n' "$$" >"$OCTO_TMP/tok"
	"$FAKE" --token-file "$OCTO_TMP/tok" --port-file "$OCTO_TMP/port" 2>"$OCTO_TMP/fake.log" &
	FAKE_PID=$!
	i=0
	while [ ! -s "$OCTO_TMP/port" ]; do
		i=$((i + 1))
		{ [ "$i" -le 400 ] && kill -0 "$FAKE_PID" 2>/dev/null; } || fail "octofake did not start"
		sleep 0.05
	done
	cat >"$OCTO_TMP/remote.conf" <<EOF
base_url = http://127.0.0.1:$(cat "$OCTO_TMP/port")
token_file = $OCTO_TMP/tok
connect_timeout = 1s
request_timeout = 2s
EOF
	start_daemon --log-level warn --config "$OCTO_TMP/remote.conf"
	run status r/one
	check "remote: status of a free lock, exit 0" sh -c '[ "$1" -eq 0 ] && grep -qx "status: free" "$2"' \
	    sh "$RC" "$OCTO_TMP/out"

	# A list of 400 held locks: some 60 KiB and over 10,000 objects, past the request
	# limits, which once applied to replies too (exit 70, protocol_error).
	mkfifo "$OCTO_TMP/fill.fifo"
	"$UCLIENT" fill "$OCTOSTORED_SOCKET" fill/ 400 >"$OCTO_TMP/fill.fifo" &
	FILL_PID=$!
	read -r held nheld <"$OCTO_TMP/fill.fifo" || fail "upstream_client fill did not start"
	check "remote: one connection holds 400 locks under fill/" test "$held $nheld" = "held 400"
	run --json list --prefix fill/
	check "remote: list --json of 400 locks, exit 0 (exit $RC)" [ "$RC" -eq 0 ]
	check "remote: list --json has the 400 held locks" is \
	    'len(d["locks"]) == 400 and d["total"] == 400 and
	     all(l["status"] == "held" for l in d["locks"]) and
	     sorted(l["name"] for l in d["locks"]) == sorted("fill/%d" % i for i in range(400))'
	run list --prefix fill/
	check "remote: list text shows 400 lines and a header" sh -c \
	    '[ "$1" -eq 0 ] && [ "$(grep -c "^fill/[0-9]*	held	" "$2")" -eq 400 ]' sh "$RC" "$OCTO_TMP/out"
	kill -TERM "$FILL_PID"
	wait "$FILL_PID" 2>/dev/null
	FILL_PID=

	# A lease the daemon declares lost (its renewal is refused) while the server still
	# shows the lock held: list says lost, in text as in JSON, never free.
	curl -sf -o /dev/null -d '{"status":409,"code":"lease_not_current","count":1,"path_prefix":"/locks/lost%2Fone/renew"}' \
	    "http://127.0.0.1:$(cat "$OCTO_TMP/port")/_fake/fault" || fail "octofake refused the renew fault"
	mkfifo "$OCTO_TMP/lost.fifo"
	"$HOLD" hold "$OCTOSTORED_SOCKET" lost/one 9 >"$OCTO_TMP/lost.fifo" &
	HOLD_PID=$!
	read -r _ _ <"$OCTO_TMP/lost.fifo" || fail "the holder did not acquire lost/one"
	lost_json() {
		run --json list --prefix lost/
		is '[l["status"] for l in d["locks"]] == ["lost"]'
	}
	check "remote: list --json shows the refused lease lost" poll_until 8 lost_json
	run list --prefix lost/
	check "remote: list text shows it lost, not free" sh -c \
	    '[ "$1" -eq 0 ] && grep -q "^lost/one	lost	" "$2"' sh "$RC" "$OCTO_TMP/out"
	kill -TERM "$HOLD_PID"
	wait "$HOLD_PID" 2>/dev/null
	HOLD_PID=

	# Metadata of 1,024 four-byte characters (4,096 bytes), as another SDK may set it:
	# the server counts characters.  octofake counts bytes, so its answer is injected
	# (a raw 200 body, where this octofake supports one).
	"$PY" - "$OCTO_TMP/md.json" <<'EOF'
import json, sys
md = "\U0001F600" * 1024
st = {"name": "meta/big", "status": "held", "holder_id": "99999999-2222-4333-8444-555555555555",
      "fencing_token": 9, "expires_at": "2030-01-01T00:00:00Z", "metadata": md}
json.dump({"status": 200, "count": 1, "path_prefix": "/locks/meta%2Fbig",
           "body": json.dumps(st)}, open(sys.argv[1], "w"))
EOF
	# Text a server sends with control characters in it (ESC, C1 CSI, DEL; another
	# SDK may have set it): octostorectl escapes it in text and --json output.
	"$PY" - "$OCTO_TMP/ctl.json" <<'EOF'
import json, sys
st = {"name": "meta/ctl", "status": "held", "holder_id": "99999999-2222-4333-8444-555555555555",
      "fencing_token": 7, "expires_at": "2030-01-01T00:00:00Z",
      "metadata": "job\x1b[2J a\x9bb\x7f"}
json.dump({"status": 200, "count": 2, "path_prefix": "/locks/meta%2Fctl",
           "body": json.dumps(st)}, open(sys.argv[1], "w"))
EOF
	if curl -sf -o /dev/null -d @"$OCTO_TMP/ctl.json" \
	    "http://127.0.0.1:$(cat "$OCTO_TMP/port")/_fake/fault"; then
		run status meta/ctl
		check "remote: status, metadata from the server shown escaped" \
		    has 'metadata: job\x1b[2J a\xc2\x9bb\x7f'
		check "remote: status text holds no raw ESC" \
		    sh -c '! grep -q "$(printf "\033")" "$1"' sh "$OCTO_TMP/out"
		run --json status meta/ctl
		check "remote: --json output holds no raw ESC, C2 9B or 7F byte" "$PY" -c \
		    'import sys; b = open(sys.argv[1], "rb").read(); sys.exit(b"\x1b" in b or b"\xc2\x9b" in b or b"\x7f" in b)' \
		    "$OCTO_TMP/out"
		check "remote: --json output is printable ASCII only" sh -c \
		    '! LC_ALL=C grep -q "[^ -~]" "$1"' sh "$OCTO_TMP/out"
		check "remote: --json metadata parses back to ESC, U+009B and DEL" \
		    is 'd["metadata"] == "job\x1b[2J a\x9bb\x7f"'
	else
		fail "octofake takes no raw fault body"
	fi
	if curl -sf -o /dev/null -d @"$OCTO_TMP/md.json" \
	    "http://127.0.0.1:$(cat "$OCTO_TMP/port")/_fake/fault"; then
		run --json status meta/big
		check "remote: status with 4,096 bytes of metadata, exit 0 (exit $RC)" [ "$RC" -eq 0 ]
		check "remote: the 1,024 characters of metadata arrive whole" \
		    is 'd["metadata"] == "\U0001F600" * 1024 and d["fencing_token"] == 9'
	else
		echo "# octofake takes no raw fault body: 4,096-byte metadata check skipped"
	fi
	kill -TERM "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
	run status r/one
	check "server gone: exit 75 (temporary failure)" [ "$RC" -eq 75 ]
	check "server gone: the error says unavailable" grep -q "(unavailable" "$OCTO_TMP/err"
	run health
	check "server gone: health answers, upstream not reachable" sh -c \
	    '[ "$1" -eq 0 ] && grep -qx "upstream.reachable: no" "$2" && ! grep -qx "status: ok" "$2"' \
	    sh "$RC" "$OCTO_TMP/out"
	check "daemon stops cleanly" stop_daemon
else
	echo "# octofake not built: remote checks skipped"
fi

finish
