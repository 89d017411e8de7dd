/* The Teredo relay (RFC 4380 §5.4, RFC 5991 §3.2) and the host-specific relay (§5.4 with
 * the host as the whole served range, §8.2), as one pure state machine: a relay forwards
 * between native IPv6 (the TUN) and Teredo clients (UDP); a host relay serves only the
 * host's own addresses. Same conventions as core/client.h. */
#ifndef SW_CORE_RELAY_H
#define SW_CORE_RELAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/action.h"
#include "core/client.h"
#include "core/peer.h"
#include "core/ratelimit.h"

#define RELAY_LOCAL_MAX 32

enum relay_drop {
	RL_DROP_MALFORMED,         /* */
	RL_DROP_SRC_NOT_TEREDO,    /* non-Teredo source over UDP */
	RL_DROP_SRC_MISMATCH,      /* mapping differs and no bubble of ours is pending */
	RL_DROP_DST_NOT_SERVED,    /* R-13 / H-05: destination outside what we serve */
	RL_DROP_TEREDO_TO_TEREDO,  /* SEC-11 (b, c): never loop Teredo traffic back */
	RL_DROP_TUN_INVALID,       /* from the TUN: not IPv6, bad length */
	RL_DROP_NOT_TEREDO_DST,    /* from the TUN to a non-Teredo destination */
	RL_DROP_NOT_GLOBAL,        /* R-04, P-08: embedded IPv4 not global */
	RL_DROP_QUEUE_FULL,        /* R-09, SEC-06 */
	RL_DROP_UNREACHABLE,       /* no answer to the bubbles */
	RL_DROP_LOOP,              /* SEC-11 (d): a mapping that is our own socket */
	RL_DROP_UNKNOWN_PEER,      /* from a client we never sent to */
	RL_DROP_SOURCE_LIMITED,    /* a native source over its rate of new peers */
	RL_DROP__COUNT
};
const char *relay_drop_name(enum relay_drop d);

#define RELAY_UNKNOWN_ALL UINT32_MAX

struct relay_config {
	uint32_t prefix;          /* host byte order */
	bool host_only;           /* host-specific relay (H-01, H-05) */
	bool direct_bubbles;      /* RelayType restricted: also bubble the mapping */
	/* 2: a second UDP socket (a host relay, which may sit behind a NAT): see
	 * bubble_peer in relay.c for the order of bubbles it allows. */
	uint8_t nsocks;
	/* packets from clients with no entry taken per second (a burst of as many);
	 * 0 for none, RELAY_UNKNOWN_ALL for all. */
	uint32_t unknown_rate;
	/* new peers a second that one native source (its /64) may make us contact (a
	 * burst of as many); 0 for no limit. */
	uint32_t new_per_source;
	struct sw_endpoint self;  /* our own UDP socket, for the loop guard (0 = unknown) */
	uint32_t peer_capacity, queue_pool;
	uint16_t queue_per_peer;
};

struct relay_stats {
	uint64_t from_udp, from_tun, to_udp, to_tun, bubbles_sent, icmp_errors, icmp_errors_limited;
	uint64_t dropped[RL_DROP__COUNT];
};

/* R-14's per-source limit: one bucket per native /64, in a fixed table indexed by a keyed
 * hash (SEC-05); a source that finds its slot taken by another takes it over. */
#define RELAY_SOURCES 4096
struct relay_source {
	uint64_t tag;             /* the /64's keyed hash, 0 = free */
	struct ratelimit rl;
};

struct relay {
	struct relay_config cfg;
	struct peer_table peers;
	struct in6_addr local[RELAY_LOCAL_MAX]; /* host relay: the host's own addresses */
	unsigned nlocal;
	struct peer_pending pending;
	struct ratelimit icmp;
	struct ratelimit unknown;
	struct relay_source sources[RELAY_SOURCES];
	struct relay_stats stats;
	struct trust_log trust; /* the kernel fast path's journal (used once enabled) */
	struct sw_out o;
};

int relay_init(struct relay *r, const struct relay_config *cfg, sw_rng_fn rng, void *rng_ctx);
void relay_free(struct relay *r);
/* Host relay: the host's own (non-Teredo) IPv6 addresses, the only destinations served. */
void relay_set_local(struct relay *r, const struct in6_addr *addrs, unsigned n);

int relay_udp(struct relay *r, uint64_t now, struct sw_endpoint src, const uint8_t *buf,
	      size_t len, struct sw_action *acts, int cap);
/* The same for a datagram that arrived on local socket `sock` (0 or 1). */
int relay_udp_on(struct relay *r, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *buf,
		 size_t len, struct sw_action *acts, int cap);
int relay_tun(struct relay *r, uint64_t now, const uint8_t *pkt, size_t len,
	      struct sw_action *acts, int cap);
int relay_tick(struct relay *r, uint64_t now, struct sw_action *acts, int cap);

/* The kernel fast path (issue 10): from now on every peer that becomes trusted, changes
 * mapping or leaves is recorded in r->trust, for the shell to mirror into the kernel's
 * map and empty. */
void relay_fast_path(struct relay *r);
/* The fast path saw `pkts` data packets from trusted peer `a`, the last at `at` (ms, the
 * core's clock), that the core never saw: the peer is still active, and heard as if the
 * core had seen them (peer_heard_n: eviction keeps busy peers). */
void relay_peer_seen(struct relay *r, const struct in6_addr *a, uint64_t at, uint32_t pkts);

#endif
