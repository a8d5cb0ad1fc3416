#!/bin/sh
# fake.sh - smoke test of the fake OctoStore upstream (octofake) with the curl CLI:
# the API contract the daemon relies on, fault injection and the stats counters.
set -u

: "${top_builddir:?run through make check, or set top_builddir}"
FAKE="$top_builddir/tests/fake-upstream/octofake"

if ! command -v curl >/dev/null 2>&1; then
	echo "SKIP: curl not installed"
	exit 77
fi
if [ ! -x "$FAKE" ]; then
	echo "FAIL: $FAKE is not built"
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/octofake-test.XXXXXX")
pid=
tlspid=
failures=0

cleanup() {
	for p in $pid $tlspid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

umask 077
printf 'token-one\n' >"$T/token"
printf 'token-two\n' >"$T/token2"
TOK1=token-one
TOK2=token-two

# OCTOFAKE_WRAPPER runs the fake under a tool, e.g. "valgrind --error-exitcode=9".
${OCTOFAKE_WRAPPER-} "$FAKE" --token-file "$T/token" --token-file "$T/token2" \
    --port-file "$T/port" --min-session-ttl 1 --verbose 2>"$T/fake.log" &
pid=$!

# wait_port FILE PID LOG: readiness is the port file, written atomically once listening.
wait_port() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		if [ "$i" -gt 400 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "FAIL: octofake did not write its port file"
			cat "$3"
			exit 1
		fi
		sleep 0.05
	done
}
wait_port "$T/port" "$pid" "$T/fake.log"
U="http://127.0.0.1:$(cat "$T/port")"

# req METHOD PATH [BODY] [TOKEN]: sets $code; body in $T/body, headers in $T/hdr.
# A POST without a body says Content-Length: 0, as octofake requires.
req() {
	set -- "$1" "$2" "${3-}" "${4-}"
	nolen=
	[ "$1" = POST ] && [ -z "$3" ] && nolen=-HContent-Length:0
	if [ -n "$4" ]; then
		code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' \
		    -X "$1" -H "Authorization: Bearer $4" $nolen \
		    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		    "$U$2")
	else
		code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' \
		    -X "$1" -H 'Content-Type: application/json' $nolen \
		    ${3:+--data-binary "$3"} "$U$2")
	fi
}

# get KEY: the first scalar value of "KEY" in $T/body (quotes stripped).
get() {
	sed 's/\([{,]\)"/\1\n"/g' "$T/body" |
	    sed -n 's/^"'"$1"'":\("[^"]*"\|-\{0,1\}[0-9][0-9]*\|null\|true\|false\).*/\1/p' |
	    head -n 1 | sed 's/^"//; s/"$//'
}

# expect WHAT WANT GOT
expect() {
	if [ "$2" != "$3" ]; then
		fail "$1: want '$2', got '$3' (body: $(head -c 300 "$T/body"))"
	fi
}

is_uuid() {
	printf '%s' "$1" |
	    grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
}

stat_of() {
	curl -s "$U/_fake/stats" >"$T/body"
	get "$1"
}

# Health, without a token; X-Request-Id has the spec's form.
req GET /health
expect "health status" 200 "$code"
expect "health body" ok "$(get status)"
rid=$(sed -n 's/^X-Request-Id: \(req_[0-9a-f]\{32\}\)\r$/\1/p' "$T/hdr")
[ -n "$rid" ] || fail "health: no X-Request-Id header of form req_<32 hex>"

# Bearer auth: missing and wrong tokens, with the Error body.
req POST /locks/job/acquire '{}'
expect "no token" 401 "$code"
expect "no token code" authentication_required "$(get code)"
rid=$(sed -n 's/^X-Request-Id: \(.*\)\r$/\1/p' "$T/hdr")
expect "error request_id matches header" "$rid" "$(get request_id)"
req POST /locks/job/acquire '{}' wrong-token
expect "wrong token" 401 "$code"
expect "wrong token code" authentication_failed "$(get code)"

# Acquire, then an idempotent re-acquire by the same holder.
req POST /locks/job/acquire '{"ttl_seconds":30,"metadata":"m1"}' "$TOK1"
expect "acquire" 200 "$code"
expect "acquire status" acquired "$(get status)"
expect "first fencing token" 1 "$(get fencing_token)"
expect "acquire renew_after_ms" 10000 "$(get renew_after_ms)"
expect "acquire metadata" m1 "$(get metadata)"
lease=$(get lease_id)
is_uuid "$lease" || fail "lease_id is not a UUID: $lease"
req POST /locks/job/acquire '{"ttl_seconds":30}' "$TOK1"
expect "re-acquire" 200 "$code"
expect "re-acquire is idempotent (same lease)" "$lease" "$(get lease_id)"
expect "re-acquire keeps fencing token" 1 "$(get fencing_token)"

# Another holder sees the lock held.
req POST /locks/job/acquire '{}' "$TOK2"
expect "other holder" 200 "$code"
expect "other holder status" held "$(get status)"
is_uuid "$(get holder_id)" || fail "holder_id is not a UUID"
[ "$(get retry_after_ms)" -gt 0 ] 2>/dev/null || fail "held: retry_after_ms not > 0"

# A hierarchical name is one percent-encoded segment.
req POST /locks/ci%2Fdeploy%2Fprod/acquire '{"ttl_seconds":60}' "$TOK1"
expect "hierarchical acquire" acquired "$(get status)"
hlease=$(get lease_id)
req GET /locks/ci%2Fdeploy%2Fprod "" "$TOK1"
expect "status code" 200 "$code"
expect "status name" ci/deploy/prod "$(get name)"
expect "status held" held "$(get status)"
req GET /locks/ci%2Fnever "" "$TOK1"
expect "status of unused name" free "$(get status)"
expect "unused holder_id" null "$(get holder_id)"

# Validation.
req POST /locks/a%20b/acquire '{}' "$TOK1"
expect "bad name" 400 "$code"
expect "bad name code" invalid_lock_name "$(get code)"
req POST /locks/a%2F%2Fb/acquire '{}' "$TOK1"
expect "empty component" invalid_lock_name "$(get code)"
req POST /locks/job/acquire '{"ttl_seconds":3601}' "$TOK1"
expect "bad ttl" 400 "$code"
expect "bad ttl code" invalid_ttl "$(get code)"
req POST /locks/job/release '{"lease_id":"not-a-uuid"}' "$TOK1"
expect "bad lease id" 422 "$code"
expect "bad lease id code" invalid_input "$(get code)"

# Renew.
req POST /locks/ci%2Fdeploy%2Fprod/renew "{\"lease_id\":\"$hlease\",\"ttl_seconds\":90}" "$TOK1"
expect "renew" 200 "$code"
expect "renew lease" "$hlease" "$(get lease_id)"
expect "renew_after_ms" 30000 "$(get renew_after_ms)"

# List with a prefix.
req GET "/locks?prefix=ci%2F" "" "$TOK1"
expect "list" 200 "$code"
expect "list total" 1 "$(get total)"
expect "list prefix" ci/ "$(get prefix)"
expect "list name" ci/deploy/prod "$(get name)"

# Release; a stale lease is refused; the fencing token keeps increasing.
req POST /locks/job/release "{\"lease_id\":\"$lease\"}" "$TOK1"
expect "release" 200 "$code"
expect "release body" null "$(cat "$T/body")"
req POST /locks/job/release "{\"lease_id\":\"$lease\"}" "$TOK1"
expect "stale release" 404 "$code"
expect "stale release code" lease_not_current "$(get code)"
req POST /locks/job/acquire '{}' "$TOK2"
expect "acquire after release" acquired "$(get status)"
expect "fencing token increases" 2 "$(get fencing_token)"
lease2=$(get lease_id)
[ "$lease2" != "$lease" ] || fail "new lease reused the old lease id"

# Forced expiry: the lease ends, the fencing counter stays.
curl -s -o "$T/body" -d '{"name":"job"}' "$U/_fake/expire"
req GET /locks/job "" "$TOK1"
expect "expired lock is free" free "$(get status)"
expect "expired lock keeps fencing" 2 "$(get fencing_token)"
req POST /locks/job/renew "{\"lease_id\":\"$lease2\"}" "$TOK2"
expect "renew after expiry" lease_not_current "$(get code)"

# Sessions: an ephemeral lock dies with its session.
req POST /sessions '{"ttl_seconds":2}' "$TOK1"
expect "session create" 201 "$code"
sid=$(get session_id)
expect "keepalive interval" 1 "$(get keepalive_interval_secs)"
req POST /locks/eph/acquire "{\"session_id\":\"$sid\",\"ephemeral\":true}" "$TOK1"
expect "ephemeral acquire" acquired "$(get status)"
req POST /locks/eph/acquire '{}' "$TOK1"
expect "user vs its own session" held "$(get status)"
req POST "/sessions/$sid/keepalive" "" "$TOK1"
expect "keepalive" 200 "$code"
curl -s -o "$T/body" -d "{\"session_id\":\"$sid\"}" "$U/_fake/expire_session"
req POST "/sessions/$sid/keepalive" "" "$TOK1"
expect "keepalive after expiry" 410 "$code"
expect "keepalive after expiry code" session_expired "$(get code)"
req GET /locks/eph "" "$TOK1"
expect "ephemeral lock released with session" free "$(get status)"
req GET /sessions/00000000-0000-4000-8000-000000000000 "" "$TOK1"
expect "unknown session" 404 "$code"

# Natural expiry on the monotonic clock: a 1 s lease and a 1 s session run out.
req POST /sessions '{"ttl_seconds":1}' "$TOK1"
sid1=$(get session_id)
req POST /locks/short/acquire '{"ttl_seconds":1}' "$TOK1"
expect "short lease" acquired "$(get status)"
req GET /locks/short "" "$TOK1"
expect "short lease held at first" held "$(get status)"
i=0
while req GET /locks/short "" "$TOK1"; [ "$(get status)" = held ]; do
	i=$((i + 1))
	[ "$i" -le 60 ] || break
	sleep 0.05
done
expect "1 s lease expired within 3 s" free "$(get status)"
i=0
while req GET "/sessions/$sid1" "" "$TOK1"; [ "$(get active)" = true ]; do
	i=$((i + 1))
	[ "$i" -le 60 ] || break
	sleep 0.05
done
expect "1 s session inactive within 3 s" false "$(get active)"
req POST "/sessions/$sid1/keepalive" "" "$TOK1"
expect "keepalive of a naturally expired session" 410 "$code"

# Fault injection: the next request fails, the one after succeeds.
curl -s -o "$T/body" -d '{"count":1,"status":503,"code":"upstream_unavailable","retry_after_ms":250,"path_prefix":"/locks"}' "$U/_fake/fault"
expect "fault accepted" true "$(get ok)"
req GET /health
expect "fault path_prefix spares /health" 200 "$code"
req POST /locks/f/acquire '{}' "$TOK1"
expect "injected 503" 503 "$code"
expect "injected code" upstream_unavailable "$(get code)"
expect "injected retry_after_ms" 250 "$(get retry_after_ms)"
req POST /locks/f/acquire '{}' "$TOK1"
expect "after the fault" acquired "$(get status)"

# Transport faults: a connection closed mid-response, malformed and oversize bodies.
curl -s -o /dev/null -d '{"mode":"close"}' "$U/_fake/fault"
if curl -s -o "$T/body" "$U/health"; then
	fail "close mode: curl succeeded"
fi
curl -s -o /dev/null -d '{"mode":"malformed"}' "$U/_fake/fault"
req GET /health
expect "malformed status" 200 "$code"
if grep -q '}$' "$T/body"; then
	fail "malformed mode returned complete JSON"
fi
curl -s -o /dev/null -d '{"mode":"oversize"}' "$U/_fake/fault"
req GET /health
expect "oversize length" 2097152 "$(wc -c <"$T/body" | tr -d ' ')"
curl -s -o /dev/null -d '{"mode":"hang"}' "$U/_fake/fault"
if curl -s -m 1 -o /dev/null "$U/health"; then
	fail "hang mode: got an answer"
fi
curl -s -o /dev/null -X POST "$U/_fake/clear"

# Token rotation: the old token stops working, the new one works.
req POST /auth/token/rotate "" "$TOK2"
expect "rotate" 200 "$code"
newtok=$(get token)
[ -n "$newtok" ] && [ "$newtok" != "$TOK2" ] || fail "rotate: no new token"
req GET /locks "" "$TOK2"
expect "old token after rotate" 401 "$code"
req GET /locks "" "$newtok"
expect "new token after rotate" 200 "$code"

# A POST without Content-Length is refused before anything else (411), and the stats
# name the last API request's User-Agent.
expect "stats length_required before" 0 "$(stat_of length_required)"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -A 'probe/1.0 (x)' \
    -H 'Authorization: Bearer wrong-token' "$U/auth/token/rotate")
expect "POST without Content-Length" 411 "$code"
expect "POST without Content-Length: code" invalid_input "$(get code)"
expect "stats length_required" 1 "$(stat_of length_required)"
expect "stats last_user_agent" "probe/1.0 (x)" "$(stat_of last_user_agent)"

# Stats: counters per endpoint, and keep-alive reuse seen in the connection count.
expect "stats acquire count" 15 "$(stat_of acquire)"
expect "stats release count" 3 "$(stat_of release)"
expect "stats renew count" 2 "$(stat_of renew)"
c0=$(stat_of connections_accepted)
curl -s -o /dev/null -o /dev/null -o /dev/null "$U/health" "$U/health" "$U/health"
c1=$(stat_of connections_accepted)
# One connection for three keep-alive requests, one for the stats call itself.
expect "keep-alive connections" $((c0 + 2)) "$c1"
expect "stats locks_held" 2 "$(stat_of locks_held)"

# SIGTERM ends the fake cleanly.
kill "$pid"
wait "$pid"
rc=$?
pid=
expect "exit status after SIGTERM" 0 "$rc"
[ ! -e "$T/port" ] || fail "port file left behind"

# TLS with a certificate made now; a wrong CA must fail verification.
if command -v openssl >/dev/null 2>&1; then
	for n in cert other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$T/$n.key" -out "$T/$n.pem" -days 1 \
		    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
		    2>/dev/null || fail "openssl req ($n)"
	done
	${OCTOFAKE_WRAPPER-} "$FAKE" --token-file "$T/token" --port-file "$T/tlsport" \
	    --tls-cert "$T/cert.pem" --tls-key "$T/cert.key" 2>"$T/tls.log" &
	tlspid=$!
	wait_port "$T/tlsport" "$tlspid" "$T/tls.log"
	TU="https://127.0.0.1:$(cat "$T/tlsport")"
	out=$(curl -s --cacert "$T/cert.pem" "$TU/health")
	expect "https health" '{"status":"ok","storage":"wal","db_size_bytes":0}' "$out"
	out=$(curl -s --cacert "$T/cert.pem" -H "Authorization: Bearer $TOK1" \
	    -d '{}' "$TU/locks/tls/acquire" "$TU/locks/tls/acquire")
	printf '%s' "$out" | grep -q '"fencing_token":1,' ||
	    fail "https acquire: $out"
	if curl -s -o /dev/null --cacert "$T/other.pem" "$TU/health"; then
		fail "https with a wrong CA verified"
	fi
	if curl -s -o /dev/null "http://127.0.0.1:$(cat "$T/tlsport")/health"; then
		fail "plain HTTP answered on the TLS port"
	fi
	out=$(curl -s --cacert "$T/cert.pem" "$TU/_fake/stats")
	# health, one keep-alive pair, wrong CA, plain HTTP, and this call.
	printf '%s' "$out" | grep -q '"connections_accepted":5,' ||
	    fail "https connection count: $out"
	kill "$tlspid"
	wait "$tlspid"
	rc=$?
	tlspid=
	expect "TLS fake exit status" 0 "$rc"
else
	echo "note: no openssl CLI, TLS checks skipped"
fi

if grep -q "$TOK1" "$T/fake.log"; then
	fail "a token appears in the fake's log"
fi
if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; fake log:"
	tail -n 20 "$T/fake.log"
	exit 1
fi
echo "PASS: fake.sh"
exit 0
