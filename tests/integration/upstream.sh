#!/bin/sh
# upstream.sh - every lock method end to end (octostorectl -> octostored -> octofake), the
# error paths, a hierarchical name, connection reuse, token secrecy, token rotation and the
# admin check, token reload on SIGHUP, the token file checks, plain http only to loopback
# and TLS verification with ca_file (issue 3).
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
CLIENT="$top_builddir/tests/integration/upstream_client"
need jq curl
[ -x "$FAKE" ] || fail "$FAKE is not built"

FAKE_PID=
EXTRA_PID=
kill_at_exit EXTRA_PID FAKE_PID

T=$OCTO_TMP
umask 077
TOK1=tok1-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
TOK2=tok2-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOK1" >"$T/fake-tok1"
printf '%s\n' "$TOK2" >"$T/fake-tok2"
printf '%s\n' "$TOK1" >"$T/daemon-tok"

start_fake "$T/port" --token-file "$T/fake-tok1" --token-file "$T/fake-tok2" \
    --verbose 2>"$T/fake.log"

stat_of() { fake_get /_fake/stats | jq -r "$1"; }
# ctl ARGS...: octostorectl --json; stdout in $OUT, exit status in $RC.
ctl() {
	OUT=$("$OCTOSTORECTL" --json "$@" 2>>"$T/ctl.err")
	RC=$?
	printf '%s\n' "$OUT" >>"$T/ctl.out"
}
jqo() { printf '%s' "$OUT" | jq -r "$1"; }

MAXC=4
# Detached leases are recorded in state_dir (issue 21).
mkdir "$T/state"
cat >"$T/octostored.conf" <<EOF
base_url = $U
token_file = $T/daemon-tok
state_dir = $T/state
log_level = trace
socket_mode = 0666
# uid 65534 plays a non-admin client, uid 65533 a non-root admin; by default only root
# and the socket group connect, and only root may rotate the token.
allow_uids = 65534, 65533
admin_uids = 65533
upstream_max_connections = $MAXC
connect_timeout = 1s
request_timeout = 3s
EOF
start_daemon --config "$T/octostored.conf"

# --- health ---
ctl health
check "health: exit 0" [ "$RC" -eq 0 ]
check "health: status ok, upstream reachable" \
    [ "$(jqo '.status + " " + (.upstream.reachable|tostring) + " " + .upstream.status')" = "ok true ok" ]
check "health: base_url" [ "$(jqo .base_url)" = "$U" ]

# --- acquire / status / renew / list / release with a hierarchical name ---
# A lease belongs to the connection that took it (issue 4), so its whole life runs on one
# connection of upstream_client; its checks print as ok / not ok lines.
N=ci/deploy/prod
"$CLIENT" lifecycle "$OCTOSTORED_SOCKET" "$N" ci/ >"$T/lifecycle.out" 2>&1
check "lease life cycle through liboctostore" [ $? -eq 0 ]
cat "$T/lifecycle.out"
check "hierarchical name sent as one segment" \
    grep -q 'POST /locks/ci%2Fdeploy%2Fprod/acquire' "$T/fake.log"
check "status, renew and release used the same encoding" sh -c \
    "grep -q 'GET /locks/ci%2Fdeploy%2Fprod ' '$T/fake.log' &&
     grep -q 'POST /locks/ci%2Fdeploy%2Fprod/renew' '$T/fake.log' &&
     grep -q 'POST /locks/ci%2Fdeploy%2Fprod/release' '$T/fake.log'"

# The CLI: one acquire per process (the lease is released when it exits).
ctl acquire "$N" --ttl 30 --metadata "job 8"
check "octostorectl acquire: acquired with lease, fencing token, metadata" \
    [ "$RC $(jqo '[.status, .name, (.fencing_token > 0), (.lease_id | length > 0), .metadata] | map(tostring) | join(" ")')" = "0 acquired $N true true job 8" ]
ctl status "$N"
check "octostorectl status: a lock name with its fencing token" \
    [ "$RC $(jqo '.name + " " + (.fencing_token > 0 | tostring)')" = "0 $N true" ]
ctl list --prefix ci/
check "octostorectl list --prefix: prefix echoed" [ "$RC $(jqo .prefix)" = "0 ci/" ]
ctl release "$N" 00000000-0000-4000-8000-000000000000
check "octostorectl release of an unknown lease: lease_not_current with request_id" \
    [ "$RC $(jqo '.error.code + " " + (.error.request_id | test("^req_[0-9a-f]{32}$") | tostring)')" = "1 lease_not_current true" ]
ctl renew "$N" 00000000-0000-4000-8000-000000000000
check "octostorectl renew of an unknown lease: lease_not_current" \
    [ "$(jqo .error.code)" = lease_not_current ]

# --- held: another user (token 2) has the lock ---
curl -sS --noproxy '*' -X POST -H "Authorization: Bearer $TOK2" -H 'Content-Type: application/json' \
    -d '{"ttl_seconds":300}' "$U/locks/held%2Fone/acquire" >/dev/null
ctl acquire held/one
check "acquire of a held lock: exit 10, status held, holder, retry_after_ms" \
    [ "$RC $(jqo '.status + " " + (.holder_id | length > 0 | tostring) + " " + (.retry_after_ms >= 0 | tostring)')" = "10 held true true" ]

# --- local validation: invalid_argument and no request upstream ---
BEFORE=$(stat_of .requests_total)
ctl acquire 'a//b'
check "empty component: invalid_argument, param name" \
    [ "$RC $(jqo '.error.code + " " + .error.param')" = "65 invalid_argument name" ]
ctl acquire 'a b'
check "space in name: invalid_argument" [ "$(jqo .error.code)" = invalid_argument ]
ctl acquire "$(printf 'x%.0s' $(seq 1 65))"
check "65-byte component: invalid_argument" [ "$(jqo .error.code)" = invalid_argument ]
ctl acquire ok-name --ttl 3601
check "ttl 3601: invalid_argument, param ttl" [ "$(jqo .error.param)" = ttl ]
ctl acquire ok-name --metadata "$(head -c 1025 /dev/zero | tr '\0' m)"
check "metadata 1025 bytes: invalid_argument, param metadata" [ "$(jqo .error.param)" = metadata ]
check "no request reached the server for invalid input" \
    [ "$(stat_of .requests_total)" = "$BEFORE" ]

# --- error paths ---
# status and list are forwarded as is (acquire retries transient errors, issue 4).
fake_post /_fake/fault '{"status":401,"code":"authentication_failed","path_prefix":"/locks"}'
ctl status e/auth
check "401: authentication_failed passed through, exit 77" \
    [ "$RC $(jqo '.error.code + " " + (.error.request_id | startswith("req_") | tostring)')" = "77 authentication_failed true" ]
ctl health
check "health after a 401: degraded, auth_ok false" \
    [ "$(jqo '.status + " " + (.upstream.auth_ok | tostring)')" = "degraded false" ]

fake_post /_fake/fault '{"status":503,"code":"upstream_unavailable","retry_after_ms":1234}'
ctl status e/503
check "503: code, retry_after_ms and request_id passed through, exit 75" \
    [ "$RC $(jqo '.error.code + " " + (.error.retry_after_ms | tostring) + " " + (.error.request_id | startswith("req_") | tostring)')" = "75 upstream_unavailable 1234 true" ]

fake_post /_fake/fault '{"status":429,"code":"rate_limited","retry_after_ms":250}'
ctl status e/429
check "429: rate_limited with retry_after_ms" \
    [ "$(jqo '.error.code + " " + (.error.retry_after_ms | tostring)')" = "rate_limited 250" ]

fake_post /_fake/fault '{"mode":"malformed"}'
ctl status e/malformed
check "malformed JSON: bad_upstream_response" [ "$(jqo .error.code)" = bad_upstream_response ]

fake_post /_fake/fault '{"mode":"oversize"}'
ctl list
check "2 MiB body: bad_upstream_response" [ "$(jqo .error.code)" = bad_upstream_response ]

fake_post /_fake/fault '{"mode":"close"}'
ctl status e/close
check "connection closed mid-response: unavailable, exit 75" \
    [ "$RC $(jqo .error.code)" = "75 unavailable" ]

ctl status e/after-faults
check "the daemon works again after the faults" [ "$RC $(jqo .status)" = "0 free" ]
ctl health
check "health after a good request: ok, auth_ok true" \
    [ "$(jqo '.status + " " + (.upstream.auth_ok | tostring)')" = "ok true" ]

# A hung request times out, and meanwhile other clients are served at once.
fake_post /_fake/fault '{"mode":"hang","path_prefix":"/locks/e%2Fslow"}'
A0=$(stat_of .requests.status)
"$OCTOSTORECTL" --json status e/slow >"$T/slow.out" 2>/dev/null &
SLOW=$!
i=0
while [ "$(stat_of .requests.status)" = "$A0" ] && [ "$i" -lt 200 ]; do
	i=$((i + 1))
	sleep 0.02
done
t0=$(date +%s%N)
"$OCTOSTORECTL" ping >/dev/null
t1=$(date +%s%N)
# A blocked loop would hold the ping until the 3 s request timeout; the CLI's own start
# (a libtool wrapper in the build tree) takes a few hundred ms.
check "ping answered while an upstream request hangs (took $(( (t1 - t0) / 1000000 )) ms)" \
    [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
check "the hung request was still in flight during that ping" kill -0 "$SLOW"
wait "$SLOW"
check "hung request: timeout after request_timeout, exit 75" \
    [ "$? $(jq -r .error.code "$T/slow.out")" = "75 timeout" ]
fake_post /_fake/clear '{}'

# --- connection reuse: 1,000 pairs from 8 processes over at most $MAXC connections ---
S0=$(fake_get /_fake/stats)
check "1,000 acquire/release pairs succeed" "$CLIENT" load "$OCTOSTORED_SOCKET" load 1000 8
S1=$(fake_get /_fake/stats)
delta() { echo $(( $(printf '%s' "$S1" | jq "$1") - $(printf '%s' "$S0" | jq "$1") )); }
check "all 1,000 pairs reached the server" \
    [ "$(delta .requests.acquire) $(delta .requests.release)" = "1000 1000" ]
# The second stats call itself is one of the new connections.
NEWC=$(( $(delta .connections_accepted) - 1 ))
check "at most $MAXC new upstream connections for 2,000 requests (got $NEWC)" \
    [ "$NEWC" -le "$MAXC" ]

# --- rotate_token: admin only, persisted atomically, never in the reply ---
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 0711 "$T"
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	OUT=$($NOBODY "$OCTOSTORECTL" --json health 2>/dev/null)
	check "uid 65534 can use the socket (health)" [ "$(jqo .status)" = ok ]
	R0=$(stat_of .requests.rotate)
	OUT=$($NOBODY "$OCTOSTORECTL" --json rotate-token 2>/dev/null)
	RC=$?
	check "rotate_token as uid 65534: permission_denied, exit 77" \
	    [ "$RC $(jqo .error.code)" = "77 permission_denied" ]
	check "refused rotation sent nothing upstream" [ "$(stat_of .requests.rotate)" = "$R0" ]
	ADMIN="setpriv --reuid=65533 --regid=65533 --clear-groups"
	OUT=$($ADMIN "$OCTOSTORECTL" --json rotate-token 2>/dev/null)
	RC=$?
	check "rotate_token as uid 65533, listed in admin_uids: rotated, persisted" \
	    [ "$RC $(jqo '(.rotated|tostring) + " " + (.persisted|tostring)')" = "0 true true" ]
	check "that rotation reached the server" [ "$(stat_of .requests.rotate)" = $((R0 + 1)) ]
	ADMTOK=$(cat "$T/daemon-tok")
	check "the admin's reply does not carry the token" \
	    sh -c "! printf '%s' '$OUT' | grep -qF -- '$ADMTOK'"
	chmod 0700 "$T"
else
	echo "# skipping the non-admin and admin_uids checks: needs root and setpriv"
fi
ctl rotate-token
check "rotate_token as root: rotated, persisted" \
    [ "$RC $(jqo '(.rotated|tostring) + " " + (.persisted|tostring) + " " + (.user_id | length > 0 | tostring)')" = "0 true true true" ]
NEWTOK=$(cat "$T/daemon-tok")
check "the token file holds a new token" [ -n "$NEWTOK" -a "$NEWTOK" != "$TOK1" ]
check "the token file is still mode 0600" [ "$(stat -c %a "$T/daemon-tok")" = 600 ]
check "no temporary file left beside it" [ -z "$(find "$T" -name '.token.*')" ]
check "the reply does not carry the token" sh -c "! grep -qF -- '$NEWTOK' '$T/ctl.out'"
check "the old token is refused by the server" [ "$(curl -s -o /dev/null -w '%{http_code}' \
    --noproxy '*' -H "Authorization: Bearer $TOK1" "$U/locks/x")" = 401 ]
ctl status e/after-rotate
check "the daemon uses the new token" [ "$RC $(jqo .status)" = "0 free" ]

# --- a rotation in flight: 401s to the token it replaces prove nothing ---
# The renew leaves with the old token while the daemon's own rotation is in flight, and
# the server (1 s latency on every request, served in arrival order) rotates first, so
# it answers the renew 401.  The daemon must resend it with the new token: no lost
# lease, no degraded health.  An attached lease can be renewed only on its holder's
# connection, which no client here can drive from a script; a detached lease can be
# renewed from any connection of its uid and goes through the same renew path.
LEASECLIENT="$top_builddir/tests/integration/leaseclient"
set -- $("$LEASECLIENT" detach "$OCTOSTORED_SOCKET" rot/held 60 120)
RLEASE=${1:-error}
check "rotation race: a detached lease is held" [ "$RLEASE" != error ]
fake_post /_fake/fault '{"latency_ms":1000}'
R0=$(stat_of .requests.rotate)
N0=$(grep -c 'lease lost' "$T/daemon.log")
"$OCTOSTORECTL" --json rotate-token >"$T/rot2.out" 2>>"$T/ctl.err" &
ROT=$!
# No fixed head start: the renew goes out once the fake has counted the rotation.
rotation_arrived() { [ "$(stat_of .requests.rotate)" != "$R0" ]; }
check "rotation race: the rotation reached the server" poll_until 10 rotation_arrived
RN=$("$LEASECLIENT" renew "$OCTOSTORED_SOCKET" rot/held "$RLEASE" 60 2>&1)
wait "$ROT"
RRC=$?
fake_post /_fake/clear '{}'
check "rotation race: the rotation succeeded" \
    [ "$RRC $(jq -r '(.rotated|tostring) + " " + (.persisted|tostring)' "$T/rot2.out")" = "0 true true" ]
check "rotation race: the server refused the renew's old token once" \
    grep -q 'POST /locks/rot%2Fheld/renew -> 401' "$T/fake.log"
check "rotation race: the renew succeeded all the same (got $RN)" [ "$RN" = renewed ]
# Before any other authenticated request could set auth_ok again.
ctl health
check "rotation race: health ok, auth_ok true" \
    [ "$(jqo '.status + " " + (.upstream.auth_ok | tostring)')" = "ok true" ]
check "rotation race: no lease lost" [ "$(grep -c 'lease lost' "$T/daemon.log")" = "$N0" ]
RST=$("$LEASECLIENT" status "$OCTOSTORED_SOCKET" rot/held)
check "rotation race: the lease is still held (got $RST)" \
    sh -c "printf '%s' '$RST' | grep -q '^held [0-9]* held detached$'"
check "rotation race: the rotated token is in the file" \
    [ "$(cat "$T/daemon-tok")" != "$NEWTOK" ]
ROTTOK=$(cat "$T/daemon-tok")
check "rotation race: the reply does not carry the token" \
    sh -c "! grep -qF -- '$ROTTOK' '$T/rot2.out'"
"$LEASECLIENT" release "$OCTOSTORED_SOCKET" rot/held "$RLEASE" >/dev/null
ROOTTOK=$NEWTOK
NEWTOK=$ROTTOK

# A 401 that arrives while a rotation is in flight waits for it; when the rotation fails
# (here it hangs until request_timeout) the token is unchanged and the 401 is real: it
# is delivered then, and only then.
set -- $("$LEASECLIENT" detach "$OCTOSTORED_SOCKET" rot/held2 60 120)
RLEASE=${1:-error}
R0=$(stat_of .requests.rotate)
fake_post /_fake/fault '{"mode":"hang","path_prefix":"/auth/token/rotate"}'
{ "$OCTOSTORECTL" --json rotate-token >"$T/rot3.out" 2>>"$T/ctl.err"; } &
ROT=$!
check "held 401: the rotation reached the server" poll_until 10 rotation_arrived
fake_post /_fake/fault '{"status":401,"code":"authentication_failed","path_prefix":"/locks/rot%2Fheld2/renew"}'
{ "$LEASECLIENT" renew "$OCTOSTORED_SOCKET" rot/held2 "$RLEASE" 60 >"$T/renew3.out" 2>&1; } &
REN=$!
wait "$ROT"
wait "$REN"
fake_post /_fake/clear '{}'
check "held 401: the rotation timed out" [ "$(jq -r .error.code "$T/rot3.out")" = timeout ]
# The daemon's own log orders the two (it answers both in one loop turn, so the order in
# which the two client processes then finish is a race): the 401 is held, the rotation
# fails, and only then is the 401 delivered.
held_then_delivered() {
	awk '/401 during a token rotation; held until it ends/ && !h { h = NR }
	    h && !r && /POST \/auth\/token\/rotate failed/ { r = NR }
	    h && !d && /POST \/locks\/rot%2Fheld2\/renew -> 401 \(/ { d = NR }
	    END { exit !(h && r && d && r < d) }' "$T/daemon.log"
}
check "held 401: held, then delivered after the rotation ended" held_then_delivered
check "held 401: then delivered as it is (got $(cat "$T/renew3.out"))" \
    [ "$(cat "$T/renew3.out")" != renewed ]
check "held 401: the token is unchanged" [ "$(cat "$T/daemon-tok")" = "$NEWTOK" ]

# --- SIGHUP re-reads the token file: a revoked token shows, then the good one again ---
# reload_token CONTENT: replace the file atomically, SIGHUP, wait for the log line.
reload_token() {
	local n
	n=$(grep -c 'token reloaded' "$T/daemon.log")
	printf '%s\n' "$1" >"$T/daemon-tok.new"
	mv "$T/daemon-tok.new" "$T/daemon-tok"
	kill -HUP "$DAEMON_PID"
	i=0
	while [ "$(grep -c 'token reloaded' "$T/daemon.log")" = "$n" ] && [ "$i" -lt 250 ]; do
		i=$((i + 1))
		sleep 0.02
	done
}
reload_token "$TOK1"
ctl status e/reload
check "after SIGHUP the re-read (revoked) token is used: authentication_failed" \
    [ "$(jqo .error.code)" = authentication_failed ]
reload_token "$NEWTOK"
ctl status e/reload
check "after a second SIGHUP the current token works again" [ "$RC $(jqo .status)" = "0 free" ]
# A new token_file in the configuration needs a restart: said so, the old path is kept.
cp "$T/octostored.conf" "$T/octostored.conf.orig"
printf '%s\n' "$TOK1" >"$T/revoked-tok"
sed -i "s|^token_file = .*|token_file = $T/revoked-tok|" "$T/octostored.conf"
kill -HUP "$DAEMON_PID"
token_file_noted() { grep -q 'token_file changed; it takes effect only after a restart' "$T/daemon.log"; }
check "SIGHUP with a new token_file: a restart is needed, says the log" poll_until 5 token_file_noted
ctl status e/reload
check "the token still comes from the old path, not the revoked one" [ "$RC $(jqo .status)" = "0 free" ]
mv "$T/octostored.conf.orig" "$T/octostored.conf"

check "daemon stops cleanly" stop_daemon
check "the upstream session was ended with a real DELETE" \
    grep -q 'DELETE /sessions/.* -> 204' "$T/fake.log"
ADMTOK=${ADMTOK:-$TOK1}
for tok in "$TOK1" "$TOK2" "$ADMTOK" "$ROOTTOK" "$NEWTOK"; do
	check "token never in the daemon's trace output" sh -c "! grep -qF -- '$tok' '$T/daemon.log'"
	check "token never in octostorectl output" \
	    sh -c "! grep -qF -- '$tok' '$T/ctl.err' '$T/ctl.out'"
done

# --- a token file readable by group or others is refused ---
printf '%s\n' "$TOK1" >"$T/loose-tok"
chmod 0640 "$T/loose-tok"
"$OCTOSTORED" --config /dev/null --socket "$T/sock2" --base-url "$U" \
    --token-file "$T/loose-tok" >"$T/loose.log" 2>&1
check "group-readable token file: the daemon refuses to start" [ $? -ne 0 ]
check "with a clear error" grep -q 'accessible by group or others' "$T/loose.log"
check "that does not show the token" sh -c "! grep -qF -- '$TOK1' '$T/loose.log'"

# extra_daemon NAME CONFIG-LINES: start another daemon on $T/NAME.sock with that config.
extra_daemon() {
	printf '%s\n' "$2" >"$T/$1.conf"
	"$OCTOSTORED" --config "$T/$1.conf" --socket "$T/$1.sock" >"$T/$1.log" 2>&1 &
	EXTRA_PID=$!
	wait_ready "$T/$1.sock" "$EXTRA_PID" 20000 || fail "daemon $1 did not start"
}
extra_stop() {
	kill -TERM "$EXTRA_PID"
	wait "$EXTRA_PID"
	check "daemon $1 exits 0 on SIGTERM" [ $? -eq 0 ]
	EXTRA_PID=
}

# --- OCTOSTORE_TOKEN: used, warned about, and wiped from the environment ---
OCTOSTORE_TOKEN=$TOK1 "$OCTOSTORED" --config /dev/null --socket "$T/sock3" --base-url "$U" \
    --log-level trace >"$T/env.log" 2>&1 &
EXTRA_PID=$!
wait_ready "$T/sock3" "$EXTRA_PID" 20000 || fail "daemon with OCTOSTORE_TOKEN did not start"
check "OCTOSTORE_TOKEN: a line says a file is safer" grep -q 'a token file' "$T/env.log"
check "OCTOSTORE_TOKEN: wiped from /proc/PID/environ" \
    sh -c "! tr '\0' '\n' </proc/$EXTRA_PID/environ | grep -qF -- '$TOK1'"
OUT=$("$OCTOSTORECTL" --socket "$T/sock3" --json health 2>/dev/null)
check "OCTOSTORE_TOKEN: health answers" [ "$(jqo .upstream.reachable)" = true ]
extra_stop env

# --- plain http only to loopback, unless allow_insecure_http ---
"$OCTOSTORED" --config /dev/null --socket "$T/sock4" --base-url http://192.0.2.1:8080 \
    >"$T/refused.log" 2>&1
check "plain http to a non-loopback host: refused at start" [ $? -ne 0 ]
check "with a clear error" grep -q 'plain http is allowed only to a loopback' "$T/refused.log"
for url in http://128.0.0.1:1 http://localhost.example.com:1 http://[::2]:1 \
    http://0.0.0.0:1 ftp://127.0.0.1/ https://user:pw@127.0.0.1/; do
	"$OCTOSTORED" --config /dev/null --socket "$T/sock4" --base-url "$url" \
	    >"$T/refused.log" 2>&1
	check "base_url $url: refused at start" [ $? -ne 0 ]
done
check "a refused base_url's password is not logged" sh -c "! grep -q pw '$T/refused.log'"
for url in http://127.0.0.1:1 http://127.3.4.5:1 http://localhost:1 http://[::1]:1; do
	extra_daemon loopback "base_url = $url"
	extra_stop loopback
done

# --- nothing listens: transport failure -> unavailable, health says so ---
extra_daemon deadport "base_url = http://127.0.0.1:1
token_file = $T/fake-tok2"
OUT=$("$OCTOSTORECTL" --socket "$T/deadport.sock" --json status x 2>/dev/null)
check "connection refused: unavailable, exit 75" [ "$? $(jqo .error.code)" = "75 unavailable" ]
OUT=$("$OCTOSTORECTL" --socket "$T/deadport.sock" --json health 2>/dev/null)
check "connection refused: health unavailable, not reachable, last_error set" \
    [ "$(jqo '.status + " " + (.upstream.reachable | tostring) + " " + (.upstream.last_error | length > 0 | tostring)')" = "unavailable false true" ]
extra_stop deadport
extra_daemon insecure "base_url = http://192.0.2.1:8080
allow_insecure_http = true"
check "allow_insecure_http: starts, with a warning" \
    grep -q 'crosses the network in clear' "$T/insecure.log"
extra_stop insecure

# --- the server closes idle keep-alive connections ---
# The daemon keeps idle connections watched between requests; one the server closes must
# be dropped once, not spin the loop on a readable socket, and the next request reconnects.
IDLE_PID=
kill_at_exit IDLE_PID
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^/tok3-/' >"$T/idle-tok"
echo >>"$T/idle-tok"
"$FAKE" --token-file "$T/idle-tok" --port-file "$T/port-idle" --idle-timeout 1 \
    2>"$T/fake-idle.log" &
IDLE_PID=$!
poll_until 20 test -s "$T/port-idle" || fail "octofake --idle-timeout did not start"
IP=$(cat "$T/port-idle")
extra_daemon idle "base_url = http://127.0.0.1:$IP
token_file = $T/idle-tok
upstream_max_connections = 2"
for i in 1 2 3; do
	OUT=$("$OCTOSTORECTL" --socket "$T/idle.sock" --json status idle/x 2>/dev/null)
done
check "idle server: status answered" [ "$(jqo .status)" = free ]
# The daemon's side of a connection the server closed is in CLOSE_WAIT (state 08).
close_wait() {
	awk -v p="$(printf '%04X' "$IP")" \
	    '$4 == "08" && substr($3, index($3, ":") + 1) == p { n++ } END { exit !n }' \
	    /proc/net/tcp
}
check "idle server: the fake closed the daemon's idle connection" poll_until 10 close_wait
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$EXTRA_PID/stat"; }
C0=$(cpu_ticks)
sleep 1	# a measuring window, not a synchronization
C1=$(cpu_ticks)
check "idle server: the daemon is idle with the closed connection ($((C1 - C0)) ticks in 1 s)" \
    [ $((C1 - C0)) -lt 20 ]
OUT=$("$OCTOSTORECTL" --socket "$T/idle.sock" --json status idle/x 2>/dev/null)
check "idle server: the next request reconnects and is answered" [ "$(jqo .status)" = free ]
extra_stop idle
kill "$IDLE_PID"
wait "$IDLE_PID" 2>/dev/null
IDLE_PID=

# --- TLS: verification on, ca_file trusted; a wrong CA fails closed ---
if command -v openssl >/dev/null 2>&1; then
	for n in cert other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$T/$n.key" -out "$T/$n.pem" -days 1 \
		    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
		    2>/dev/null || fail "openssl req ($n)"
	done
	kill -TERM "$FAKE_PID"
	wait "$FAKE_PID"
	rm -f "$T/port"
	"$FAKE" --token-file "$T/fake-tok2" --port-file "$T/port" \
	    --tls-cert "$T/cert.pem" --tls-key "$T/cert.key" 2>"$T/fake-tls.log" &
	FAKE_PID=$!
	i=0
	while [ ! -s "$T/port" ]; do
		i=$((i + 1))
		{ [ "$i" -le 400 ] && kill -0 "$FAKE_PID" 2>/dev/null; } ||
		    fail "TLS octofake did not start"
		sleep 0.05
	done
	TU="https://127.0.0.1:$(cat "$T/port")"
	printf '%s\n' "$TOK2" >"$T/tls-tok"

	extra_daemon tls "base_url = $TU
ca_file = $T/cert.pem
token_file = $T/tls-tok"
	OUT=$("$OCTOSTORECTL" --socket "$T/tls.sock" --json status tls/one 2>/dev/null)
	check "https with the right ca_file: status answered" [ "$(jqo .status)" = free ]
	OUT=$("$OCTOSTORECTL" --socket "$T/tls.sock" --json health 2>/dev/null)
	check "https health: ok, auth_ok true" \
	    [ "$(jqo '.status + " " + (.upstream.auth_ok | tostring)')" = "ok true" ]
	extra_stop tls

	# http2 = true asks ALPN for h2; this HTTP/1.1-only server must still work.
	extra_daemon h2 "base_url = $TU
ca_file = $T/cert.pem
token_file = $T/tls-tok
http2 = true"
	OUT=$("$OCTOSTORECTL" --socket "$T/h2.sock" --json status tls/one 2>/dev/null)
	check "http2 = true against an HTTP/1.1 server: status answered" \
	    [ "$(jqo .status)" = free ]
	extra_stop h2

	extra_daemon wrongca "base_url = $TU
ca_file = $T/other.pem
token_file = $T/tls-tok"
	OUT=$("$OCTOSTORECTL" --socket "$T/wrongca.sock" --json status tls/one 2>/dev/null)
	check "https with a wrong CA: unavailable" [ "$(jqo .error.code)" = unavailable ]
	OUT=$("$OCTOSTORECTL" --socket "$T/wrongca.sock" --json health 2>/dev/null)
	check "https with a wrong CA: health unavailable, certificate error reported" \
	    [ "$(jqo '.status + " " + (.upstream.last_error | test("certificate") | tostring)')" = "unavailable true" ]
	extra_stop wrongca

	extra_daemon noca "base_url = $TU
token_file = $T/tls-tok"
	OUT=$("$OCTOSTORECTL" --socket "$T/noca.sock" --json status tls/one 2>/dev/null)
	check "https with the system CAs only: a self-signed server is refused" \
	    [ "$(jqo .error.code)" = unavailable ]
	extra_stop noca
	# ca_file replaces the system trust store, including libcurl's built-in CA
	# directory (/etc/ssl/certs on Debian).  In a private mount namespace a directory
	# trusting the fake's certificate (a c_rehash-style link) is bound over
	# /etc/ssl/certs: a daemon without ca_file gets through (the bind works), one
	# with an unrelated ca_file must not.
	if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 &&
	    unshare -m true 2>/dev/null; then
		mkdir "$T/capath"
		ln -s "$T/cert.pem" "$T/capath/$(openssl x509 -hash -noout -in "$T/cert.pem").0"
		# An unrelated CA, for ca_file and for libcurl's default CAINFO (which lives
		# in that directory too), so that only the directory lookup can trust the
		# fake.  Its subject differs from the fake's: OpenSSL looks issuers up by
		# subject, and a loaded certificate of the same subject hides the directory.
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout "$T/unrel.key" -out "$T/unrel.pem" -days 1 \
		    -subj /CN=octo-unrelated-ca 2>/dev/null || fail "openssl req (unrel)"
		cp "$T/unrel.pem" "$T/capath/ca-certificates.crt"
		# ns_daemon NAME CONFIG-LINES: extra_daemon inside the namespace.
		ns_daemon() {
			printf '%s\n' "$2" >"$T/$1.conf"
			unshare -m sh -c 'mount --bind "$1" /etc/ssl/certs && exec "$2" \
			    --config "$3" --socket "$4"' ns "$T/capath" "$OCTOSTORED" \
			    "$T/$1.conf" "$T/$1.sock" >"$T/$1.log" 2>&1 &
			EXTRA_PID=$!
			wait_ready "$T/$1.sock" "$EXTRA_PID" 20000 ||
			    fail "daemon $1 did not start in a mount namespace"
		}
		ns_daemon nscapath "base_url = $TU
token_file = $T/tls-tok"
		OUT=$("$OCTOSTORECTL" --socket "$T/nscapath.sock" --json status tls/one 2>/dev/null)
		check "namespace: without ca_file the CA directory is searched (got $(jqo '.status // .error.code'))" \
		    [ "$(jqo .status)" = free ]
		extra_stop nscapath
		ns_daemon nswrongca "base_url = $TU
ca_file = $T/unrel.pem
token_file = $T/tls-tok"
		OUT=$("$OCTOSTORECTL" --socket "$T/nswrongca.sock" --json status tls/one 2>/dev/null)
		check "namespace: ca_file replaces /etc/ssl/certs too: unavailable (got $(jqo '.status // .error.code'))" \
		    [ "$(jqo .error.code)" = unavailable ]
		extra_stop nswrongca
	else
		echo "# skipping the CA directory check: needs root and unshare -m"
	fi

	# An unreadable ca_file stops the daemon at start-up with a clear error.
	for bad in "$T/no-such-ca.pem" "$T/capath-dir" "$T/empty-ca.pem"; do
		case $bad in
		*dir) mkdir -p "$bad" ;;
		*empty*) : >"$bad" ;;
		esac
		printf 'base_url = %s\ntoken_file = %s\nca_file = %s\n' "$TU" "$T/tls-tok" \
		    "$bad" >"$T/badca.conf"
		"$OCTOSTORED" --config "$T/badca.conf" --socket "$T/sock5" >"$T/badca.log" 2>&1 &
		EXTRA_PID=$!
		# Bounded: a daemon that starts anyway is killed (and fails the check).
		poll_until 10 eval '! kill -0 "$EXTRA_PID" 2>/dev/null' || kill -TERM "$EXTRA_PID"
		wait "$EXTRA_PID"
		BRC=$?
		EXTRA_PID=
		check "ca_file $(basename "$bad"): the daemon refuses to start (exit $BRC)" \
		    [ "$BRC" -ne 0 ]
		check "ca_file $(basename "$bad"): with a clear error" \
		    grep -q "ca_file $bad: " "$T/badca.log"
	done
	check "TLS: token never in the daemons' output" \
	    sh -c "! grep -qF -- '$TOK2' '$T/tls.log' '$T/wrongca.log' '$T/noca.log'"
else
	echo "# no openssl CLI: TLS checks skipped"
fi

finish
