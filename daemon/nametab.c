/* nametab.c - a hash table of named entries (FNV-1a, chained, doubling). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nametab.h"

/* FNV-1a. */
static size_t
nametab_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

int
nametab_init(struct nametab *t, size_t nb)
{
	t->n = 0;
	t->nb = nb;
	if ((t->b = calloc(nb, sizeof(*t->b))) == NULL) {
		t->nb = 0;
		return -1;
	}
	return 0;
}

void
nametab_free(struct nametab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

struct nament *
nametab_find(const struct nametab *t, const char *key)
{
	struct nament *e;

	if (t->nb == 0)
		return NULL;
	for (e = t->b[nametab_hash(key) & (t->nb - 1)]; e != NULL; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Double the buckets; on failure the chains just grow longer. */
static void
nametab_grow(struct nametab *t)
{
	struct nament	**nb, *e, *next;
	size_t		  i, n = t->nb > 0 ? t->nb * 2 : 16, h;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->hnext;
			h = nametab_hash(e->key) & (n - 1);
			e->hnext = nb[h];
			nb[h] = e;
		}
	}
	free(t->b);
	t->b = nb;
	t->nb = n;
}

int
nametab_insert(struct nametab *t, struct nament *e)
{
	size_t h;

	if (t->n >= t->nb)
		nametab_grow(t);
	if (t->nb == 0)
		return -1;
	h = nametab_hash(e->key) & (t->nb - 1);
	e->hnext = t->b[h];
	t->b[h] = e;
	t->n++;
	return 0;
}

void
nametab_remove(struct nametab *t, struct nament *e)
{
	struct nament **p;

	if (t->nb == 0)
		return;
	for (p = &t->b[nametab_hash(e->key) & (t->nb - 1)]; *p != NULL; p = &(*p)->hnext) {
		if (*p == e) {
			*p = e->hnext;
			t->n--;
			return;
		}
	}
}
