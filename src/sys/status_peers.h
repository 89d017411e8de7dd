/* `shipworm peers`: the peer table of a client or relay, for the control socket. */
#ifndef SW_SYS_STATUS_PEERS_H
#define SW_SYS_STATUS_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/fastpath.h"
#include "core/peer.h"

struct status_out;
/* The "limits" section of a client's or relay's status: each bounded table and queue
 * with its use, its limit and what its limit has cost (SEC-06). */
void status_limits(struct status_out *o, const struct peer_table *t, const struct peer_pending *l);

/* `shipworm peers`: the entries from table slot `from` on, as many as fit in cap, with
 * the table's count, how many were listed and, when the rest did not fit, "next": the
 * slot to ask from for the next page (peers_page.h puts the pages together). */
size_t status_peers(const struct peer_table *t, uint32_t prefix, uint64_t now, uint32_t from, bool json,
		    char *out, size_t cap);
/* What the kernel fast path's map holds for a peer: whether it has an entry, and that
 * entry (fastpath_peer). */
struct peer_kernel {
	bool found;
	struct fp_peer e;
};
/* `shipworm peer ADDRESS`: one entry, or "error: no such peer"; with the fast path on
 * (k not NULL), what the kernel does with the peer's traffic: carries it, leaves it to
 * the daemon, or would but for a stale entry. */
size_t status_peer(struct peer_table *t, const struct in6_addr *addr, uint32_t prefix, uint64_t now,
		   const struct peer_kernel *k, bool json, char *out, size_t cap);

#endif
