/* A token bucket for rate limits of the roles (ICMPv6 errors: RFC 4443 §2.4 (f)). */
#ifndef SW_CORE_RATELIMIT_H
#define SW_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t at;     /* ms of the last refill */
	uint32_t tokens;
};

/* Take one token if there is one; `rate` tokens per second, at most `rate` stored. */
static inline bool ratelimit_take(struct ratelimit *r, uint64_t now, uint32_t rate)
{
	uint64_t refill = (now - r->at) * rate / 1000;
	if (refill) {
		r->tokens = (uint32_t)(r->tokens + refill > rate ? rate : r->tokens + refill);
		r->at = now;
	}
	if (!r->tokens)
		return false;
	r->tokens--;
	return true;
}

#endif
