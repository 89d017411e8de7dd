/* Teredo client: reception (RFC 4380 §5.2.3, cases 1-6, with CVE-2006-6266's limits on
 * case 6), and what RFC 6081's bubbles and trailers add to it (§5.2, §5.4.4.5, §5.6,
 * §5.7). */
#include "core/client_int.h"

#include <string.h>

#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

/* a direct bubble from another mapping than the peer's address names marks it
 * symmetric; called before cl_trust(), which gives a lent random port back. The RFC does
 * not say how §5.3 and §5.4 meet. Behind our UPnP-enabled NAT, a peer we lent a random
 * port to may write to our primary port (its IGD mapping) while our own earlier bubble
 * to it from there has a flow open in our NAT; Linux's NAT then rewrites the source port
 * of the peer's packet to keep the two flows apart, and any peer looks symmetric. An
 * answer to where it came from goes back through that very flow, and X-26's send to the
 * peer's address would leave on the other flow's port, which a port-restricted peer's
 * NAT drops. So a peer that has a random port of ours is not marked: the answer goes to
 * where it wrote from, as for a symmetric peer under §5.2. */
static bool symmetric_peer_flag(const struct client *c, const struct peer *p)
{
	return !(c->upnp_enabled && p->rslot);
}

/* RFC 6081 §5.6.4.2: may a direct bubble go to this alternate address of a peer? Only
 * to a global one, or one on our own link (the peer behind our NAT), never to ours. */
static bool alt_ok(const struct client *c, struct sw_endpoint ep)
{
	if (!ep.port || ep.ip == c->local_ip)
		return false;
	return ipv4_is_global_unicast(ep.ip) ? !ipv4_in_nets(c->nets, c->nnets, ep.ip)
					     : ipv4_in_nets(c->nets, c->nnets, ep.ip);
}

/* Remember a relay our server introduced (C-32): its data may follow. */
static void introduced(struct client *c, struct sw_endpoint ep, uint64_t now)
{
	for (unsigned i = 0; i < CLIENT_INTRO_MAX; i++)
		if (endpoint_eq(c->intro[i], ep)) {
			c->intro_at[i] = now;
			return;
		}
	c->intro[c->intro_next] = ep;
	c->intro_at[c->intro_next] = now;
	c->intro_next = (c->intro_next + 1) % CLIENT_INTRO_MAX;
}

/* Did our server introduce ep lately? */
static bool introduced_lately(const struct client *c, struct sw_endpoint ep, uint64_t now)
{
	for (unsigned i = 0; i < CLIENT_INTRO_MAX; i++)
		if (c->intro_at[i] && endpoint_eq(c->intro[i], ep) && now - c->intro_at[i] < CLIENT_INTRO_VALID_MS)
			return true;
	return false;
}

/* Do a trusted native peer's packets already come from ep (a relay that still trusts
 * us sends a new native peer's packets without bubbling first)? A table scan: the
 * caller takes a token of the stranger rate first. */
static bool relays_for_us(const struct client *c, struct sw_endpoint ep)
{
	for (uint32_t i = 0; i < c->peers.capacity; i++) {
		const struct peer *q = &c->peers.peers[i];
		if (q->in_use && q->trusted && endpoint_eq(q->mapping, ep) &&
		    !teredo_addr_has_prefix(&q->addr, c->cfg.prefix))
			return true;
	}
	return false;
}

/* RFC 4380 §5.2.3 case 6 (C-38) and §5.2.9 (C-65, C-66): a packet from a native peer we
 * hold no trusted entry for, through a relay. It is held (bounded) while a direct IPv6
 * connectivity test through our own server proves which relay serves that peer; the
 * mapping is learned from the echo reply only (case 2), never from this packet. Against
 * CVE-2006-6266 (SEC-22): a test goes only to the IPv6 source of a packet that came
 * from a relay we know of, at most CLIENT_STRANGER_RATE a second in all and 4 per peer
 * in 300 s, one echo per received packet at most (no timer repeats it), so a stranger
 * can never make us send more than it sent. */
static int stranger(struct client *c, uint64_t now, struct sw_endpoint src, const struct in6_addr *s6,
		    struct peer *peer, const struct teredo_pkt *p)
{
	if (!in6_is_global_scope(s6) || in6_is_multicast(s6))
		return drop(c, CL_DROP_UNKNOWN_SOURCE);
	if (!ipv4_is_global_unicast(src.ip))
		return drop(c, CL_DROP_NOT_GLOBAL);
	bool token = false;
	if (!introduced_lately(c, src, now)) {
		if (!ratelimit_take(&c->stranger, now, CLIENT_STRANGER_RATE))
			return drop(c, CL_DROP_STRANGER_LIMITED);
		token = true;
		if (!relays_for_us(c, src))
			return drop(c, CL_DROP_UNKNOWN_SOURCE);
	}
	bool testing = peer && peer->echo_pending;
	if (!peer)
		peer = peer_get(&c->peers, s6, now);
	if (!peer)
		return drop(c, CL_DROP_QUEUE_FULL);
	if (peer_enqueue(&c->peers, peer, p->ip6, p->ip6_len, true)) {
		c->peers.pool[peer->q_tail].from = src;
		c->stats.stranger_queued++;
	} else {
		c->stats.dropped[CL_DROP_QUEUE_FULL]++;
	}
	/* One echo for this packet if the per-peer limits allow (2 s apart, 4 in 300 s:
	 * the bubble limits of C-52, C-53); the nonce stays, so a late reply still counts. */
	if (!peer_may_bubble(peer, now))
		return c->o.n;
	if (!token && !ratelimit_take(&c->stranger, now, CLIENT_STRANGER_RATE)) {
		c->stats.dropped[CL_DROP_STRANGER_LIMITED]++; /* held; its next packet may test */
		return c->o.n;
	}
	if (!testing) {
		c->rng(c->rng_ctx, peer->nonce, PEER_NONCE_LEN);
		peer->echo_pending = true;
		peer->stranger = true;
		peer->retries = 0;
	}
	peer->bubbles++;
	cl_echo_test(c, peer, now);
	c->stats.stranger_tests++;
	cl_add_pending(c, peer, now);
	peer->retries = 1;
	return c->o.n;
}

/* An accepted data packet goes to the host; the trailers stay out of it. */
int cl_to_host(struct client *c, const struct teredo_pkt *p)
{
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->kind = SW_ACT_TUN;
		a->body = p->ip6;
		a->body_len = p->ip6_len;
		c->stats.to_tun++;
	}
	return c->o.n;
}

int client_udp_on(struct client *c, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *buf,
		  size_t len, struct sw_action *acts, int cap)
{
	if (sock == 0)
		return client_udp(c, now, src, buf, len, acts, cap);
	begin(c, acts, cap);
	c->stats.from_udp++;
	if (sock >= CLIENT_SOCK_RANDOM)
		return cl_rport_udp(c, now, sock - CLIENT_SOCK_RANDOM, src, buf, len);
	return cl_probe_udp(c, now, src, buf, len);
}

int client_udp(struct client *c, uint64_t now, struct sw_endpoint src, const uint8_t *buf,
	       size_t len, struct sw_action *acts, int cap)
{
	struct teredo_pkt p;
	begin(c, acts, cap);
	c->stats.from_udp++;
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(c, CL_DROP_MALFORMED);
	/* RFC 6081 §5.1.2: trailers in order; an unknown one whose type says
	 * "discard" takes the packet with it. None of them is acted on yet. */
	struct teredo_trailers tr = { 0 };
	if (p.trailers_len && teredo_trailers_parse(p.trailers, p.trailers_len, &tr) != WIRE_OK)
		return drop(c, CL_DROP_TRAILER);
	bool from_server = (src.ip == c->cfg.server || src.ip == c->cfg.server2) &&
			   src.port == htons(TEREDO_PORT);
	if (from_server)
		c->last_server_rx = now; /* C-29 */
	struct in6_addr s6, d6;
	ip6_src(p.ip6, &s6);
	ip6_dst(p.ip6, &d6);
	int icmp = icmp6_type(p.ip6, p.ip6_len);
	if (icmp == ICMP6_RA && in6_is_linklocal(&d6))
		return cl_handle_ra(c, now, src, &p);
	if (c->state != CLIENT_QUALIFIED || !c->have_addr)
		return drop(c, CL_DROP_NOT_QUALIFIED); /* C-10 */
	bool bubble = ip6_is_bubble(p.ip6, p.ip6_len);

	/* C-32 (as deployed, E-11): a packet the server relays with an origin indication
	 * gets a direct bubble to that origin, which opens our NAT towards the peer or
	 * relay that is trying to reach us. */
	if (from_server && p.has_origin) {
		if (!ipv4_is_global_unicast(p.origin.ip))
			return drop(c, CL_DROP_NOT_GLOBAL);
		if (!mapping_ok(c, p.origin.ip))
			return drop(c, CL_DROP_LOCAL_SUBNET);
		struct peer *q = NULL;
		if (bubble && c->cfg.symmetric_nat && teredo_addr_has_prefix(&s6, c->cfg.prefix)) {
			/* RFC 6081 §5.2.4.3: keep the peer's nonce, or forget an old one. */
			/* a malformed Alternate Address Trailer drops the bubble. */
			if (c->cfg.hairpinning && tr.alt_invalid)
				return drop(c, CL_DROP_TRAILER);
			q = peer_get(&c->peers, &s6, now);
			if (q) {
				q->has_nonce_rcvd = tr.has_nonce;
				memcpy(q->nonce_rcvd, tr.nonce, sizeof q->nonce_rcvd);
				q->speaks_6081 |= tr.has_nonce;
				q->nalt = 0;
				for (unsigned i = 0; tr.has_alt && i < tr.nalt && q->nalt < 2; i++)
					if (alt_ok(c, tr.alt[i]))
						q->alt[q->nalt++] = tr.alt[i];
				if (tr.has_random_port) {
					cl_peer_random_port(c, q, tr.random_port, now); /* */
					cl_rport_for_announced(c, q);
				}
			}
		}
		cl_send_bubble(c, p.origin, &s6, nonce_for_direct(c, q));
		introduced(c, p.origin, now);
		/* RFC 6081 §5.6.4.2: a direct bubble, with its nonce, to each alternate
		 * address it gave, whether or not we trust it already (it needs this proof
		 * to trust us); at most once in 2 s per peer. */
		if (q && c->cfg.hairpinning && tr.has_nonce && q->nalt && now - q->last_alt >= CLIENT_RETRY_MS) {
			for (unsigned i = 0; i < q->nalt; i++) {
				cl_send_bubble(c, q->alt[i], &s6, q->nonce_rcvd);
				c->stats.alt_bubbles++;
			}
			q->last_alt = now;
		}
		/* RFC 6081 §5.2 (its example, step 6): a peer whose indirect bubble shows it
		 * speaks the extension (a nonce) and that we do not trust yet gets our own
		 * indirect bubble too, so that from behind a symmetric NAT it can answer with
		 * our nonce from the port its NAT gives it. Within the bubble limits. */
		if (q && tr.has_nonce && !q->trusted) {
			struct teredo_addr t;
			teredo_addr_decode(&s6, &t);
			/* A peer that wrote again without a Random Port after ours reached it
			 * (our port went out in an earlier indirect bubble) has none. */
			bool embedded = q->rslot && !tr.has_random_port;
			/* one bubble to the random port the peer announced, or from ours to
			 * a peer that announced none; before our indirect bubble, whose answer
			 * through the servers can otherwise beat it to the peer (a NAT that keeps
			 * state for unsolicited input would then move our mapping). Only a random
			 * port lent just now by indirect_due writes after it. */
			bool lend = !q->rslot && pp_active(c);
			if (!lend)
				cl_random_port_bubbles(c, q, &t, embedded);
			if (peer_may_bubble(q, now) && ipv4_is_global_unicast(t.server)) {
				cl_indirect_due(c, q, t.server, now);
				q->last_tx = now;
				q->bubbles++;
			}
			if (lend)
				cl_random_port_bubbles(c, q, &t, embedded);
		}
		if (bubble)
			return c->o.n;
	} else if (from_server && bubble && teredo_addr_has_prefix(&s6, c->cfg.prefix)) {
		/* C-32 as Miredo does it: a server that forwards an indirect bubble without an
		 * origin indication still lets us answer the mapping embedded in its source. */
		struct teredo_addr t;
		teredo_addr_decode(&s6, &t);
		if (!mapping_ok(c, t.mapped.ip))
			return drop(c, ipv4_is_global_unicast(t.mapped.ip) ? CL_DROP_LOCAL_SUBNET : CL_DROP_NOT_GLOBAL);
		cl_send_bubble(c, t.mapped, &s6, NULL);
		c->stats.origin_fallback++;
		return c->o.n;
	}
	if (!bubble && memcmp(&d6, &c->addr, 16))
		return drop(c, CL_DROP_NOT_FOR_US); /* C-31 */
	if (in6_is_linklocal(&s6))
		return bubble ? c->o.n : drop(c, CL_DROP_LINK_LOCAL); /* C-71 */

	struct peer *peer = peer_find(&c->peers, &s6);
	if (bubble && peer && peer->trusted && peer->dr_primary && pp_active(c) && !endpoint_eq(peer->mapping, src) &&
	    now - peer->last_rx > CLIENT_PEER_VALID_MS && now - peer->last_tx > CLIENT_PEER_VALID_MS) {
		/* RFC 6081 §5.4.4.5 (X-38 (b)): a trusted peer idle for 30 s writes from
		 * another mapping: its NAT's mapping changed; contact again through its
		 * server. */
		cl_restart_contact(c, peer, now);
		return c->o.n;
	}
	if (bubble && tr.has_random_port && peer && peer->trusted && !endpoint_eq(peer->mapping, src) &&
	    now - peer->last_rx < CLIENT_RETRY_MS) {
		/* A bubble from the random port of a peer we just heard at another mapping:
		 * both paths opened at once (a cone NAT lets both in). The peer gives its
		 * random port up as soon as our bubble reaches its primary port (X-38 (a));
		 * moving to the random port now would leave us talking to a closed port. */
		return c->o.n;
	}
	if (peer && peer->trusted && endpoint_eq(peer->mapping, src) && peer->sock != 0 && bubble) {
		/* RFC 6081 §5.4.4.5 (X-38 (c)): a peer we reach through a random port now
		 * reaches our primary port from the same mapping: the primary port wins, so
		 * that both sides settle on one path. */
		cl_trust(c, peer, src, now);
		return c->o.n;
	} else if (peer && peer->trusted && endpoint_eq(peer->mapping, src)) {
		/* Case 1 (C-33). */
		peer_heard(peer, now);
		if (peer->q_count)
			cl_flush_queue(c, peer, now);
	} else if (peer && peer->echo_pending && icmp == ICMP6_ECHO_REP &&
		   p.ip6_len == 40 + 8 + PEER_NONCE_LEN && !memcmp(p.ip6 + 48, peer->nonce, PEER_NONCE_LEN)) {
		/* Case 2 (C-34): our connectivity test came back through this relay. */
		cl_trust(c, peer, src, now);
		return c->o.n;
	} else {
		struct teredo_addr t;
		bool teredo = teredo_addr_has_prefix(&s6, c->cfg.prefix);
		if (teredo)
			teredo_addr_decode(&s6, &t);
		if (teredo && endpoint_eq(t.mapped, src)) {
			/* Case 3 (C-35): the source sends from the mapping in its address. */
			if (!mapping_ok(c, src.ip))
				return drop(c, CL_DROP_LOCAL_SUBNET); /* SEC-22 */
			peer = peer_get(&c->peers, &s6, now);
			if (peer)
				cl_trust(c, peer, src, now);
		} else if (teredo && peer && peer->local && endpoint_eq(peer->local_ep, src)) {
			/* Case 5 (C-37): a local peer answering from its address on our link. */
			cl_trust(c, peer, src, now);
		} else if (teredo && bubble && peer && (c->cfg.symmetric_nat || c->cfg.hairpinning) && peer->has_nonce_sent &&
			   tr.has_nonce && !memcmp(tr.nonce, peer->nonce_sent, sizeof tr.nonce)) {
			/* RFC 6081 §5.2.4.4 and §5.6.4.3: a direct bubble from
			 * another mapping than its address says, carrying the nonce of our
			 * indirect bubble: a peer behind a symmetric NAT, or behind our own NAT
			 * answering at the local address we advertised; its mapping is where
			 * this came from. On our own link only with hairpinning on: the nonce is
			 * the proof SEC-22 asks for. */
			bool own_link = ipv4_in_nets(c->nets, c->nnets, src.ip);
			if (own_link ? !c->cfg.hairpinning : !mapping_ok(c, src.ip))
				return drop(c, own_link ? CL_DROP_LOCAL_SUBNET : CL_DROP_NOT_GLOBAL);
			peer->symmetric_peer = !own_link && symmetric_peer_flag(c, peer); /* */
			cl_trust(c, peer, src, now);
			peer->speaks_6081 = true;
			c->stats.nonce_accepted++;
			/* C-39: answer there, so that the peer hears us from the mapping in our
			 * address (its case 3) through the hole its bubble opened; or, from
			 * behind our UPnP-enabled symmetric NAT, at its own IGD. */
			cl_send_bubble(c, cl_peer_dst(c, peer), &s6, NULL);
			return c->o.n;
		} else if (teredo && bubble && peer && peer->peer_rand_port && src.ip == t.mapped.ip &&
			   src.port == peer->peer_rand_port && mapping_ok(c, src.ip)) {
			/* RFC 6081 §3.3, §3.4, the port-restricted side: a bubble from the random
			 * port the peer announced in its indirect bubble, from the
			 * address its Teredo address names; answered there (C-39). */
			cl_trust(c, peer, src, now);
			c->stats.peer_random_port_accepted++;
			cl_send_bubble(c, src, &s6, nonce_for_direct(c, peer));
			return c->o.n;
		} else if (teredo && bubble && !p.trailers_len && peer && peer->next_retry && !peer->echo_pending &&
			   src.ip == t.mapped.ip && src.port != t.mapped.port && mapping_ok(c, src.ip)) {
			/* Interop with peers without RFC 6081 (Miredo): a peer we are bubbling
			 * answers from another port of the very address its Teredo address
			 * names: a port-symmetric NAT, or a NAT that moved its mapping (Linux's
			 * masquerade after our direct bubble reached it first). Miredo takes any
			 * source here; this takes only a bubble without trailers (a peer with
			 * RFC 6081 returns our nonce, and X-15 judges that), only from that
			 * address, only during our own exchange (C-66 narrowed, not dropped). */
			peer->symmetric_peer = symmetric_peer_flag(c, peer); /* */
			cl_trust(c, peer, src, now);
			c->stats.moved_port_accepted++;
			return c->o.n;
		} else if (!teredo && !from_server && !bubble) {
			return stranger(c, now, src, &s6, peer, &p); /* case 6 (C-38) */
		} else {
			return drop(c, CL_DROP_UNKNOWN_SOURCE); /* case 6 (C-38) */
		}
	}
	if (peer && (tr.has_nonce || tr.has_nd))
		peer->speaks_6081 = true;
	/* RFC 6081 §5.7.4.2: a peer asks whether we are still there. */
	if (bubble && tr.has_nd && tr.nd_type == TRAILER_ND_SOLICITATION && c->cfg.load_reduction)
		cl_send_nd_bubble(c, src, &s6, TRAILER_ND_ADVERTISEMENT);
	return bubble ? c->o.n : cl_to_host(c, &p);
}
