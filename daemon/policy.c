/* policy.c - lease timing rules: authority deadline, renewal delay, retry backoff. */
#include <stdlib.h>
#include <time.h>

#include "policy.h"

/* 80% of the TTL. */
int64_t
policy_authority_ms(int64_t ttl_ms)
{
	return ttl_ms * POLICY_AUTHORITY_PERCENT / 100;
}

/* Server guidance clamped to 100 ms .. ttl/2 (fallback ttl/3), then 0-10% earlier. */
int64_t
policy_renew_delay(int64_t renew_after_ms, int64_t ttl_ms, uint32_t rnd)
{
	int64_t d = renew_after_ms >= 0 ? renew_after_ms : ttl_ms / 3;

	if (d > ttl_ms / 2)
		d = ttl_ms / 2;
	if (d < 100)
		d = 100;
	return d - (int64_t)((uint64_t)d * rnd / UINT32_MAX / 10);
}

/* The first renewal: anywhere in the last three quarters of the clamped delay. */
int64_t
policy_first_renew_delay(int64_t renew_after_ms, int64_t ttl_ms, uint32_t rnd)
{
	int64_t d = policy_renew_delay(renew_after_ms, ttl_ms, 0);

	return d / 4 + (int64_t)((uint64_t)(d - d / 4) * rnd / UINT32_MAX);
}

/* Round now + delay down to a grid of delay/20 ms (1..250 ms). */
int64_t
policy_renew_slot(int64_t now_ms, int64_t delay_ms)
{
	int64_t grid = delay_ms / 20, due;

	if (delay_ms <= 0)
		return 0;
	if (grid > 250)
		grid = 250;
	if (grid < 1)
		grid = 1;
	due = now_ms + delay_ms;
	due -= due % grid;
	return due > now_ms ? due - now_ms : 0;
}

/* Exponential backoff with jitter, honouring the server's retry_after_ms. */
int64_t
policy_backoff(unsigned attempt, int64_t retry_after_ms, uint32_t rnd)
{
	int64_t d = 100;

	while (attempt-- > 0 && d < 5000)
		d *= 2;
	if (d > 5000)
		d = 5000;
	d = d / 2 + (int64_t)((uint64_t)(d / 2) * rnd / UINT32_MAX);
	if (retry_after_ms > d)
		d = retry_after_ms;
	return d;
}

/* Two draws of random()'s 31 bits make 32 uniform bits. */
uint32_t
policy_rand32(void)
{
	return ((uint32_t)random() << 16) ^ (uint32_t)random();
}

static int64_t
policy_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
policy_mono_ms(void)
{
	return policy_clock_ms(CLOCK_MONOTONIC);
}

int64_t
policy_boot_ms(void)
{
	return policy_clock_ms(CLOCK_BOOTTIME);
}
