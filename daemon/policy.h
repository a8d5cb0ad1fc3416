/* policy.h - lease timing rules as pure functions, so tests need no clock. */
#ifndef POLICY_H
#define POLICY_H

#include <stdint.h>

/* Fraction of the TTL, from the request's send time, during which a lease is vouched for. */
#define POLICY_AUTHORITY_PERCENT	80

/* Milliseconds after a send at which authority ends: 80% of ttl_ms. */
int64_t policy_authority_ms(int64_t ttl_ms);

/*
 * Delay before the next renewal: the server's renew_after_ms (or ttl/3 when absent,
 * < 0) clamped to 100 ms .. ttl/2, then made 0-10% earlier by rnd (0 .. 2^32-1).
 */
int64_t policy_renew_delay(int64_t renew_after_ms, int64_t ttl_ms, uint32_t rnd);

/*
 * Delay before the first renewal after an acquire: the same clamped delay, spread
 * over 25-100% of it by rnd, so that leases taken in a burst do not renew in one
 * burst ever after (the 0-10% of later renewals spreads them too slowly).
 */
int64_t policy_first_renew_delay(int64_t renew_after_ms, int64_t ttl_ms, uint32_t rnd);

/*
 * The renewal delay moved earlier so that now_ms + result falls on a grid of delay/20 ms
 * (1 to 250 ms) shared by every lease, so that renewals due close together fire in one
 * loop turn and share wake-ups.  Never later than delay_ms, never negative.
 */
int64_t policy_renew_slot(int64_t now_ms, int64_t delay_ms);

/*
 * Delay before retry number attempt (0-based) of a failed request: 100 ms doubling
 * to 5 s, with full jitter in its upper half, and never before retry_after_ms.
 */
int64_t policy_backoff(unsigned attempt, int64_t retry_after_ms, uint32_t rnd);

/* A uniformly random 32-bit number for the jitter above (random() gives 31 bits). */
uint32_t policy_rand32(void);

/* Monotonic and boot-time clocks in milliseconds (boot time keeps counting in suspend). */
int64_t policy_mono_ms(void);
int64_t policy_boot_ms(void);

#endif
