#!/bin/sh
# run-python.sh - `make bench-python`: the Python client's speed against octostored in front
# of the fake OctoStore server over HTTPS (bench/pybench.py does the measuring; issue 14).
# Run from the build directory.  Environment: PYBENCH_SECONDS (per measurement, default
# 2), PYBENCH_ROUNDS (default 3), PYTHON (default python3), OCTOSTORED, OCTOFAKE.
set -u
builddir=${top_builddir:-$(pwd)}
srcdir=${top_srcdir:-$(dirname "$0")/..}
python=${PYTHON:-python3}
octostored=${OCTOSTORED:-$builddir/daemon/octostored}
octofake=${OCTOFAKE:-$builddir/tests/fake-upstream/octofake}
for b in "$octostored" "$octofake"; do
	[ -x "$b" ] || { echo "run-python: $b not built" >&2; exit 1; }
done
command -v openssl >/dev/null 2>&1 || { echo "run-python: openssl CLI needed" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/pybench.XXXXXX") || exit 1
fake_pid=
daemon_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for p in $daemon_pid $fake_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
umask 077
# Private copies under other names, so that a broad pkill elsewhere cannot end them.
cp "$octofake" "$dir/f" && cp "$octostored" "$dir/d" || exit 1
printf 'pybench-%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/token"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 1 -subj /CN=pybench-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    2>/dev/null &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.csr" -subj /CN=127.0.0.1 2>/dev/null &&
printf 'subjectAltName = IP:127.0.0.1\n' >"$dir/server.ext" &&
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 1 -extfile "$dir/server.ext" -out "$dir/server.pem" \
    2>/dev/null || { echo "run-python: certificates failed" >&2; exit 1; }

"$dir/f" --token-file "$dir/token" --port-file "$dir/port" --tls-cert "$dir/server.pem" \
    --tls-key "$dir/server.key" 2>"$dir/fake.log" &
fake_pid=$!
i=0
while [ ! -s "$dir/port" ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] && kill -0 "$fake_pid" 2>/dev/null ||
	    { echo "run-python: octofake did not start" >&2; exit 1; }
	sleep 0.05
done
url=https://127.0.0.1:$(cat "$dir/port")
printf 'base_url = %s\ntoken_file = %s\nca_file = %s\n' "$url" "$dir/token" \
    "$dir/ca.pem" >"$dir/d.conf"
"$dir/d" --socket "$dir/d.sock" --config "$dir/d.conf" >"$dir/d.log" 2>&1 &
daemon_pid=$!
i=0
until [ -S "$dir/d.sock" ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] && kill -0 "$daemon_pid" 2>/dev/null ||
	    { echo "run-python: octostored did not start" >&2; tail -5 "$dir/d.log" >&2; exit 1; }
	sleep 0.05
done
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $("$python" -V 2>&1), load $(cut -d' ' -f1-3 /proc/loadavg)"
SSL_CERT_FILE=$dir/ca.pem "$python" "$srcdir/bench/pybench.py" --socket "$dir/d.sock" \
    --url "$url" --token-file "$dir/token" --ca "$dir/ca.pem" \
    --seconds "${PYBENCH_SECONDS:-2}" --rounds "${PYBENCH_ROUNDS:-3}"
