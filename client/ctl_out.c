/* ctl_out.c - octostorectl output: escaped text for terminals, JSON for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Length of the valid UTF-8 sequence at p, or 0 (overlong, surrogate, truncated). */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

/*
 * Write text from the server so that it cannot drive the terminal: C0 and C1 control
 * characters, DEL and bytes that are not UTF-8 become \xNN, a backslash becomes \\.
 */
void
ctl_put_esc(FILE *f, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n = 0;

	while (i < len) {
		if (p[i] == '\\') {
			fputs("\\\\", f);
			i++;
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			putc(p[i], f);
			i++;
		} else if (p[i] < 0x80 ||
		    (n = utf8_len(p + i, len - i)) == 0 ||
		    (p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			fprintf(f, "\\x%02x", p[i]);
			i++;
		} else {
			fwrite(p + i, 1, n, f);
			i += n;
		}
	}
}

/* "key: value" with the value escaped. */
void
ctl_kv_len(const char *key, const char *val, size_t len)
{
	printf("%s: ", key);
	ctl_put_esc(stdout, val, len);
	putchar('\n');
}

void
ctl_kv(const char *key, const char *val)
{
	ctl_kv_len(key, val, strlen(val));
}

void
ctl_kv_num(const char *key, long long val)
{
	printf("%s: %lld\n", key, val);
}

/* Set a JSON string; bytes that are not UTF-8 are sent escaped as ctl_put_esc does. */
void
ctl_json_strn(json_t *o, const char *key, const char *s, size_t len)
{
	json_t	*v;
	char	*buf = NULL;
	size_t	 size = 0;
	FILE	*f;

	if ((v = json_stringn(s, len)) == NULL && (f = open_memstream(&buf, &size)) != NULL) {
		ctl_put_esc(f, s, len);
		if (fclose(f) == 0)
			v = json_stringn(buf, size);
		free(buf);
	}
	json_object_set_new(o, key, v != NULL ? v : json_null());
}

void
ctl_json_str(json_t *o, const char *key, const char *s)
{
	ctl_json_strn(o, key, s, strlen(s));
}

/* A string field that the library reports as "" when the daemon sent nil. */
void
ctl_json_str_or_null(json_t *o, const char *key, const char *s)
{
	if (*s == '\0')
		json_object_set_new(o, key, json_null());
	else
		ctl_json_str(o, key, s);
}

void
ctl_json_num(json_t *o, const char *key, long long val)
{
	json_object_set_new(o, key, json_integer(val));
}

/*
 * One JSON document per line on stdout; consumes o.  The output is ASCII, safe on a
 * terminal: jansson escapes C0 controls and, with JSON_ENSURE_ASCII, everything past
 * U+007F (C1 controls included) as \uXXXX; DEL it leaves raw, so it is escaped here
 * (a 0x7f byte can only be inside a string of that output).
 */
void
ctl_json_print(json_t *o)
{
	char	*s, *p;
	size_t	 n;

	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL) {
		fputs("octostorectl: out of memory\n", stderr);
		return;
	}
	for (p = s; *p != '\0'; p += n) {
		n = strcspn(p, "\x7f");
		fwrite(p, 1, n, stdout);
		if (p[n] == '\x7f') {
			fputs("\\u007f", stdout);
			n++;
		}
	}
	putchar('\n');
	free(s);
}
