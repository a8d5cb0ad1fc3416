#!/bin/sh
# squat.sh - clients check who answers the socket (issue 21, finding 6): another user who
# binds the socket path first is refused before anything is sent, and `run` never starts
# its command under that user's fake lock; OCTOSTORED_TRUSTED_UID adds one uid; a daemon
# run by the client's own user, and root's daemon, are accepted.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
    ! command -v useradd >/dev/null 2>&1; then
	echo "# skipped: needs root, setpriv and useradd to run processes as other users"
	exit 77
fi
CTL=$OCTOSTORECTL
SQU=octsc-sq$$
CLU=octsc-cl$$
SQ_PID=
USERD_PID=

# Stop what runs as the test users before removing them, then the library's cleanup.
squat_cleanup() {
	for p in $SQ_PID $USERD_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SQ_PID=
	USERD_PID=
	for u in $SQU $CLU; do
		id "$u" >/dev/null 2>&1 && userdel "$u"
	done
	octo_cleanup
}
trap squat_cleanup EXIT

useradd -M -U -s /bin/sh "$SQU" || fail "useradd $SQU"
useradd -M -U -s /bin/sh "$CLU" || fail "useradd $CLU"
SQUID=$(id -u "$SQU")
CLUID=$(id -u "$CLU")
AS() { u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; }
# In the background, setpriv itself (not a subshell running AS) gets $!.
# A python3 the test user may run (root's may be a shim under its home).
PY=
for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
	[ -n "$p" ] && AS "$SQU" "$p" -c '' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "SKIP: no python3 that user $SQU may run"; exit 77; }

chmod 0711 "$OCTO_TMP"
# A world-writable directory, as /tmp is: anyone may bind a socket in it first.
D=$OCTO_TMP/shared
mkdir "$D" && chmod 1777 "$D" || fail "mkdir $D"
SQLOG=$D/squatter.log

# The squatter answers every request with one map that satisfies ping, acquire and
# release, and logs how many bytes each connection sent.
cat >"$OCTO_TMP/squatter.py" <<'EOF'
import os, socket, struct, sys

def pk(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if isinstance(o, int):
        return b"\xce" + struct.pack(">I", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(o, list):
        return bytes([0x90 | len(o)]) + b"".join(pk(v) for v in o)
    return bytes([0x80 | len(o)]) + b"".join(pk(k) + pk(v) for k, v in o.items())

RESULT = {"status": "acquired", "name": "sq/x",
          "lease_id": "00000000-0000-4000-8000-000000000000", "fencing_token": 1,
          "expires_at": "2099-01-01T00:00:00Z", "renew_after_ms": 600000,
          "metadata": None, "released": True}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(8)
with open(sys.argv[2], "a") as f:
    f.write("ready\n")
while True:
    c, _ = s.accept()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
        if len(d) >= 3 and d[0] == 0x94 and d[1] == 0 and d[2] < 0x80:
            c.sendall(pk([1, d[2], None, RESULT]))
    c.close()
    with open(sys.argv[2], "a") as f:
        f.write("closed %d\n" % n)
EOF
chmod 0644 "$OCTO_TMP/squatter.py"

setpriv --reuid="$SQU" --regid="$(id -g "$SQU")" --clear-groups \
    "$PY" "$OCTO_TMP/squatter.py" "$D/sock" "$SQLOG" >/dev/null 2>"$OCTO_TMP/sq.err" &
SQ_PID=$!
poll_until 10 grep -q '^ready$' "$SQLOG" 2>/dev/null || fail "the squatter did not start"
check "the squatter (uid $SQUID) owns the socket file" [ "$(stat -c %u "$D/sock")" = "$SQUID" ]

closed() { [ "$(grep -c '^closed' "$SQLOG")" -ge "$1" ]; }
nconn=0
# refused WHO ARGS...: octostorectl (as root or as user WHO) refuses the squatter with
# exit 77 and untrusted_daemon naming its uid, and sends it nothing.
refused() {
	local who=$1 rc
	shift
	if [ "$who" = root ]; then
		"$CTL" -s "$D/sock" "$@" >"$OCTO_TMP/out" 2>"$OCTO_TMP/err"
	else
		AS "$who" "$CTL" -s "$D/sock" "$@" >"$OCTO_TMP/out" 2>"$OCTO_TMP/err"
	fi
	rc=$?
	cat "$OCTO_TMP/err"
	nconn=$((nconn + 1))
	check "$who: '$*' against the squatter exits 77 (got $rc)" [ "$rc" -eq 77 ]
	check "$who: ... with untrusted_daemon naming uid $SQUID" \
	    grep -q "answered by uid $SQUID, .*(untrusted_daemon)" "$OCTO_TMP/err"
	poll_until 10 closed "$nconn" || not_ok "$who: the squatter saw no close"
	check "$who: ... and sent the squatter nothing" \
	    [ "$(grep '^closed' "$SQLOG" | tail -n 1)" = "closed 0" ]
}

# --- 1. root and another user refuse the squatter; run never starts its command.
refused root ping
refused root run sq/x -- touch "$D/ran-root"
check "root: run did not start its command under the squatter" [ ! -e "$D/ran-root" ]
refused "$CLU" ping
refused "$CLU" run sq/x -- touch "$D/ran-cl"
check "$CLU: run did not start its command under the squatter" [ ! -e "$D/ran-cl" ]
"$CTL" -j -s "$D/sock" ping >"$OCTO_TMP/out" 2>/dev/null
nconn=$((nconn + 1))
check "--json: the error is untrusted_daemon" \
    grep -q '"code":"untrusted_daemon"' "$OCTO_TMP/out"

# Values of OCTOSTORED_TRUSTED_UID that are not a plain decimal uid add nothing.
for v in "" " $SQUID" "$SQUID " "+$SQUID" "0x$SQUID" "-1" "4294967295" "x"; do
	OCTOSTORED_TRUSTED_UID=$v "$CTL" -s "$D/sock" ping >/dev/null 2>&1
	rc=$?
	nconn=$((nconn + 1))
	check "OCTOSTORED_TRUSTED_UID='$v' is ignored: still refused (got $rc)" [ "$rc" -eq 77 ]
done

# --- 2. OCTOSTORED_TRUSTED_UID names the squatter's uid: it is accepted.
check "OCTOSTORED_TRUSTED_UID=$SQUID: root's ping is accepted" \
    env OCTOSTORED_TRUSTED_UID="$SQUID" "$CTL" -s "$D/sock" ping
nconn=$((nconn + 1))
OCTOSTORED_TRUSTED_UID=$SQUID "$CTL" -s "$D/sock" run sq/x -- touch "$D/ran-trusted"
nconn=$((nconn + 1))
check "OCTOSTORED_TRUSTED_UID=$SQUID: run starts its command" [ -e "$D/ran-trusted" ]

# --- 3. The squatter's own user trusts its own listener (a daemon you run yourself).
check "$SQU: its own listener is accepted" AS "$SQU" "$CTL" -s "$D/sock" ping
kill -KILL "$SQ_PID"
wait "$SQ_PID" 2>/dev/null
SQ_PID=

# --- 4. A real daemon run by a user: that user's clients use it, root's refuse it.
UD=$OCTO_TMP/userd
mkdir -p "$UD/state" && chown -R "$CLU:" "$UD" && chmod 0700 "$UD" || fail "mkdir $UD"
setpriv --reuid="$CLU" --regid="$(id -g "$CLU")" --clear-groups "$OCTOSTORED" \
    --socket "$UD/sock" --config /dev/null --backend=local --state-dir "$UD/state" >"$OCTO_TMP/userd.log" 2>&1 &
USERD_PID=$!
wait_ready "$UD/sock" "$USERD_PID" 20000 || {
	cat "$OCTO_TMP/userd.log"
	fail "the daemon run by $CLU did not become ready"
}
check "$CLU: ping to its own daemon" AS "$CLU" "$CTL" -s "$UD/sock" ping
AS "$CLU" "$CTL" -s "$UD/sock" run sq/own -- touch "$D/ran-own"
check "$CLU: run under its own daemon starts its command" [ -e "$D/ran-own" ]
"$CTL" -s "$UD/sock" run sq/own -- touch "$D/ran-root-userd" 2>"$OCTO_TMP/err"
rc=$?
check "root refuses a daemon of uid $CLUID (exit $rc)" [ "$rc" -eq 77 ]
check "root: ... and did not start the command" [ ! -e "$D/ran-root-userd" ]
kill -TERM "$USERD_PID"
wait "$USERD_PID" 2>/dev/null
USERD_PID=

# --- 5. Root's daemon is accepted by every user.
mkdir "$OCTO_TMP/state" || fail "mkdir state"
printf 'backend = local\nstate_dir = %s\nsocket_mode = 0666\nallow_uids = %s\n' \
    "$OCTO_TMP/state" "$CLUID" >"$OCTO_TMP/octostored.conf"
start_daemon --config "$OCTO_TMP/octostored.conf"
check "root: ping to root's daemon" "$CTL" ping
check "$CLU: ping to root's daemon" AS "$CLU" "$CTL" -s "$OCTOSTORED_SOCKET" ping
AS "$CLU" "$CTL" -s "$OCTOSTORED_SOCKET" run sq/root -- touch "$D/ran-rootd"
check "$CLU: run under root's daemon starts its command" [ -e "$D/ran-rootd" ]
stop_daemon || not_ok "daemon exit status on SIGTERM"

finish
