/* Teredo client: reaching peers (RFC 4380 §5.2.4, §5.2.6, §5.2.9): what the host sends
 * (client_tun), bubbles direct and indirect, trust, the queues of packets waiting for
 * it, the direct IPv6 connectivity test, ICMPv6 errors to the host, and the journal the
 * kernel fast path mirrors (issue 10). */
#include "core/client_int.h"

#include <string.h>

#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/trailer.h"

/* Data to a trusted peer, from the socket its direct bubbles came in on (RFC 6081
 * §5.4.4.5) and counted as data. */
static void send_to_peer(struct client *c, struct peer *p, const uint8_t *body, size_t len, uint64_t now)
{
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->sock = p->sock;
		a->dst = cl_peer_dst(c, p);
		a->body = body;
		a->body_len = len;
		c->stats.to_udp++;
	}
	p->last_tx = now;
	if (p->rslot)
		c->rport[p->rslot - 1].last_data_tx = now; /* */
}

/* A bubble to `to` at dst from local socket sock, with a Nonce Trailer when nonce is
 * given (RFC 6081 §4.2) and a Random Port Trailer when rport is (§4.5). */
void cl_send_bubble_on(struct client *c, uint8_t sock, struct sw_endpoint dst, const struct in6_addr *to,
			   const uint8_t *nonce, uint16_t rport)
{
	struct sw_action *a = sw_emit(&c->o);
	if (!a)
		return;
	a->hdr_len = bubble_build(a->hdr, &c->addr, to);
	if (nonce)
		a->hdr_len += trailer_put_nonce(a->hdr + a->hdr_len, nonce);
	if (rport)
		a->hdr_len += trailer_put_random_port(a->hdr + a->hdr_len, rport);
	a->dst = dst;
	a->sock = sock;
	c->stats.bubbles_sent++;
}

void cl_send_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to,
			const uint8_t *nonce)
{
	cl_send_bubble_on(c, 0, dst, to, nonce, 0);
}

/* RFC 6081 §5.7: a direct bubble with a Neighbor Discovery Option Trailer. */
void cl_send_nd_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to, uint8_t type)
{
	struct sw_action *a = sw_emit(&c->o);
	if (!a)
		return;
	a->hdr_len = bubble_build(a->hdr, &c->addr, to);
	a->hdr_len += trailer_put_nd(a->hdr + a->hdr_len, type);
	a->dst = dst;
	c->stats.bubbles_sent++;
	if (type == TRAILER_ND_SOLICITATION)
		c->stats.solicitations++;
	else
		c->stats.advertisements++;
}

/* RFC 6081 §5.2.4.1: an indirect bubble through the peer's server carries a
 * fresh nonce, remembered as Nonce Sent; a peer behind a symmetric NAT proves itself by
 * returning it from whatever port its NAT gives it. */
void cl_send_indirect(struct client *c, struct peer *p, uint32_t server)
{
	/* RFC 6081 §5.6.4.1: while we have no contact, also our own address and
	 * port, for a peer behind the same NAT that does not hairpin (a Nonce Trailer
	 * then goes along, as the extension requires). */
	struct sw_endpoint alts[2];
	unsigned nalt = 0;
	if (c->cfg.hairpinning && !p->trusted && c->local_ip && c->cfg.local_port)
		alts[nalt++] = (struct sw_endpoint){ .ip = c->local_ip, .port = c->cfg.local_port };
	/* ... and the UPnP mapping, when it is not the one in our address. */
	struct sw_endpoint um = client_upnp_mapped(c);
	if (c->cfg.hairpinning && !p->trusted && um.ip)
		alts[nalt++] = um;
	bool alt = nalt > 0;
	struct sw_action *a = sw_emit(&c->o);
	if (!a)
		return;
	a->hdr_len = bubble_build(a->hdr, &c->addr, &p->addr);
	if (c->cfg.symmetric_nat || alt) {
		c->rng(c->rng_ctx, p->nonce_sent, sizeof p->nonce_sent);
		p->has_nonce_sent = true;
		a->hdr_len += trailer_put_nonce(a->hdr + a->hdr_len, p->nonce_sent);
	}
	if (alt)
		a->hdr_len += trailer_put_alt(a->hdr + a->hdr_len, alts, nalt);
	/* RFC 6081 §5.4.4.2, §5.5.4.2: the port predicted for this peer. */
	if (p->rslot && c->rport[p->rslot - 1].rand_port)
		a->hdr_len += trailer_put_random_port(a->hdr + a->hdr_len, c->rport[p->rslot - 1].rand_port);
	a->dst = server_ep(server);
	c->stats.bubbles_sent++;
}

/* Issue 10: tell the kernel fast path how trusted peer p is reached now. It may carry
 * p's data when p is reached from the Teredo socket or from the random port of RFC 6081
 * §5.4, §5.5 lent to it (the journal names the socket, whose port the packets leave
 * from and the only one besides the Teredo port they are taken on), at the mapping it
 * writes from or, under X-26, at the one its address names (peer_dst); it takes p's
 * data from the former in either case. Not from the NAT probe's socket. */
void cl_trust_mirror(struct client *c, const struct peer *p)
{
	if (!c->peers.trust)
		return;
	struct sw_endpoint to;
	trust_log_put(c->peers.trust, p->sock != 1, p->sock, cl_at_address(c, p, &to), &p->addr, p->mapping,
		      p->last_rx);
}

/* C-45: a direct bubble to the embedded mapping and an indirect one via the peer's own
 * server (C-51), within the rate limits. */
static void bubble_peer(struct client *c, struct peer *p, uint64_t now)
{
	if (!peer_may_bubble(p, now))
		return;
	struct teredo_addr t;
	teredo_addr_decode(&p->addr, &t);
	/* C-43: a peer seen by local discovery also gets a bubble on the link; its
	 * private address came from the link itself, not from a packet (C-46). */
	if (p->local && now - p->last_local < CLIENT_LOCAL_VALID_MS) {
		cl_send_bubble(c, p->local_ep, &p->addr, NULL);
		/* C-43: and a discovery bubble, so that the peer learns our local address
		 * and accepts our unicast bubble (case 5, C-37). */
		cl_send_discovery_soon(c, now);
	}
	if (mapping_ok(c, t.mapped.ip))
		cl_send_bubble(c, t.mapped, &p->addr, nonce_for_direct(c, p));
	if (ipv4_is_global_unicast(t.server))
		cl_indirect_due(c, p, t.server, now);
	/* Behind a sequential NAT the Echo Test's bubble already went there. */
	cl_random_port_bubbles(c, p, &t, ss_active(c) || p->retries >= 2);
	p->last_tx = now; /* C-54: each bubble updates the last transmission and the count */
	p->bubbles++;
}

/* RFC 4380 §5.2.9 (C-65): an echo request with a random nonce, through our server. */
void cl_echo_test(struct client *c, struct peer *p, uint64_t now)
{
	struct sw_action *a = sw_emit(&c->o);
	if (!a)
		return;
	a->hdr_len = icmp6_build_echo(a->hdr, sizeof a->hdr, ICMP6_ECHO_REQ, 64, &c->addr, &p->addr,
				      0x7465, p->retries, p->nonce, PEER_NONCE_LEN);
	a->dst = server_ep(c->cfg.server);
	p->last_tx = now;
	c->stats.echo_tests++;
}

/* An ICMPv6 error to the local sender of pkt (RFC 4443 §3.1), rate-limited by a token
 * bucket (RFC 4443 §2.4 (f)). Our own address is the error's source: the host's stack
 * takes it as coming from the first hop. */
static void icmp_error(struct client *c, uint64_t now, uint8_t code, const uint8_t *pkt, size_t len)
{
	struct in6_addr dst;
	ip6_src(pkt, &dst);
	if (in6_is_multicast(&dst))
		return; /* RFC 4443 §2.4 (e) */
	if (c->o.n >= c->o.cap)
		return;
	if (!ratelimit_take(&c->icmp, now, CLIENT_ICMP_RATE)) {
		c->stats.icmp_errors_limited++;
		return;
	}
	sw_icmp_unreachable(sw_emit(&c->o), c->have_addr ? &c->addr : &dst, code, pkt, len);
	c->stats.icmp_errors++;
}

void cl_add_pending(struct client *c, struct peer *p, uint64_t now)
{
	p->next_retry = now + CLIENT_RETRY_MS;
	/* A full list: this exchange waits for the peer's entry to expire (the host's own
	 * packets; the relay, which strangers feed, retries instead). */
	(void)peer_pending_add(&c->pending, &c->peers, p);
}

/* Send everything queued for a peer that just became reachable (C-34, C-35): packets
 * for it to its mapping, and a native peer's first packets, held while the
 * connectivity test ran, to the host. */
void cl_flush_queue(struct client *c, struct peer *p, uint64_t now)
{
	const struct peer_pkt *k;
	p->next_retry = 0;
	p->echo_pending = false;
	p->stranger = false;
	p->solicits = 0;
	p->retries = 0;
	while (c->o.n < c->o.cap && (k = peer_dequeue(&c->peers, p)) != NULL) {
		if (k->to_host) {
			/* C-66: only what came through the relay the test proved. */
			if (!endpoint_eq(k->from, p->mapping)) {
				c->stats.dropped[CL_DROP_UNKNOWN_SOURCE]++;
				continue;
			}
			struct sw_action *a = sw_emit(&c->o);
			a->kind = SW_ACT_TUN;
			a->body = k->data;
			a->body_len = k->len;
			c->stats.to_tun++;
			c->stats.stranger_delivered++;
			continue;
		}
		send_to_peer(c, p, k->data, k->len, now);
	}
}

/* p is reachable at `from` through local socket sock. On the primary port this ends
 * any random-port exchange: RFC 6081 §5.4.4.5 (X-38 (a), (c)) and §5.5.4.3. */
void cl_trust_on(struct client *c, struct peer *p, uint8_t sock, struct sw_endpoint from, uint64_t now)
{
	p->trusted = true;
	p->mapping = from;
	peer_heard(p, now);
	p->bubbles = 0;
	if (sock == 0) {
		if (p->rslot)
			cl_rport_release(c, p);
		p->dr_primary = true;
	} else {
		p->dr_random = true;
	}
	p->sock = sock;
	cl_trust_mirror(c, p);
	cl_flush_queue(c, p, now);
}

void client_fast_path(struct client *c)
{
	c->trust.n = 0;
	c->peers.trust = &c->trust;
}

void client_peer_seen(struct client *c, const struct in6_addr *a, uint64_t at, uint32_t pkts)
{
	struct peer *p = peer_find(&c->peers, a);
	if (p && p->trusted && at > p->last_rx) {
		peer_heard_n(p, at, pkts);
		/* Dormant mode: the host's packets to this peer bypass client_tun(); an
		 * exchange the kernel carries is not an idle host. */
		if (at > c->last_use)
			c->last_use = at;
	}
}

void client_peer_sent(struct client *c, const struct in6_addr *a, uint64_t at)
{
	struct peer *p = peer_find(&c->peers, a);
	if (!p || !p->trusted)
		return;
	/* As send_to_peer() counts what the core sends itself. */
	if (at > p->last_tx)
		p->last_tx = at;
	if (p->rslot && at > c->rport[p->rslot - 1].last_data_tx)
		c->rport[p->rslot - 1].last_data_tx = at; /* */
	if (at > c->last_use)
		c->last_use = at; /* not an idle host (dormant mode) */
}

void cl_trust(struct client *c, struct peer *p, struct sw_endpoint from, uint64_t now)
{
	cl_trust_on(c, p, 0, from, now);
}

/* Start contact with p again, as for a new peer (C-45). */
void cl_restart_contact(struct client *c, struct peer *p, uint64_t now)
{
	if (c->peers.trust && p->trusted)
		trust_log_put(c->peers.trust, false, 0, false, &p->addr, p->mapping, 0);
	p->trusted = false;
	p->dr_primary = false;
	p->retries = 1;
	bubble_peer(c, p, now);
	cl_add_pending(c, p, now);
}

/* The host wrote to a peer that is not trusted and fresh: reach it (its packets are
 * queued). */
void cl_start_exchange(struct client *c, struct peer *p, uint64_t now)
{
	if (p->next_retry)
		return; /* an exchange is already under way */
	bool teredo = teredo_addr_has_prefix(&p->addr, c->cfg.prefix);
	p->retries = 1;
	if (teredo && p->trusted && p->speaks_6081 && c->cfg.load_reduction && mapping_ok(c, p->mapping.ip)) {
		/* RFC 6081 §5.7.4.1: nothing exchanged for 30 s with a peer we
		 * trusted: ask the peer itself, at the mapping we know, before troubling its
		 * server. Only with a peer that has shown it speaks RFC 6081 (one that does
		 * not would never answer, and a Miredo peer would wait 4 s more). */
		p->solicits = 1;
		cl_send_nd_bubble(c, cl_peer_dst(c, p), &p->addr, TRAILER_ND_SOLICITATION);
	} else if (teredo) {
		bubble_peer(c, p, now); /* C-45 */
	} else {
		/* C-42, C-65: find the relay nearest to the native peer. */
		c->rng(c->rng_ctx, p->nonce, PEER_NONCE_LEN);
		p->echo_pending = true;
		cl_echo_test(c, p, now);
	}
	cl_add_pending(c, p, now);
}

int client_tun(struct client *c, uint64_t now, const uint8_t *pkt, size_t len,
	       struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	c->stats.from_tun++;
	if (len < IPV6_HDR_LEN || (pkt[0] >> 4) != 6 || IPV6_HDR_LEN + (size_t)ip6_plen(pkt) != len)
		return drop(c, CL_DROP_TUN_INVALID);
	struct in6_addr s6, d6;
	ip6_src(pkt, &s6);
	ip6_dst(pkt, &d6);
	if (!in6_is_global_scope(&d6) || in6_is_multicast(&d6))
		return drop(c, CL_DROP_TUN_SCOPE);
	if (c->state != CLIENT_QUALIFIED || !c->have_addr) {
		/* Tell the host at once rather than let it time out (no route to destination). */
		if (in6_is_global_scope(&s6))
			icmp_error(c, now, ICMP6_UNREACH_NO_ROUTE, pkt, len);
		return drop(c, CL_DROP_NOT_QUALIFIED);
	}
	if (memcmp(&s6, &c->addr, 16))
		return drop(c, CL_DROP_TUN_INVALID);

	c->last_use = now;
	struct peer *p = peer_find(&c->peers, &d6);
	if (!c->dormant && !c->waking && p && p->trusted && now - p->last_rx < CLIENT_PEER_VALID_MS) {
		/* C-41: trusted and fresh. */
		send_to_peer(c, p, pkt, len, now);
		return c->o.n;
	}
	bool teredo = teredo_addr_has_prefix(&d6, c->cfg.prefix);
	if (teredo) {
		struct teredo_addr t;
		teredo_addr_decode(&d6, &t);
		/* C-46: never towards a non-global mapping or server. The cone bit is not
		 * looked at: every peer is C = 0 (RFC 5991 §3.2, C-44), so case 4 is never taken. */
		if (!ipv4_is_global_unicast(t.mapped.ip) || !ipv4_is_global_unicast(t.server)) {
			icmp_error(c, now, ICMP6_UNREACH_ADDR, pkt, len);
			return drop(c, CL_DROP_NOT_GLOBAL);
		}
	}
	if (!p && (p = peer_get(&c->peers, &d6, now)))
		p->host_opened = true; /* eviction keeps the host's own contacts first */
	if (!p)
		return drop(c, CL_DROP_QUEUE_FULL);
	/* A full queue loses this packet, not the exchange (as in relay_tun). */
	if (!peer_enqueue(&c->peers, p, pkt, len, false))
		c->stats.dropped[CL_DROP_QUEUE_FULL]++;
	if (c->dormant || c->waking) {
		/* Dormant mode: the packet waits for the wake-up's RA (cl_resume()). */
		if (c->dormant)
			cl_wake(c, now);
		return c->o.n;
	}
	cl_start_exchange(c, p, now);
	return c->o.n;
}

void cl_retry_peers(struct client *c, uint64_t now)
{
	uint32_t cursor = 0;
	bool give_up;
	struct peer *p;
	while ((p = peer_pending_next(&c->pending, &c->peers, &cursor, now, CLIENT_RETRIES,
				      CLIENT_RETRY_MS, &give_up)) != NULL) {
		if (give_up) {
			/* C-42, C-45: give up; each queued packet's local sender hears
			 * "address unreachable" (rate-limited); a stranger's held packets
			 * just go. */
			c->stats.dropped[CL_DROP_UNREACHABLE] += p->q_count;
			const struct peer_pkt *k;
			while ((k = peer_dequeue(&c->peers, p)) != NULL)
				if (!k->to_host)
					icmp_error(c, now, ICMP6_UNREACH_ADDR, k->data, k->len);
			p->echo_pending = false;
			p->stranger = false;
		} else if (p->stranger) {
			/* Only the stranger's next packet repeats its test (no amplification). */
		} else if (p->solicits) {
			/* RFC 6081 §5.7.2: again, and at the third, back to the indirect
			 * bubble as for a new peer (the exchange restarts its count). */
			cl_send_nd_bubble(c, cl_peer_dst(c, p), &p->addr, TRAILER_ND_SOLICITATION);
			if (++p->solicits >= 3) {
				p->solicits = 0;
				p->retries = 1;
				bubble_peer(c, p, now);
			}
		} else if (p->echo_pending) {
			cl_echo_test(c, p, now);
		} else {
			bubble_peer(c, p, now);
		}
	}
}
