/*
 * tslot.c - timers that share expiry instants.  Lease renewals are due on a coarse
 * grid (policy_renew_slot), so 10,000 leases share a few dozen instants; each instant
 * gets one libevent timer and a list, instead of one heap entry per lease, whose
 * cache misses cost several percent of the daemon's CPU at that scale.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "tslot.h"

struct tslot {
	int64_t			 at;
	TAILQ_HEAD(, tslot_ent)	 ents;
	struct event		*ev;
	struct tslot		*hnext;	/* hash chain; not linked while firing */
	int			 firing;
};

static struct event_base *ts_base;
static struct tslot	**ts_b;		/* ts_nb buckets, a power of two */
static size_t		  ts_nb;
static size_t		  ts_n;		/* instants linked */

/* Bucket of instant at in a table of nb buckets. */
static size_t
tslot_bucket(int64_t at, size_t nb)
{
	uint64_t h = (uint64_t)at * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 32)) & (nb - 1);
}

/* Double the table if memory allows; a full table only makes longer chains. */
static void
tslot_grow(void)
{
	struct tslot	**nb, *s, *next;
	size_t		  i, n = ts_nb != 0 ? ts_nb * 2 : 64, k;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < ts_nb; i++) {
		for (s = ts_b[i]; s != NULL; s = next) {
			next = s->hnext;
			k = tslot_bucket(s->at, n);
			s->hnext = nb[k];
			nb[k] = s;
		}
	}
	free(ts_b);
	ts_b = nb;
	ts_nb = n;
}

/* The linked instant at, or NULL. */
static struct tslot *
tslot_find(int64_t at)
{
	struct tslot *s;

	if (ts_nb == 0)
		return NULL;
	for (s = ts_b[tslot_bucket(at, ts_nb)]; s != NULL; s = s->hnext)
		if (s->at == at)
			return s;
	return NULL;
}

/* Unlink s from the table. */
static void
tslot_unlink(struct tslot *s)
{
	struct tslot **p = &ts_b[tslot_bucket(s->at, ts_nb)];

	while (*p != s)
		p = &(*p)->hnext;
	*p = s->hnext;
	s->hnext = NULL;
	ts_n--;
}

/* Free an instant that is no longer linked. */
static void
tslot_free(struct tslot *s)
{
	event_free(s->ev);
	free(s);
}

/* An instant is due: run every entry armed for it, in the order they were armed. */
static void
tslot_fire(evutil_socket_t fd, short what, void *arg)
{
	struct tslot		*s = arg;
	struct tslot_ent	*e;

	(void)fd;
	(void)what;
	/* Entries re-armed for this instant by a callback start a new one. */
	tslot_unlink(s);
	s->firing = 1;
	while ((e = TAILQ_FIRST(&s->ents)) != NULL) {
		TAILQ_REMOVE(&s->ents, e, q);
		e->slot = NULL;
		e->cb(e->arg);
	}
	tslot_free(s);
}

void
tslot_init(struct event_base *base)
{
	ts_base = base;
}

void
tslot_free_all(void)
{
	struct tslot		*s;
	struct tslot_ent	*e;
	size_t			 i;

	for (i = 0; i < ts_nb; i++) {
		while ((s = ts_b[i]) != NULL) {
			ts_b[i] = s->hnext;
			while ((e = TAILQ_FIRST(&s->ents)) != NULL) {
				TAILQ_REMOVE(&s->ents, e, q);
				e->slot = NULL;
			}
			tslot_free(s);
		}
	}
	free(ts_b);
	ts_b = NULL;
	ts_nb = ts_n = 0;
}

void
tslot_ent_init(struct tslot_ent *e, void (*cb)(void *), void *arg)
{
	e->slot = NULL;
	e->cb = cb;
	e->arg = arg;
}

int
tslot_arm(struct tslot_ent *e, int64_t at_ms, int64_t now_ms)
{
	struct tslot	*s;
	struct timeval	 tv;
	int64_t		 d = at_ms - now_ms;

	if (e->slot != NULL) {
		if (e->slot->at == at_ms)
			return 0;
		tslot_disarm(e);
	}
	if ((s = tslot_find(at_ms)) == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->at = at_ms;
		TAILQ_INIT(&s->ents);
		if (d < 0)
			d = 0;
		tv.tv_sec = (time_t)(d / 1000);
		tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
		if ((s->ev = evtimer_new(ts_base, tslot_fire, s)) == NULL) {
			free(s);
			return -1;
		}
		if (evtimer_add(s->ev, &tv) != 0) {
			tslot_free(s);
			return -1;
		}
		if (ts_n >= ts_nb)
			tslot_grow();
		if (ts_nb == 0) {
			tslot_free(s);
			return -1;
		}
		s->hnext = ts_b[tslot_bucket(at_ms, ts_nb)];
		ts_b[tslot_bucket(at_ms, ts_nb)] = s;
		ts_n++;
	}
	TAILQ_INSERT_TAIL(&s->ents, e, q);
	e->slot = s;
	return 0;
}

void
tslot_disarm(struct tslot_ent *e)
{
	struct tslot *s = e->slot;

	if (s == NULL)
		return;
	TAILQ_REMOVE(&s->ents, e, q);
	e->slot = NULL;
	if (TAILQ_EMPTY(&s->ents) && !s->firing) {
		tslot_unlink(s);
		tslot_free(s);
	}
}

int
tslot_armed(const struct tslot_ent *e)
{
	return e->slot != NULL;
}

unsigned
tslot_instants(void)
{
	return (unsigned)ts_n;
}
