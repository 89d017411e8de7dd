#include "sys/status_peers.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "sys/status_fmt.h"
#include "wire/teredo_addr.h"

void status_limits(struct status_out *o, const struct peer_table *t, const struct peer_pending *l)
{
	uint64_t tests = 0;
	for (uint32_t i = 0; i < l->n; i++) {
		const struct peer *p = &t->peers[l->idx[i]];
		tests += p->in_use && p->next_retry && p->echo_pending;
	}
	st_obj_begin(o, "limits");
	st_u64(o, "peers", t->count);
	st_u64(o, "peers_max", t->capacity);
	st_u64(o, "peers_evicted", t->stats.evicted);
	st_u64(o, "peers_expired", t->stats.expired);
	st_u64(o, "queued_packets", t->pool_used);
	st_u64(o, "queued_packets_max", t->pool_size);
	st_u64(o, "queued_per_peer_max", t->per_peer_max);
	st_u64(o, "queue_drops", t->stats.queue_drops);
	st_u64(o, "queue_replaced", t->stats.stolen);
	st_u64(o, "pending_bubbles", l->n - tests);
	st_u64(o, "pending_tests", tests);
	st_u64(o, "pending_max", PEER_PENDING_MAX);
	st_u64(o, "pending_full", l->full);
	st_u64(o, "table_bytes", t->bytes);
	st_obj_end(o);
}

static void one_peer(struct status_out *o, const struct peer *p, uint32_t prefix, uint64_t now)
{
	char a[INET6_ADDRSTRLEN + 8];
	st_str(o, "address", inet_ntop(AF_INET6, &p->addr, a, sizeof a));
	st_str(o, "kind", teredo_addr_has_prefix(&p->addr, prefix) ? "teredo" : "native");
	if (p->trusted)
		st_str(o, "mapping", endpoint_str(p->mapping, a, sizeof a));
	if (p->local)
		st_str(o, "local", endpoint_str(p->local_ep, a, sizeof a));
	st_bool(o, "trusted", p->trusted);
	/* RFC 6081 §5.4, §5.5: the random port it announced, the local socket it uses. */
	if (p->peer_rand_port)
		st_u64(o, "peer_random_port", ntohs(p->peer_rand_port));
	if (p->sock)
		st_u64(o, "socket", p->sock);
	st_u64(o, "queued", p->q_count);
	st_u64(o, "ms_since_rx", now - p->last_rx);
	st_u64(o, "ms_since_tx", now - p->last_tx);
	st_u64(o, "age_ms", now - p->created);
}

size_t status_peers(const struct peer_table *t, uint32_t prefix, uint64_t now, uint32_t from, bool json,
		    char *out, size_t cap)
{
	struct status_out o;
	uint64_t listed = 0;
	uint32_t i = from;
	st_begin(&o, out, cap, json);
	st_u64(&o, "count", t->count);
	st_arr_begin(&o, "peers");
	/* Each entry takes well under 512 bytes: stop while the answer still fits, and say
	 * where to go on from ("next": a slot of the table, which a peer keeps as long as it
	 * stays, so that a table of any size is listed a page per request). */
	for (; i < t->capacity && o.len + 1024 < cap; i++) {
		const struct peer *p = &t->peers[i];
		if (!p->in_use)
			continue;
		st_obj_begin(&o, NULL);
		one_peer(&o, p, prefix, now);
		st_obj_end(&o);
		listed++;
	}
	st_arr_end(&o);
	st_u64(&o, "listed", listed);
	if (i < t->capacity)
		st_u64(&o, "next", i);
	return st_end(&o);
}

size_t status_peer(struct peer_table *t, const struct in6_addr *addr, uint32_t prefix, uint64_t now,
		   const struct peer_kernel *k, bool json, char *out, size_t cap)
{
	const struct peer *p = peer_find(t, addr);
	if (!p)
		return st_line(out, cap, "error: no such peer\n");
	struct status_out o;
	st_begin(&o, out, cap, json);
	one_peer(&o, p, prefix, now);
	if (k && !k->found) {
		st_str(&o, "fast_path", "daemon");
	} else if (k) {
		/* The programs' own 30 s rule (R-05, C-41): past it the daemon bubbles again. */
		uint64_t rx_ms = k->e.last_rx / 1000000u, ago = now > rx_ms ? now - rx_ms : 0;
		char a[INET6_ADDRSTRLEN + 8];
		st_str(&o, "fast_path", ago * 1000000u >= FP_PEER_VALID_NS ? "stale" : "kernel");
		st_str(&o, "fast_path_mapping",
		       endpoint_str((struct sw_endpoint){ k->e.ip, k->e.port }, a, sizeof a));
		if (k->e.flags & FP_PEER_AT_ADDRESS) {
			/* sent to the mapping its address names, heard from the one above. */
			struct teredo_addr ta;
			teredo_addr_decode(addr, &ta);
			st_str(&o, "fast_path_sends_to", endpoint_str(ta.mapped, a, sizeof a));
		}
		st_u64(&o, "fast_path_local_port", ntohs(k->e.sport));
		st_u64(&o, "fast_path_ms_since_rx", ago);
	}
	return st_end(&o);
}
