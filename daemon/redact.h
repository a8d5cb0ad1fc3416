/* redact.h - keeping the bearer token out of what the server says. */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>

/* Any piece of a secret this long (or the whole of a shorter one) is redacted. */
#define REDACT_WINDOW	8
/* What replaces a server string that holds one. */
#define REDACT_TEXT	"[redacted]"

/*
 * The secrets to look for: the current token and the one it replaced (a transfer sent
 * with it may still be answered); either may be NULL.  Copies are kept out of swap and
 * core dumps; a call replaces and wipes the previous set, redact_set(NULL, 0, NULL, 0)
 * clears it.
 */
void redact_set(const char *cur, size_t curlen, const char *prev, size_t prevlen);

/* True if s (len bytes) holds REDACT_WINDOW consecutive bytes of a secret. */
int redact_find(const char *s, size_t len);

#endif
