/* The peer list of clients and relays (RFC 4380 §5.2, C-05, C-06; §5.4, R-02): a bounded
 * hash table keyed with a secret (SEC-05), with expiry and cheap eviction, and a bounded
 * pool of packets queued for peers that are not reachable yet (C-47, R-09, SEC-06).
 * All memory is allocated once by peer_table_init; nothing is allocated per packet. */
#ifndef SW_CORE_PEER_H
#define SW_CORE_PEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/trustlog.h"
#include "wire/endpoint.h"

#define PEER_NONE UINT32_MAX
#define PEER_NONCE_LEN 8
/* An entry still receiving this long after its creation, and one that has sent us this
 * many packets, is kept over others when the table is full (see evict_one). */
#define PEER_ESTABLISHED_MS 2000
#define PEER_BUSY_PACKETS 32

struct peer {
	/* Ordered by size, flags as bits: a public relay holds a million of these (issue
	 * 10's 256 MiB aim, make bench's last section). */
	struct in6_addr addr;        /* the remote IPv6 address (the key) */
	struct sw_endpoint mapping;  /* where packets for it go (C-05) */
	struct sw_endpoint alt[2];   /* RFC 6081 §5.6: its alternate addresses */
	/* RFC 4380 §5.2.8 (C-05, C-69): where local discovery saw it on our own link */
	struct sw_endpoint local_ep;
	uint64_t last_alt;           /* ms, when the alternates last got our bubbles */
	uint64_t last_rx, last_tx;   /* ms */
	uint64_t bubble_window;      /* ms, start of the 300 s window */
	uint64_t next_retry;         /* ms, 0 = none */
	uint64_t created;            /* ms */
	uint64_t last_local;         /* ms */
	/* queue of packets waiting for the peer (indices into the pool) */
	uint32_t q_head, q_tail;
	uint32_t next;               /* hash chain */
	uint16_t q_count;
	/* RFC 6081 §5.4.1, §5.5.1: the random port it announced (Peer Random
	 * Port, network byte order). */
	uint16_t peer_rand_port;
	/* RFC 6081 §5.2.1: the nonce of our last indirect bubble to the peer, and of
	 * its last indirect bubble to us. */
	uint8_t nonce_sent[4], nonce_rcvd[4];
	uint8_t nonce[PEER_NONCE_LEN];
	/* The client's random port lent to it (slot + 1, 0 = none; the rest of that state
	 * lives with the port, struct client_rport). */
	uint8_t rslot;
	uint8_t solicits;            /* RFC 6081 §5.7: solicitations sent, 0 = none */
	uint8_t retries;             /* bubbles or echo tests sent for the current attempt */
	uint8_t bubbles;             /* bubbles in the current 300 s window (C-53) */
	uint8_t heard;               /* packets accepted from it, saturating (eviction) */
	uint8_t sock : 6;            /* the local socket its traffic leaves from (< 64) */
	uint8_t nalt : 2;            /* how many of alt[] hold an address */
	bool trusted : 1;
	bool in_use : 1;
	bool echo_pending : 1;       /* a direct IPv6 connectivity test runs (C-65) */
	bool stranger : 1;           /* ... started because the peer wrote first (C-38) */
	bool has_nonce_sent : 1, has_nonce_rcvd : 1;
	bool dr_primary : 1, dr_random : 1; /* where its direct bubbles came in */
	bool speaks_6081 : 1;        /* it sent us an RFC 6081 trailer */
	bool symmetric_peer : 1;     /* RFC 6081 §5.3.1: a direct bubble came from
				      * another mapping than its address names */
	bool local : 1;              /* local_ep is valid */
	bool host_opened : 1;        /* a client's host wrote to it first (eviction) */
};

struct peer_pkt {
	uint32_t next;
	uint32_t older, newer;       /* the pool's age order, across all queues */
	uint32_t owner;              /* the entry it waits in (index) */
	uint16_t len;
	/* Which way the packet waits: out to the peer over UDP (the usual case), or in to
	 * the host, for a packet from a native peer held during the direct IPv6
	 * connectivity test that must vouch for its relay (RFC 4380 §5.2.3 case 6, §5.2.9). */
	bool to_host;
	struct sw_endpoint from;     /* to_host: the relay it came through */
	uint8_t data[1280 + 40];
};

struct peer_stats {
	uint64_t created, evicted, expired, queued, queue_drops;
	uint64_t stolen;             /* of queue_drops: given up for a newer exchange */
};

struct peer_table {
	struct peer *peers;
	uint32_t *buckets;
	uint32_t capacity, nbuckets, count, free_head, clock, sweep;
	struct peer_pkt *pool;
	uint32_t pool_size, pool_free, pool_used;
	uint32_t oldest, newest;     /* queued packets by age (struct peer_pkt older/newer) */
	uint16_t per_peer_max;
	uint8_t key[16];
	uint64_t bytes;              /* all the memory the table will ever use */
	struct peer_stats stats;
	/* The kernel fast path's journal (issue 10), or NULL: a trusted peer that leaves
	 * the table, however it leaves (expiry, eviction), is recorded there. */
	struct trust_log *trust;
};

/* capacity peers, pool_size queued packets in all, per_peer_max per peer; key from a
 * CSPRNG. Returns 0, or -1 when memory is short. */
int peer_table_init(struct peer_table *t, uint32_t capacity, uint32_t pool_size,
		    uint16_t per_peer_max, const uint8_t key[16]);
void peer_table_free(struct peer_table *t);

struct peer *peer_find(struct peer_table *t, const struct in6_addr *a);
/* Find or create. A full table evicts the least recently active of a few entries. */
struct peer *peer_get(struct peer_table *t, const struct in6_addr *a, uint64_t now);
void peer_remove(struct peer_table *t, struct peer *p);

/* Queue a copy of pkt for p, to go out to it (to_host false) or in to the host once it
 * is trusted. A full pool first drops its oldest packet that waits for an older,
 * untrusted entry.
 * Returns false (and counts a drop) when the packet is too large, the peer's queue is
 * full, or the pool holds nothing to give up. */
bool peer_enqueue(struct peer_table *t, struct peer *p, const uint8_t *pkt, size_t len, bool to_host);
/* Take the oldest queued packet of p; returns NULL when none. The packet stays valid
 * until the next call into the table. */
const struct peer_pkt *peer_dequeue(struct peer_table *t, struct peer *p);
void peer_drop_queue(struct peer_table *t, struct peer *p);

/* Visit up to `budget` entries from a rotating cursor and expire those idle for longer
 * than idle_ms (no reception and no transmission). */
void peer_sweep(struct peer_table *t, uint64_t now, uint64_t idle_ms, uint32_t budget);

/* RFC 4380 §5.2.6 (C-52, C-53): may a bubble go to p now (2 s since the last
 * transmission, fewer than 4 in the current 300 s window)? */
bool peer_may_bubble(struct peer *p, uint64_t now);

/* Peers with a bubble exchange or echo test in flight, so that timers visit only them. */
#define PEER_PENDING_MAX 256
struct peer_pending {
	uint32_t idx[PEER_PENDING_MAX];
	uint32_t n;
	uint64_t full;               /* peers not added because the list was full */
};
/* Add p (once); its next_retry must be set. False when the list is full (the relay
 * then clears next_retry, so that the peer's next packet starts the exchange again
 * within the bubble limits, instead of waiting for a retry that never comes). */
bool peer_pending_add(struct peer_pending *l, const struct peer_table *t, const struct peer *p);

/* Walk the pending list from *cursor (start at 0): return the next peer whose retry is
 * due, forgetting entries that left or finished on the way. For a peer that has had
 * max_retries repetitions, *give_up is set and the peer leaves the list (next_retry 0);
 * otherwise its retry count goes up and its next retry is retry_ms away. NULL at the end. */
struct peer *peer_pending_next(struct peer_pending *l, struct peer_table *t, uint32_t *cursor,
			       uint64_t now, uint8_t max_retries, uint64_t retry_ms, bool *give_up);

/* A packet from p was accepted at now. */
/* n packets accepted from p, the last at `now` (the kernel fast path reports several). */
static inline void peer_heard_n(struct peer *p, uint64_t now, uint32_t n)
{
	p->last_rx = now;
	p->heard = (uint8_t)(p->heard + n > UINT8_MAX ? UINT8_MAX : p->heard + n);
}

static inline void peer_heard(struct peer *p, uint64_t now)
{
	peer_heard_n(p, now, 1);
}

static inline uint32_t peer_index(const struct peer_table *t, const struct peer *p)
{
	return (uint32_t)(p - t->peers);
}

#endif
