#!/bin/sh
# demo.sh - the README's "run" command: start octostored in the foreground on a socket in
# the working tree, ping it from a client once it answers, and keep serving until Ctrl-C.
set -eu
sock="$PWD/octostored.sock"
./daemon/octostored --socket "$sock" --config /dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
i=0
until ./client/octostorectl --socket "$sock" ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 250 ] || ! kill -0 $pid 2>/dev/null; then
		echo "octostored did not start" >&2
		exit 1
	fi
	sleep 0.02
done
./client/octostorectl --socket "$sock" ping
./client/octostorectl --socket "$sock" daemon-status
echo "octostored is serving on $sock (pid $pid); Ctrl-C stops it."
[ -t 0 ] || { kill -TERM $pid; }
wait $pid
