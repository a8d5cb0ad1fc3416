#!/bin/sh
# example-config.sh - systemd/octostored.conf documents every key the daemon accepts,
# and its commented-out defaults, uncommented, form a valid configuration (issue 5).
. "$top_srcdir/tests/integration/lib.sh"

example=$top_srcdir/systemd/octostored.conf

# Keys the daemon's config_set() accepts, as they appear in daemon/config.c.
keys=$(sed -n -e 's/.*strcmp(key, "\([a-z0-9_]*\)").*/\1/p' \
    -e 's/^[[:space:]]*\(UINT\|DURATION\|BOOL\|STR\)("\([a-z0-9_]*\)".*/\2/p' \
    "$top_srcdir/daemon/config.c" | sort -u)
check "found the daemon's keys in daemon/config.c" test -n "$keys"
for k in $keys; do
	check "example documents $k" grep -q "^#$k =" "$example"
	check "octostored.conf(5) documents $k" \
	    grep -q "^\\.BI $k " "$top_srcdir/doc/octostored.conf.5"
done

# Every documented key is one the daemon knows.
for k in $(sed -n 's/^#\([a-z0-9_]*\) =.*/\1/p' "$example"); do
	check "documented key $k exists in the daemon" \
	    sh -c "echo '$keys' | grep -qx '$k'"
done

# The defaults as written are accepted (prefixes belongs in a [uid:N]/[gid:N] section).
sed -n 's/^#\([a-z0-9_]* =.*\)/\1/p' "$example" | grep -v '^prefixes =' >"$OCTO_TMP/all.conf"
if "$OCTOSTORED" --check-config --config "$OCTO_TMP/all.conf" >"$OCTO_TMP/check.log" 2>&1; then
	ok "uncommented example passes --check-config"
else
	cat "$OCTO_TMP/check.log"
	not_ok "uncommented example passes --check-config"
fi
# And the file as shipped (all commented out) too.
check "shipped example passes --check-config" \
    "$OCTOSTORED" --check-config --config "$example"
# The check is not vacuous: a bad key is refused.
printf 'no_such_key = 1\n' >"$OCTO_TMP/bad.conf"
check "an unknown key fails --check-config" \
    sh -c "! '$OCTOSTORED' --check-config --config '$OCTO_TMP/bad.conf' 2>/dev/null"

finish
