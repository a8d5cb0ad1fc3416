/* table.c - intrusive chained hash table keyed by C strings. */
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define TABLE_MIN_BUCKETS	64

/* FNV-1a of a string. */
static uint32_t
table_hash(const char *key)
{
	uint32_t	h = 2166136261u;

	while (*key != '\0') {
		h ^= (unsigned char)*key++;
		h *= 16777619u;
	}
	return h;
}

/* Empty table; buckets are allocated on first insert. */
void
table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
}

/* Entry with this key, or NULL. */
struct table_entry *
table_find(struct table *t, const char *key)
{
	struct table_entry	*e;
	uint32_t		 h;

	if (t->nbuckets == 0)
		return NULL;
	h = table_hash(key);
	for (e = t->buckets[h & (t->nbuckets - 1)]; e != NULL; e = e->next) {
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

/* Double the bucket array, keeping the load factor under one. */
static void
table_grow(struct table *t)
{
	struct table_entry	**nb, *e, *next;
	size_t			  n, i;

	n = t->nbuckets == 0 ? TABLE_MIN_BUCKETS : t->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		abort();
	for (i = 0; i < t->nbuckets; i++) {
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

/* Insert e, whose key is set and not yet present. */
void
table_insert(struct table *t, struct table_entry *e)
{
	size_t	i;

	if (t->count >= t->nbuckets)
		table_grow(t);
	e->hash = table_hash(e->key);
	i = e->hash & (t->nbuckets - 1);
	e->next = t->buckets[i];
	t->buckets[i] = e;
	t->count++;
}

/* Unlink e; the caller frees it. */
void
table_remove(struct table *t, struct table_entry *e)
{
	struct table_entry	**pp;

	pp = &t->buckets[e->hash & (t->nbuckets - 1)];
	while (*pp != NULL) {
		if (*pp == e) {
			*pp = e->next;
			t->count--;
			return;
		}
		pp = &(*pp)->next;
	}
}

/* Entry after e in bucket order (first if e is NULL), or NULL at the end. */
struct table_entry *
table_next(struct table *t, struct table_entry *e)
{
	size_t	i;

	if (e != NULL && e->next != NULL)
		return e->next;
	i = e == NULL ? 0 : (e->hash & (t->nbuckets - 1)) + 1;
	for (; i < t->nbuckets; i++) {
		if (t->buckets[i] != NULL)
			return t->buckets[i];
	}
	return NULL;
}

/* Free the bucket array; entries belong to the caller. */
void
table_free(struct table *t)
{
	free(t->buckets);
	table_init(t);
}
