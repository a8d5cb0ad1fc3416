#!/bin/bash
# run.sh - octostorectl run (issue 4): CMD's exit status, its environment, -n and --wait
# giving 11, forwarded signals, the child dying with a SIGKILLed run (PDEATHSIG) before
# the lease is free, a SIGKILLed daemon stopping the child (exit 20), and, against the
# fake, lease loss: SIGTERM to the child, SIGKILL after --kill-after, exit 20.
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
C=$OCTOSTORECTL
T=$OCTO_TMP
FAKE_PID=
BG=
kill_at_exit BG FAKE_PID

# alive PID: the process exists and is not a zombie.
alive() { [ -e "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
dead() { ! alive "$1"; }
status_of() { "$C" --json status "$1" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
is_free() { [ "$(status_of "$1")" = free ]; }
# A background job of a script starts with SIGINT ignored; give run the defaults back.
# (A variable, not a function, so that $! is run itself.)
RUN="env --default-signal=INT,TERM,HUP $C run"

# A child that records its pid, records the signals it gets and works until told to stop.
cat >"$T/child.sh" <<'EOF'
#!/bin/sh
# child.sh DIR [ignore]: pid to DIR/pid, each signal to DIR/sig, exits 0 on one.
d=$1
if [ "${2:-}" = ignore ]; then
	trap 'echo TERM-ignored >>"$d/sig"' TERM
else
	trap 'echo TERM >>"$d/sig"; exit 0' TERM
fi
trap 'echo INT >>"$d/sig"; exit 0' INT
trap 'echo HUP >>"$d/sig"; exit 0' HUP
echo $$ >"$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"
i=0
while [ "$i" -lt 1200 ] && [ ! -e "$d/stop" ]; do
	sleep 0.05
	i=$((i + 1))
done
EOF
chmod +x "$T/child.sh"

umask 077
mkdir "$T/state" || fail "mkdir"
start_daemon --backend=local --state-dir "$T/state"

# --- CMD's exit status, 128 + N for a signal ---
$RUN st/a -- true
check "exit 0 from true" [ $? -eq 0 ]
$RUN st/a -- sh -c 'exit 3'
check "exit 3 propagated" [ $? -eq 3 ]
$RUN st/a -- sh -c 'kill -TERM $$'
check "killed by SIGTERM: 143" [ $? -eq 143 ]
$RUN st/a -- "$T/no-such-command" 2>/dev/null
check "missing command: 127" [ $? -eq 127 ]
check "lock free after run" is_free st/a

# --- the child's environment: the lease, never the token ---
OCTOSTORE_TOKEN=secret-tok $RUN --ttl 30 env/a -- env >"$T/env.out"
check "env: run exit 0" [ $? -eq 0 ]
check "env: OCTOSTORE_LOCK_NAME" grep -qx 'OCTOSTORE_LOCK_NAME=env/a' "$T/env.out"
check "env: OCTOSTORE_FENCING_TOKEN is a number" \
    grep -qE '^OCTOSTORE_FENCING_TOKEN=[0-9]+$' "$T/env.out"
check "env: OCTOSTORE_LEASE_EXPIRES_AT is a time" \
    grep -qE '^OCTOSTORE_LEASE_EXPIRES_AT=[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$T/env.out"
check "env: no OCTOSTORE_TOKEN" sh -c "! grep -q '^OCTOSTORE_TOKEN=' '$T/env.out'"
check "env: no token value" sh -c "! grep -q secret-tok '$T/env.out'"

# --- busy: -n exits 11 at once, --wait 1s times out with 11 ---
mkdir "$T/busy"
$RUN busy/a -- "$T/child.sh" "$T/busy" &
BG="$BG $!"
P1=$!
poll_until 10 test -s "$T/busy/pid" || fail "child did not start"
t0=$(ms)
$RUN -n busy/a -- true 2>/dev/null
rc=$?
el=$(($(ms) - t0))
check "-n while held: exit 11" [ "$rc" -eq 11 ]
# "At once": well under the 3 s a loaded machine may take to start a process twice.
check "-n answers at once ($el ms)" [ "$el" -lt 3000 ]
t0=$(ms)
$RUN --wait 1s busy/a -- true 2>/dev/null
rc=$?
el=$(($(ms) - t0))
check "--wait 1s while held: exit 11" [ "$rc" -eq 11 ]
check "--wait 1s waited about 1 s ($el ms)" [ "$el" -ge 900 -a "$el" -lt 5000 ]
t0=$(ms)
"$C" acquire --wait 500ms busy/a 2>"$T/busy/acq.err"
rc=$?
check "acquire --wait 500ms while held: exit 11 ($rc)" [ "$rc" -eq 11 ]
check "acquire --wait 500ms waited ($(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -ge 400 ]
# A waiter without --wait gets the lock once the holder is done.
$RUN busy/a -- sh -c 'echo got >"$0"' "$T/busy/second" &
P2=$!
BG="$BG $P2"
touch "$T/busy/stop"
wait "$P1"
check "holder: exit 0" [ $? -eq 0 ]
wait "$P2"
rc=$?
check "waiter without --wait ran after the holder" [ "$rc" -eq 0 -a -s "$T/busy/second" ]

# --- acquire --detach --hold: the lease outlives the command, another one releases it ---
"$C" --json acquire det/a --detach --hold 30s >"$T/det.json"
check "detach: acquire exit 0" [ $? -eq 0 ]
LID=$(sed -n 's/.*"lease_id": *"\([^"]*\)".*/\1/p' "$T/det.json")
check "detach: still held after the command exited" [ "$(status_of det/a)" = held ]
"$C" release det/a "$LID"
check "detach: released by another process" [ $? -eq 0 ]
check "detach: free after release" is_free det/a

# --- a signal while waiting ends the wait at once and leaves nothing acquired ---
mkdir "$T/wsig"
$RUN wsig/a -- "$T/child.sh" "$T/wsig" &
P1=$!
BG="$BG $P1"
poll_until 10 test -s "$T/wsig/pid" || fail "child did not start"
$RUN wsig/a -- touch "$T/wsig/ran" 2>/dev/null &
P2=$!
# Nothing shows a queued waiter; give it time to connect (a SIGTERM before that would
# also end it with 143, by the default action).
sleep 0.3
t0=$(ms)
kill -TERM "$P2"
wait "$P2"
rc=$?
el=$(($(ms) - t0))
check "SIGTERM while waiting: exit 143 ($rc)" [ "$rc" -eq 143 ]
check "SIGTERM while waiting: at once ($el ms)" [ "$el" -lt 3000 ]
touch "$T/wsig/stop"
wait "$P1"
check "the interrupted waiter never ran its command" [ ! -e "$T/wsig/ran" ]
check "wsig/a free afterwards" poll_until 5 is_free wsig/a

# --- SIGTERM, SIGINT and SIGHUP are forwarded to the child ---
for sig in TERM INT HUP; do
	mkdir "$T/fw$sig"
	$RUN fw/$sig -- "$T/child.sh" "$T/fw$sig" &
	P1=$!
	BG="$BG $P1"
	poll_until 10 test -s "$T/fw$sig/pid" || fail "child did not start"
	kill -"$sig" "$P1"
	wait "$P1"
	rc=$?
	check "SIG$sig forwarded: child recorded it" grep -qx "$sig" "$T/fw$sig/sig"
	check "SIG$sig forwarded: run exits with the child's 0 ($rc)" [ "$rc" -eq 0 ]
	check "SIG$sig forwarded: lock free" is_free "fw/$sig"
done

# --- run SIGKILLed: the child dies with it (PDEATHSIG) before the lease is free ---
mkdir "$T/pk"
$RUN --ttl 30 pk/a -- "$T/child.sh" "$T/pk" &
P1=$!
poll_until 10 test -s "$T/pk/pid" || fail "child did not start"
CH=$(cat "$T/pk/pid")
kill -KILL "$P1"
wait "$P1" 2>/dev/null
order=ok
seen_free=no
for i in $(seq 1 250); do
	if is_free pk/a; then
		seen_free=yes
		alive "$CH" && order=bad
		break
	fi
	sleep 0.02
done
check "run SIGKILLed: the lease becomes free" [ "$seen_free" = yes ]
check "run SIGKILLed: the child was gone when the lease showed free" [ "$order" = ok ]
check "run SIGKILLed: the child is gone" poll_until 5 dead "$CH"

# --- the daemon SIGKILLed: the child gets SIGTERM and run exits 20 at once ---
mkdir "$T/dk"
$RUN --ttl 10 dk/a -- "$T/child.sh" "$T/dk" 2>"$T/dk/err" &
P1=$!
poll_until 10 test -s "$T/dk/pid" || fail "child did not start"
t0=$(ms)
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
wait "$P1"
rc=$?
el=$(($(ms) - t0))
check "daemon killed: run exits 20 ($rc)" [ "$rc" -eq 20 ]
check "daemon killed: the child got SIGTERM" grep -qx TERM "$T/dk/sig"
check "daemon killed: exit in $el ms, well before 80% of the 10 s TTL" [ "$el" -lt 2000 ]

# --- lease loss against the fake: SIGTERM, SIGKILL after --kill-after, exit 20 ---
if ! command -v curl >/dev/null 2>&1 || [ ! -x "$FAKE" ]; then
	echo "# skipping the lease-loss checks: curl or octofake missing"
	finish
fi
TOK=tok-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOK" >"$T/fake-tok"
printf '%s\n' "$TOK" >"$T/daemon-tok"
"$FAKE" --token-file "$T/fake-tok" --port-file "$T/port" 2>"$T/fake.log" &
FAKE_PID=$!
poll_until 20 test -s "$T/port" || fail "octofake did not start"
U="http://127.0.0.1:$(cat "$T/port")"
cat >"$T/octostored.conf" <<EOF
base_url = $U
token_file = $T/daemon-tok
log_level = debug
request_timeout = 2s
EOF
OCTOSTORED_SOCKET="$T/sock2"
export OCTOSTORED_SOCKET
start_daemon --config "$T/octostored.conf"
expire() { curl -sS --noproxy '*' -X POST -d "{\"name\":\"$1\"}" "$U/_fake/expire" >/dev/null; }

mkdir "$T/ll"
$RUN --ttl 3 ll/a -- "$T/child.sh" "$T/ll" 2>"$T/ll/err" &
P1=$!
BG="$BG $P1"
poll_until 10 test -s "$T/ll/pid" || fail "child did not start"
expire ll/a || not_ok "lease loss: /_fake/expire failed"
t0=$(ms)
wait "$P1"
rc=$?
check "lease loss: run exits 20 ($rc)" [ "$rc" -eq 20 ]
check "lease loss: the child got SIGTERM" grep -qx TERM "$T/ll/sig"
check "lease loss: reported" grep -q 'lease lost (lease_not_current)' "$T/ll/err"
check "lease loss: within the 3 s TTL ($(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -lt 3000 ]

mkdir "$T/ki"
$RUN --ttl 10 --kill-after 1s ki/a -- "$T/child.sh" "$T/ki" ignore 2>"$T/ki/err" &
P1=$!
BG="$BG $P1"
poll_until 10 test -s "$T/ki/pid" || fail "child did not start"
CH=$(cat "$T/ki/pid")
expire ki/a || not_ok "kill-after: /_fake/expire failed"
poll_until 10 grep -q 'lease lost' "$T/ki/err"
t0=$(ms)
wait "$P1"
rc=$?
el=$(($(ms) - t0))
check "kill-after: run exits 20 ($rc)" [ "$rc" -eq 20 ]
check "kill-after: the child saw SIGTERM and ignored it" grep -qx TERM-ignored "$T/ki/sig"
check "kill-after: SIGKILL about 1 s after the loss ($el ms)" \
    [ "$el" -ge 500 -a "$el" -lt 3000 ]
check "kill-after: the child is gone" poll_until 5 dead "$CH"

finish
