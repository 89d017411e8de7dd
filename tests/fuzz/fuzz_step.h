/* What the stateful role targets (fuzz_client, fuzz_relay) share: one input is one step
 * of a role's life, and every action it returns must stay within its buffers. */
#ifndef SW_FUZZ_STEP_H
#define SW_FUZZ_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/action.h"
#include "core/peer.h"

struct fuzz_step {
	uint8_t op;              /* byte 0: which entry point */
	struct sw_endpoint src;  /* bytes 1-6: the UDP source */
	const uint8_t *pkt;      /* bytes 9-: the datagram or host packet */
	size_t len;
};

/* Decode data into *s and move the clock by bytes 7-8 (x 4 ms); false when too short. */
static inline bool fuzz_step_decode(const uint8_t *data, size_t size, uint64_t *now, struct fuzz_step *s)
{
	if (size < 9)
		return false;
	s->op = data[0];
	memcpy(&s->src.ip, data + 1, 4);
	memcpy(&s->src.port, data + 5, 2);
	*now += (uint64_t)(data[7] << 8 | data[8]) * 4;
	s->pkt = data + 9;
	s->len = size - 9;
	return true;
}

/* n actions within the caller's 32, headers within their buffer, and each body inside
 * the input (len bytes at in) or inside the role's own queue pool. */
static inline void fuzz_check_actions(const struct sw_action *a, int n, const uint8_t *in, size_t len,
				      const struct peer_table *t)
{
	if (n < 0 || n > 32)
		__builtin_trap();
	const uint8_t *pool = (const uint8_t *)t->pool;
	size_t pool_len = t->pool_size * sizeof t->pool[0];
	for (int i = 0; i < n; i++) {
		const uint8_t *b = a[i].body;
		if (a[i].hdr_len > sizeof a[i].hdr)
			__builtin_trap();
		if (a[i].body_len && !((b >= in && b + a[i].body_len <= in + len) ||
				       (b >= pool && b + a[i].body_len <= pool + pool_len)))
			__builtin_trap();
	}
}

#endif
