/* The trust journal (issue 10): what the kernel fast path must mirror from a core's
 * peer table. The core records each peer that becomes trusted (or changes mapping) and
 * each trusted peer that leaves; the shell applies the records to the eBPF peer map
 * after every call into the core and empties the journal. Pure and fixed in size: a
 * journal that overflows counts what it lost. A lost addition only leaves a peer to the
 * daemon's path, but a lost removal would leave the kernel an entry the core no longer
 * trusts: so each call into the core records a bounded few (sweeps take at most a few
 * hundred peers a tick), and a core that drops its whole table at once (a client's new
 * mapping or network, C-26: more peers than the journal holds) records one reset
 * instead, for which the shell empties the map first. */
#ifndef SW_CORE_TRUSTLOG_H
#define SW_CORE_TRUSTLOG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire/endpoint.h"

#define TRUST_LOG_MAX 1024

struct trust_event {
	bool add;                /* trusted (again, perhaps at a new mapping), or gone */
	uint8_t sock;            /* the core socket it is reached from */
	/* RFC 6081 §5.3.4.3: sent to the mapping its address names, while what it
	 * sends still comes from `mapping` */
	bool at_address;
	struct in6_addr addr;
	struct sw_endpoint mapping;
	uint64_t last_rx;        /* ms, the core's clock */
};

struct trust_log {
	struct trust_event ev[TRUST_LOG_MAX];
	uint32_t n;
	bool reset; /* empty the map before applying ev[] */
	uint64_t lost;
};

static inline void trust_log_put(struct trust_log *l, bool add, uint8_t sock, bool at_address,
				 const struct in6_addr *addr, struct sw_endpoint mapping, uint64_t last_rx)
{
	if (l->n >= TRUST_LOG_MAX) {
		l->lost++;
		return;
	}
	l->ev[l->n++] = (struct trust_event){ .add = add, .sock = sock, .at_address = at_address, .addr = *addr,
					      .mapping = mapping, .last_rx = last_rx };
}

/* Something for the shell to apply. */
static inline bool trust_log_pending(const struct trust_log *l)
{
	return l->n || l->reset;
}

/* Every peer is gone: what was recorded before no longer matters. */
static inline void trust_log_reset(struct trust_log *l)
{
	l->n = 0;
	l->reset = true;
}

#endif
