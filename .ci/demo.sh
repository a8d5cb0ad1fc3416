#!/bin/sh
# demo.sh - the README's "run" command: octostored as its own lock authority (local
# backend: no account, no network) on a socket in the working tree, and two jobs that
# must never overlap taking one lock with `octostorectl run` as background processes.
set -eu
top=$PWD
sock="$top/octostored.sock"
state="$top/.octostored-state"
# The daemon refuses a state directory group or others could write.
mkdir -p "$state"
chmod 0700 "$state"
./daemon/octostored --backend=local --state-dir "$state" --socket "$sock" \
    --config /dev/null --log-level warn &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT INT TERM
OCTOSTORED_SOCKET=$sock
export OCTOSTORED_SOCKET
i=0
until ./client/octostorectl ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 250 ] || ! kill -0 $pid 2>/dev/null; then
		echo "octostored did not start" >&2
		exit 1
	fi
	sleep 0.02
done
echo "octostored (pid $pid) is serving on $sock with the local backend"
echo "two jobs take the lock jobs/nightly; the second waits for the first:"
job='echo "$0 has the lock, fencing token $OCTOSTORE_FENCING_TOKEN"; sleep 2; echo "$0 done"'
./client/octostorectl run jobs/nightly --wait 30s -- sh -c "$job" "job A" &
a=$!
./client/octostorectl run jobs/nightly --wait 30s -- sh -c "$job" "job B" &
b=$!
wait $a $b
./client/octostorectl status jobs/nightly
