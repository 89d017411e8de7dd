/* Teredo client: local client discovery (RFC 4380 §5.2.8): bubbles to 224.0.0.253 that
 * let two clients behind the same NAT talk on their own link. */
#include "core/client_int.h"

#include <string.h>

#include "wire/ipv6.h"
#include "wire/wire_err.h"

static uint64_t discovery_interval(struct client *c)
{
	uint16_t r;
	c->rng(c->rng_ctx, &r, sizeof r);
	return CLIENT_DISCOVERY_MIN_MS + (uint64_t)r * (CLIENT_DISCOVERY_MAX_MS - CLIENT_DISCOVERY_MIN_MS) / 65535;
}

/* RFC 4380 §5.2.8 (C-67): a bubble from our Teredo address to ff02::1 with hop limit 1,
 * to 224.0.0.253:3544 (the shell sends it with IPv4 TTL 1). */
void cl_send_discovery(struct client *c, uint64_t now)
{
	c->last_discovery = now;
	static const struct in6_addr all_nodes = { .s6_addr = { 0xff, 0x02, [15] = 1 } };
	struct sw_action *a = sw_emit(&c->o);
	c->next_discovery = now + discovery_interval(c);
	if (!a)
		return;
	ip6_put_header(a->hdr, 0, IPV6_NH_NONE, 1, &c->addr, &all_nodes);
	a->hdr_len = IPV6_HDR_LEN;
	a->dst = (struct sw_endpoint){ .ip = htonl(TEREDO_DISCOVERY_GROUP), .port = htons(TEREDO_PORT) };
	c->stats.discovery_sent++;
}

/* An extra discovery bubble outside the 200-300 s rhythm, at most one per 2 s. */
void cl_send_discovery_soon(struct client *c, uint64_t now)
{
	if (c->cfg.local_discovery && now - c->last_discovery >= CLIENT_RETRY_MS)
		cl_send_discovery(c, now);
}

int client_discovery(struct client *c, uint64_t now, struct sw_endpoint src, bool on_link,
		     const uint8_t *buf, size_t len, struct sw_action *acts, int cap)
{
	static const struct in6_addr all_nodes = { .s6_addr = { 0xff, 0x02, [15] = 1 } };
	struct teredo_pkt p;
	struct in6_addr s6, d6;
	begin(c, acts, cap);
	if (!c->cfg.local_discovery || c->state != CLIENT_QUALIFIED || !c->have_addr)
		return drop(c, CL_DROP_NOT_QUALIFIED);
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(c, CL_DROP_MALFORMED);
	ip6_src(p.ip6, &s6);
	ip6_dst(p.ip6, &d6);
	/* C-68: a bubble to ff02::1 from a well-formed Teredo address, sent from our own
	 * link; never from ourselves. */
	if (!ip6_is_bubble(p.ip6, p.ip6_len) || p.has_origin || p.has_auth ||
	    memcmp(&d6, &all_nodes, 16) || !teredo_addr_has_prefix(&s6, c->cfg.prefix) || !on_link ||
	    !memcmp(&s6, &c->addr, 16))
		return drop(c, CL_DROP_DISCOVERY);
	struct teredo_addr t;
	teredo_addr_decode(&s6, &t);
	if (!ipv4_is_global_unicast(t.mapped.ip) || !ipv4_is_global_unicast(t.server))
		return drop(c, CL_DROP_DISCOVERY);
	c->stats.discovery_received++;
	/* C-69: record where the peer is on our link; the entry stays untrusted until it
	 * answers from there (case 5, C-37). */
	struct peer *peer = peer_get(&c->peers, &s6, now);
	if (!peer)
		return c->o.n;
	bool known = peer->local && endpoint_eq(peer->local_ep, src);
	peer->local = true;
	peer->local_ep = src;
	peer->last_local = now;
	peer_heard(peer, now);
	/* C-36: answer with a unicast bubble, once per new local address (a flood of
	 * discovery bubbles costs at most one answer each, within the bubble count). The
	 * 2 s spacing is not waited for: it may have been spent on an indirect bubble to
	 * the same peer a moment ago (RFC 6081 §5.2), and this one goes to our link. */
	if (!known && (peer_may_bubble(peer, now) || peer->bubbles < 4)) {
		cl_send_bubble(c, src, &s6, NULL);
		peer->last_tx = now;
		peer->bubbles++;
		/* A newcomer missed our last discovery bubble: announce ourselves now, so
		 * that both sides know each other's local address at once. */
		cl_send_discovery_soon(c, now);
	}
	return c->o.n;
}
