#!/bin/sh
# run.sh - the Python client's pytest suite (tests/python) against daemons of this build
# (issue 14); exit 77 (skip) when configured --disable-python or pytest is missing.
set -u
: "${top_builddir:?run through make check, or set top_builddir}"
: "${top_srcdir:?run through make check, or set top_srcdir}"
. "$top_builddir/tests/python/env.sh"
if [ "$OCTO_ENABLE_PYTHON" = no ]; then
	echo "SKIP: configured --disable-python"
	exit 77
fi
if ! "$PYTHON" -c 'import pytest, pytest_asyncio, hypothesis' 2>/dev/null; then
	echo "SKIP: $PYTHON lacks pytest, pytest-asyncio or hypothesis" \
	    "(apt-get install python3-pytest python3-pytest-asyncio python3-hypothesis)"
	exit 77
fi
# No __pycache__ in the source tree (read-only under distcheck).
PYTHONDONTWRITEBYTECODE=1
export top_builddir top_srcdir PYTHON OCTO_PYCLIENTDIR OCTO_PREFIX PYTHONDONTWRITEBYTECODE
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$top_srcdir/tests/python"
