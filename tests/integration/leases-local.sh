#!/bin/sh
# leases-local.sh - the lease suite, tests/integration/leases.sh, against the local
# backend (issue 7): one parameterised suite, run once per backend by make check.
BACKEND=local
export BACKEND
. "$top_srcdir/tests/integration/leases.sh"
