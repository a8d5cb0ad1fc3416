#!/bin/sh
# deps.sh - install the Debian 12 packages octostored needs to build, test and benchmark,
# only those missing (apt-get update first only when something is to be installed).
set -eu
pkgs="build-essential autoconf automake libtool pkg-config
libevent-dev libcurl4-openssl-dev libmsgpack-dev libsystemd-dev libjansson-dev libinih-dev
libssl-dev check curl openssl python3 systemd valgrind clang libclang-rt-14-dev
jq man-db groff-base util-linux
python3-msgpack python3-pytest python3-pytest-asyncio python3-hypothesis python3-setuptools
python3-venv python3-pip python3-httpx"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
