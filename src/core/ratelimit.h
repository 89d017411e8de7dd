/* A token bucket for rate limits of the roles (ICMPv6 errors: RFC 4443 §2.4 (f)). */
#ifndef SW_CORE_RATELIMIT_H
#define SW_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t at;     /* ms of the last refill */
	uint32_t tokens;
};

/* The refill both forms share: whole tokens earned since *at at `rate` a second, at most
 * `rate` stored; *at moves only when a token was earned, so that fractions add up. A
 * clock read earlier than *at (another CPU refilled at a later millisecond) earns none. */
static inline uint64_t ratelimit_refill(uint64_t *at, uint64_t tokens, uint64_t now, uint32_t rate)
{
	uint64_t refill = now > *at ? (now - *at) * rate / 1000 : 0;
	if (!refill)
		return tokens;
	*at = now;
	return tokens + refill > rate ? rate : tokens + refill;
}

/* Take one token if there is one; `rate` tokens per second, at most `rate` stored. */
static inline bool ratelimit_take(struct ratelimit *r, uint64_t now, uint32_t rate)
{
	r->tokens = (uint32_t)ratelimit_refill(&r->at, r->tokens, now, rate);
	if (!r->tokens)
		return false;
	r->tokens--;
	return true;
}

/* The same bucket in one 64-bit word, (the last refill in ms << 24) | tokens, taken by
 * compare-and-swap: the server's RA limit (SEC-17) lives in memory that its daemon and
 * its XDP program (issue 10, on any CPU) share, so that an address meets one limit
 * whichever of the two answers it. A rate above RATELIMIT_WORD_MAX_RATE counts as that
 * much. Lost races are retried a few times, then the packet counts as over the limit:
 * a bucket that busy is one a flood is hitting. */
#define RATELIMIT_WORD_MAX_RATE 0xffffffu
#define RATELIMIT_WORD_TRIES 4

static inline bool ratelimit_take_word(uint64_t *word, uint64_t now, uint32_t rate)
{
	if (rate > RATELIMIT_WORD_MAX_RATE)
		rate = RATELIMIT_WORD_MAX_RATE;
	for (int i = 0; i < RATELIMIT_WORD_TRIES; i++) {
		uint64_t old = *(volatile uint64_t *)word;
		uint64_t at = old >> 24;
		uint64_t tokens = ratelimit_refill(&at, old & RATELIMIT_WORD_MAX_RATE, now, rate);
		if (!tokens)
			return false;
		uint64_t new = at << 24 | (tokens - 1);
		if (__sync_val_compare_and_swap(word, old, new) == old)
			return true;
	}
	return false;
}

#endif
