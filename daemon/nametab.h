/* nametab.h - a hash table of named entries, chained through a link embedded in each. */
#ifndef NAMETAB_H
#define NAMETAB_H

#include <stddef.h>

/* Embed one in an entry; key points at the entry's own name and must not change. */
struct nament {
	const char	*key;
	struct nament	*hnext;
};

struct nametab {
	struct nament	**b;	/* nb buckets, a power of two */
	size_t		  nb;
	size_t		  n;	/* entries */
};

/* The entry of type holding the nament e as member field. */
#define NAMETAB_ENTRY(e, type, field) \
	((type *)(void *)((char *)(e) - offsetof(type, field)))

/* Every entry of t, in no order; the body must not insert or remove. */
#define NAMETAB_FOREACH(e, t, i) \
	for ((i) = 0; (i) < (t)->nb; (i)++) \
		for ((e) = (t)->b[(i)]; (e) != NULL; (e) = (e)->hnext)

/* 0, or -1 when out of memory. */
int		 nametab_init(struct nametab *t, size_t nb);
void		 nametab_free(struct nametab *t);
struct nament	*nametab_find(const struct nametab *t, const char *key);
/*
 * Add e (e->key set, not in t); the table doubles when full if memory allows.  0, or -1
 * when t has no buckets at all (out of memory).
 */
int		 nametab_insert(struct nametab *t, struct nament *e);
void		 nametab_remove(struct nametab *t, struct nament *e);

#endif
