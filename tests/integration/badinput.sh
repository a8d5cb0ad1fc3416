#!/bin/sh
# badinput.sh - hostile and broken clients never crash the daemon or starve others
# (issue 2: random bytes, 10 MB message, msgpack bombs, half messages, connection churn,
# a client that stops reading). After each, another client still gets its ping answered,
# and the daemon's RSS stays bounded.
. "$top_srcdir/tests/integration/lib.sh"

start_daemon --log-level warn
rss0=$(rss_kb "$DAEMON_PID")

for seed in 1 2 3 4 5 6 7 8; do
	check "random bytes (seed $seed) get an error reply or a close" "$BADCLIENT" random "$OCTOSTORED_SOCKET" "$seed"
done
check "a 10 MB message is refused with message_too_large" "$BADCLIENT" big "$OCTOSTORED_SOCKET"
check "an array claiming 2^32-1 elements is refused at its header" "$BADCLIENT" bomb "$OCTOSTORED_SOCKET"
check "nesting 10,000 deep is refused with protocol_error" "$BADCLIENT" deep "$OCTOSTORED_SOCKET"
check "half a message then disconnect" "$BADCLIENT" half "$OCTOSTORED_SOCKET"
check "1,000 connections opened and dropped" "$BADCLIENT" churn "$OCTOSTORED_SOCKET" 1000
check "1,000 pipelined pings all answered, matched by msgid" "$BADCLIENT" pipeline "$OCTOSTORED_SOCKET" 1000
check "daemon answers ping after the bad clients" "$BADCLIENT" ping "$OCTOSTORED_SOCKET"

# A client that pipelines 200,000 pings and never reads: the daemon must stop reading
# from it (bounded output) while still serving others.
mkfifo "$OCTO_TMP/hold"
"$BADCLIENT" noread "$OCTOSTORED_SOCKET" 200000 <"$OCTO_TMP/hold" >"$OCTO_TMP/noread.out" &
noread_pid=$!
exec 3>"$OCTO_TMP/hold"
# Wait (bounded) until the client reports how much it could send.
i=0
while [ ! -s "$OCTO_TMP/noread.out" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
cat "$OCTO_TMP/noread.out"
read -r _ sent _ total _ <"$OCTO_TMP/noread.out"
check "non-reading client could not push all 200,000 pings (backpressure)" \
    test "${sent:-0}" -lt "${total:-0}"
check "daemon answers ping while a client does not read" "$BADCLIENT" ping "$OCTOSTORED_SOCKET"
rss1=$(rss_kb "$DAEMON_PID")
echo "rss: start ${rss0} KiB, with the stuck client ${rss1} KiB"
check "RSS grew by less than 32 MiB" test $((rss1 - rss0)) -lt 32768
exec 3>&-
wait "$noread_pid"

check "daemon answers ping after the stuck client left" "$BADCLIENT" ping "$OCTOSTORED_SOCKET"
rss2=$(rss_kb "$DAEMON_PID")
echo "rss at end: ${rss2} KiB"
check "daemon still running" kill -0 "$DAEMON_PID"
check "daemon exits 0 on SIGTERM" stop_daemon
finish
