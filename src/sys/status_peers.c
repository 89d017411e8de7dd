#include "sys/status_peers.h"

#include <arpa/inet.h>

#include "sys/status_fmt.h"
#include "wire/teredo_addr.h"

size_t status_peers(const struct peer_table *t, uint32_t prefix, uint64_t now, bool json,
		    char *out, size_t cap)
{
	struct status_out o;
	char a[INET6_ADDRSTRLEN + 8];
	st_begin(&o, out, cap, json);
	st_u64(&o, "count", t->count);
	st_arr_begin(&o, "peers");
	/* Each entry takes well under 512 bytes: stop while the answer still fits. */
	for (uint32_t i = 0; i < t->capacity && o.len + 512 < cap; i++) {
		const struct peer *p = &t->peers[i];
		if (!p->in_use)
			continue;
		st_obj_begin(&o, NULL);
		st_str(&o, "address", inet_ntop(AF_INET6, &p->addr, a, sizeof a));
		st_str(&o, "kind", teredo_addr_has_prefix(&p->addr, prefix) ? "teredo" : "native");
		if (p->trusted)
			st_str(&o, "mapping", endpoint_str(p->mapping, a, sizeof a));
		if (p->local)
			st_str(&o, "local", endpoint_str(p->local_ep, a, sizeof a));
		st_bool(&o, "trusted", p->trusted);
		st_u64(&o, "queued", p->q_count);
		st_u64(&o, "ms_since_rx", now - p->last_rx);
		st_u64(&o, "ms_since_tx", now - p->last_tx);
		st_obj_end(&o);
	}
	st_arr_end(&o);
	return st_end(&o);
}
