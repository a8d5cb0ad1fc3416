#!/bin/sh
# manpages.sh - every manual renders with `man -l` without a warning, also with all of
# groff's warnings on, and names its own page (issue 5).
. "$top_srcdir/tests/integration/lib.sh"

command -v man >/dev/null 2>&1 || {
	echo "SKIP: man not installed (Debian package man-db)"
	exit 77
}

for page in octostored.8 octostorectl.1 octostored.conf.5 liboctostore.3; do
	f=$top_srcdir/doc/$page
	check "$page exists" test -f "$f"
	MANWIDTH=80 man --warnings -l "$f" >"$OCTO_TMP/out" 2>"$OCTO_TMP/err"
	rc=$?
	cat "$OCTO_TMP/err"
	check "$page: man -l exits 0" test "$rc" -eq 0
	check "$page: man --warnings -l prints no warning" test ! -s "$OCTO_TMP/err"
	MANWIDTH=80 man --warnings=all -l "$f" >/dev/null 2>"$OCTO_TMP/err"
	cat "$OCTO_TMP/err"
	check "$page: no warning with --warnings=all" test ! -s "$OCTO_TMP/err"
	name=${page%.*}
	check "$page: NAME section names $name" \
	    sh -c "sed -n '/^NAME/,/^[A-Z]/p' '$OCTO_TMP/out' | grep -q '^ *$name '"
done

finish
