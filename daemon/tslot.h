/* tslot.h - timers that share expiry instants: one libevent timer per instant. */
#ifndef TSLOT_H
#define TSLOT_H

#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct tslot;

/* Embed one per timer; tslot_ent_init() before use. */
struct tslot_ent {
	TAILQ_ENTRY(tslot_ent)	 q;
	struct tslot		*slot;		/* NULL: not armed */
	void			(*cb)(void *);
	void			*arg;
};

void	tslot_init(struct event_base *base);
/* Cancel every timer and free every instant (the entries are not touched). */
void	tslot_free_all(void);
void	tslot_ent_init(struct tslot_ent *e, void (*cb)(void *), void *arg);
/*
 * Fire e's callback at the instant at_ms, on the clock now_ms was read from (at_ms in
 * the past: on the next loop turn).  Every entry armed for the same instant shares one
 * libevent timer.  Re-arming moves e.  0, or -1 when out of memory (e is then unarmed).
 */
int	tslot_arm(struct tslot_ent *e, int64_t at_ms, int64_t now_ms);
void	tslot_disarm(struct tslot_ent *e);
int	tslot_armed(const struct tslot_ent *e);
/* Instants with a libevent timer (for tests and daemon_status). */
unsigned tslot_instants(void);

#endif
