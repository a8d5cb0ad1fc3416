/* redact.c - find any 8-byte piece of the bearer token in a string from the server. */
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>

#include "redact.h"

/*
 * Every REDACT_WINDOW-byte window of each secret, read as a 64-bit word, in an
 * open-addressing table: 0 marks a free slot (token bytes are printable, never 0).
 * A string is then scanned with one load and, nearly always, one probe per byte,
 * whatever the token's length.  A secret shorter than the window is looked for whole.
 * The table holds the token's bytes, so it is kept out of swap and core dumps and
 * wiped when replaced, like the token.
 */
static uint64_t	*redact_tab;
static size_t	 redact_mask;		/* slots - 1 */
static size_t	 redact_maplen;
static unsigned	 redact_shift;		/* 64 - log2(slots) */
static char	 redact_short[2][REDACT_WINDOW];
static size_t	 redact_shortlen[2];

/* Slot of window value v. */
static size_t
redact_slot(uint64_t v)
{
	return (size_t)((v * UINT64_C(0x9e3779b97f4a7c15)) >> redact_shift);
}

/* Add every window of s (len >= REDACT_WINDOW). */
static void
redact_add(const char *s, size_t len)
{
	uint64_t	v;
	size_t		i, h;

	for (i = 0; i + REDACT_WINDOW <= len; i++) {
		memcpy(&v, s + i, sizeof(v));
		for (h = redact_slot(v); redact_tab[h] != 0 && redact_tab[h] != v;
		    h = (h + 1) & redact_mask)
			;
		redact_tab[h] = v;
	}
}

/* Set the secrets; see redact.h. */
void
redact_set(const char *cur, size_t curlen, const char *prev, size_t prevlen)
{
	const char	*s[2] = { cur, prev };
	size_t		 l[2] = { cur != NULL ? curlen : 0, prev != NULL ? prevlen : 0 };
	size_t		 n = 0, slots = 16, i;
	unsigned	 bits = 4;
	void		*p;

	if (redact_tab != NULL) {
		explicit_bzero(redact_tab, redact_maplen);
		munmap(redact_tab, redact_maplen);
		redact_tab = NULL;
	}
	explicit_bzero(redact_short, sizeof(redact_short));
	for (i = 0; i < 2; i++) {
		redact_shortlen[i] = 0;
		if (l[i] >= REDACT_WINDOW)
			n += l[i] - REDACT_WINDOW + 1;
		else if (l[i] > 0) {
			memcpy(redact_short[i], s[i], l[i]);
			redact_shortlen[i] = l[i];
		}
	}
	if (n == 0)
		return;
	/* At most half full: probes stay short. */
	while (slots < 2 * n) {
		slots *= 2;
		bits++;
	}
	redact_maplen = slots * sizeof(uint64_t);
	p = mmap(NULL, redact_maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		/* Without memory, the first window of each secret still catches a copy. */
		for (i = 0; i < 2; i++) {
			if (l[i] >= REDACT_WINDOW) {
				memcpy(redact_short[i], s[i], REDACT_WINDOW);
				redact_shortlen[i] = REDACT_WINDOW;
			}
		}
		return;
	}
	(void)madvise(p, redact_maplen, MADV_DONTDUMP);
	(void)mlock(p, redact_maplen);
	redact_tab = p;
	redact_mask = slots - 1;
	redact_shift = 64 - bits;
	for (i = 0; i < 2; i++)
		if (l[i] >= REDACT_WINDOW)
			redact_add(s[i], l[i]);
}

/* True if s holds a piece of a secret. */
int
redact_find(const char *s, size_t len)
{
	uint64_t	v;
	size_t		i, h;

	for (i = 0; i < 2; i++) {
		if (redact_shortlen[i] > 0 &&
		    memmem(s, len, redact_short[i], redact_shortlen[i]) != NULL)
			return 1;
	}
	if (redact_tab == NULL)
		return 0;
	for (i = 0; i + REDACT_WINDOW <= len; i++) {
		memcpy(&v, s + i, sizeof(v));
		for (h = redact_slot(v); redact_tab[h] != 0; h = (h + 1) & redact_mask)
			if (redact_tab[h] == v)
				return 1;
	}
	return 0;
}
