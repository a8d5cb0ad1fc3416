#!/bin/sh
# token-reflect.sh - a server (or proxy) that reflects the Authorization header into its
# answers never gets the token, or any 8-byte piece of it, handed to a client or written to
# the daemon's log; ids out of their documented form (UUIDs) are bad_upstream_response; a
# token replaced by SIGHUP is still looked for in answers sent with it (issue 21, finding 5).
. "$top_srcdir/tests/integration/lib.sh"

FAKE="$top_builddir/tests/fake-upstream/octofake"
need jq curl
[ -x "$FAKE" ] || fail "$FAKE is not built"

FAKE_PID=
CTL_BG=
kill_at_exit CTL_BG FAKE_PID

T=$OCTO_TMP
umask 077
# Letters and digits only, so that no 8 bytes of it turn up in a UUID by chance.
mktok() { printf 'reflect%s-%s' "$1" "$(head -c 60 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"; }
TOK1=$(mktok 1)
TOK2=$(mktok 2)
TOKO=$(mktok o)
printf '%s\n' "$TOK1" >"$T/fake-tok1"
printf '%s\n' "$TOK2" >"$T/fake-tok2"
printf '%s\n' "$TOKO" >"$T/fake-toko"
printf '%s\n' "$TOK1" >"$T/daemon-tok"

start_fake "$T/port" --token-file "$T/fake-tok1" --token-file "$T/fake-tok2" --token-file "$T/fake-toko" \
    --verbose 2>"$T/fake.log"

stat_of() { fake_get /_fake/stats | jq -r "$1"; }
# ctl ARGS...: octostorectl --json; stdout in $OUT, exit status in $RC; every reply and
# error is kept in ctl.out / ctl.err for the leak check.
ctl() {
	OUT=$("$OCTOSTORECTL" --json "$@" 2>>"$T/ctl.err")
	RC=$?
	printf '%s\n' "$OUT" >>"$T/ctl.out"
}
jqo() { printf '%s' "$OUT" | jq -r "$1"; }
# pieces TOKEN FILE...: every 8-byte piece of TOKEN found in the files, one a line.
pieces() {
	t=$1
	shift
	cat "$@" | awk -v t="$t" 'BEGIN { RS = "\001" }
	    { for (i = 1; i + 7 <= length(t); i++) if (index($0, substr(t, i, 8))) print substr(t, i, 8) }' |
	    sort -u
}
# no_leak WHAT TOKEN: no piece of TOKEN in any client reply or the daemon's log.
no_leak() {
	L=$(pieces "$2" "$T/ctl.out" "$T/ctl.err" "$T/daemon.log" | head -n 3 | tr '\n' ' ')
	check "$1: no 8-byte piece of the token in replies or the debug log${L:+ (found: $L)}" \
	    [ -z "$L" ]
}

mkdir "$T/state"
cat >"$T/octostored.conf" <<EOF
base_url = $U
token_file = $T/daemon-tok
state_dir = $T/state
log_level = trace
request_timeout = 3s
EOF
start_daemon --config "$T/octostored.conf"

# Before the server turns hostile: a detached lease the daemon keeps renewing, and a lock
# another principal holds (so that acquire answers "held" with a holder_id and metadata).
ctl acquire r/det --ttl 120 --detach --hold 600s --metadata det
LID=$(jqo .lease_id)
check "setup: detached lease acquired" [ "$RC $(jqo .status)" = "0 acquired" ]
curl -sS --noproxy '*' -X POST -H "Authorization: Bearer $TOKO" \
    -H 'Content-Type: application/json' -d '{"ttl_seconds":300,"metadata":"other"}' \
    "$U/locks/r%2Fheld/acquire" >/dev/null
ctl status r/held
check "setup: r/held held by another principal" [ "$(jqo .status)" = held ]
: >"$T/ctl.out"

# every_method: each client method and error path, answered by a reflecting server (which
# puts the token in every string, the status enums and error codes too).
every_method() {
	ctl acquire r/new --ttl 5
	check "$MODE: acquire: the lease id holding the token is bad_upstream_response" \
	    [ "$(jqo .error.code)" = bad_upstream_response ]
	ctl acquire r/held
	check "$MODE: acquire of a held lock: holder_id is no UUID: bad_upstream_response" \
	    [ "$(jqo .error.code)" = bad_upstream_response ]
	ctl status r/held
	check "$MODE: status: bad_upstream_response" [ "$(jqo .error.code)" = bad_upstream_response ]
	ctl status r/free
	check "$MODE: status of a free lock: bad_upstream_response" \
	    [ "$(jqo .error.code)" = bad_upstream_response ]
	ctl list
	check "$MODE: list: bad_upstream_response (a held lock's holder_id)" \
	    [ "$(jqo .error.code)" = bad_upstream_response ]
	# Through the daemon's own renewal of its detached lease, which then retries.
	ctl renew r/det "$LID" --ttl 120
	check "$MODE: renew: bad_upstream_response" [ "$(jqo .error.code)" = bad_upstream_response ]
	# The server's code holds the token too: no upstream_code, message and request_id gone.
	ctl release r/other 00000000-0000-4000-8000-000000000000
	check "$MODE: release of an unknown lease: code, message and request_id redacted" \
	    [ "$(jqo '[.error.code, .error.message, .error.request_id, .error.upstream_code] | map(tostring) | join(" ")')" = \
	      "upstream_error [redacted] null null" ]
	fake_post /_fake/fault '{"status":503,"code":"upstream_unavailable","details":"busy","path_prefix":"/locks/r%2Ffault"}'
	ctl status r/fault
	check "$MODE: an injected error: message redacted" [ "$(jqo .error.message)" = "[redacted]" ]
	fake_post /_fake/clear '{}'
	ctl health
	ctl daemon-status
}

for MODE in whole piece; do
	fake_post /_fake/reflect "{\"mode\":\"$MODE\"}"
	every_method
done
fake_post /_fake/reflect '{"mode":"off"}'
check "the daemon's own renewal retries met the reflection" \
    grep -q "renew name=r/det lease=.*bad_upstream_response, retry" "$T/daemon.log"
no_leak "reflected" "$TOK1"
check "redacted strings reached the client" grep -q '\[redacted\]' "$T/ctl.out"
check "the fake did reflect (some answer carried the token)" \
    grep -q 'bad_upstream_response' "$T/ctl.out"

ctl release r/det "$LID"
check "the detached lease is released once the server is honest again" \
    [ "$RC $(jqo .released)" = "0 true" ]

# --- SIGHUP to another token while an answer to the old one is on its way ---
fake_post /_fake/reflect '{"mode":"whole"}'
fake_post /_fake/fault '{"latency_ms":1500,"status":503,"code":"upstream_unavailable","count":-1,"details":"slow","path_prefix":"/locks/r%2Fslow"}'
N=$(stat_of .requests.status)
"$OCTOSTORECTL" --json status r/slow >"$T/slow.out" 2>>"$T/ctl.err" &
CTL_BG=$!
poll_until 5 sh -c "[ \$(curl -sS --noproxy '*' $U/_fake/stats | jq .requests.status) -gt $N ]" ||
    not_ok "the slow status did not reach the server"
printf '%s\n' "$TOK2" >"$T/daemon-tok"
kill -HUP "$DAEMON_PID"
poll_until 5 grep -q "token reloaded" "$T/daemon.log" || not_ok "no token reload logged"
wait "$CTL_BG"
CTL_BG=
cat "$T/slow.out" >>"$T/ctl.out"
check "reload: the answer sent with the old token came back redacted" \
    [ "$(jq -r .error.message "$T/slow.out")" = "[redacted]" ]
fake_post /_fake/clear '{}'
fake_post /_fake/fault '{"status":503,"code":"upstream_unavailable","details":"now","path_prefix":"/locks/r%2Fnow"}'
ctl status r/now
check "reload: the new token is redacted too" [ "$(jqo .error.message)" = "[redacted]" ]
fake_post /_fake/reflect '{"mode":"off"}'
no_leak "after SIGHUP, old token" "$TOK1"
no_leak "after SIGHUP, new token" "$TOK2"

check "daemon still alive" kill -0 "$DAEMON_PID"
check "daemon exits 0 on SIGTERM" stop_daemon
no_leak "at exit" "$TOK1"
finish
