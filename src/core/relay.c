/* Teredo relay and host-specific relay: RFC 4380 §5.4.1 (transmission, R-03..R-09),
 * §5.4.2 (reception, R-10..R-13), §8.2 and §5.4 for the host relay (H-01..H-10), which
 * sends by the relay's rules (H-04) and so needs nothing more for a contact its peer
 * opens (H-06). RFC 6081 asks nothing of a relay. The forwarding between the
 * tunnel and the native side, its hop limit and ICMPv6 errors, is the kernel's, as an
 * IPv6 router; what leaves for a client has the relay's own IPv4 source, which
 * ingress filtering lets through (SEC-20). */
#include "core/relay.h"
#include "core/siphash.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"
#include "wire/wire_err.h"

static const char *const drop_names[RL_DROP__COUNT] = {
	[RL_DROP_MALFORMED] = "malformed",
	[RL_DROP_SRC_NOT_TEREDO] = "source_not_teredo",
	[RL_DROP_SRC_MISMATCH] = "teredo_source_mismatch",
	[RL_DROP_DST_NOT_SERVED] = "destination_not_served",
	[RL_DROP_TEREDO_TO_TEREDO] = "teredo_to_teredo",
	[RL_DROP_TUN_INVALID] = "host_packet_invalid",
	[RL_DROP_NOT_TEREDO_DST] = "destination_not_teredo",
	[RL_DROP_NOT_GLOBAL] = "destination_ipv4_not_global",
	[RL_DROP_QUEUE_FULL] = "queue_full",
	[RL_DROP_UNREACHABLE] = "peer_unreachable",
	[RL_DROP_LOOP] = "loop",
	[RL_DROP_UNKNOWN_PEER] = "unknown_peer",
	[RL_DROP_SOURCE_LIMITED] = "new_peer_limited",
};

const char *relay_drop_name(enum relay_drop d)
{
	return (unsigned)d < RL_DROP__COUNT ? drop_names[d] : "?";
}

int relay_init(struct relay *r, const struct relay_config *cfg, sw_rng_fn rng, void *rng_ctx)
{
	memset(r, 0, sizeof *r);
	r->cfg = *cfg;
	uint8_t key[16];
	rng(rng_ctx, key, sizeof key);
	return peer_table_init(&r->peers, cfg->peer_capacity, cfg->queue_pool, cfg->queue_per_peer, key);
}

void relay_free(struct relay *r)
{
	peer_table_free(&r->peers);
}

void relay_set_local(struct relay *r, const struct in6_addr *addrs, unsigned n)
{
	r->nlocal = n < RELAY_LOCAL_MAX ? n : RELAY_LOCAL_MAX;
	memcpy(r->local, addrs, sizeof *addrs * r->nlocal);
}

static int drop(struct relay *r, enum relay_drop why)
{
	r->stats.dropped[why]++;
	return r->o.n;
}

static void begin(struct relay *r, struct sw_action *acts, int cap)
{
	r->o = (struct sw_out){ .a = acts, .n = 0, .cap = cap };
}

static bool is_local(const struct relay *r, const struct in6_addr *a)
{
	for (unsigned i = 0; i < r->nlocal; i++)
		if (!memcmp(&r->local[i], a, 16))
			return true;
	return false;
}

/* R-13 / H-05: which destinations this relay hands to native IPv6. */
static bool served(const struct relay *r, const struct in6_addr *d)
{
	if (r->cfg.host_only)
		return is_local(r, d);
	return in6_is_global_scope(d) && !in6_is_multicast(d);
}

/* R-04 (P-08) and SEC-11 (d): may anything go to the mapping inside this Teredo address?
 * relay_tun asks before every send; the trust journal asks before the kernel's fast
 * path may send to a peer without asking again (issue 10). */
static bool embedded_global(const struct teredo_addr *t)
{
	return ipv4_is_global_unicast(t->mapped.ip) && ipv4_is_global_unicast(t->server);
}

static bool to_self(const struct relay *r, const struct teredo_addr *t)
{
	return r->cfg.self.ip && endpoint_eq(t->mapped, r->cfg.self);
}

static bool sendable(const struct relay *r, const struct teredo_addr *t)
{
	return embedded_global(t) && !to_self(r, t);
}

static void send_udp(struct relay *r, uint8_t sock, struct sw_endpoint dst, const uint8_t *body, size_t len)
{
	struct sw_action *a = sw_emit(&r->o);
	if (!a)
		return;
	a->sock = sock;
	a->dst = dst;
	a->body = body;
	a->body_len = len;
	r->stats.to_udp++;
}

static void send_bubble(struct relay *r, uint8_t sock, struct sw_endpoint dst, const struct in6_addr *src,
			const struct in6_addr *to)
{
	struct sw_action *a = sw_emit(&r->o);
	if (!a)
		return;
	a->sock = sock;
	a->hdr_len = bubble_build(a->hdr, src, to);
	a->dst = dst;
	r->stats.bubbles_sent++;
}

/* the indirect bubble through the client's own server, and with direct bubbles
 * (RelayType restricted, and every host relay) one to its mapping as well. Its source is
 * the native address whose packet is waiting, so that the client's answer names it
 * (H-03: a host relay is unnumbered).
 *
 * A host relay behind a NAT must open its own NAT toward the client (a direct bubble)
 * before the client's answer to the indirect bubble arrives, when its NAT answers
 * unsolicited packets with ICMP as Linux's default masquerade does: such a NAT keeps a
 * conntrack entry for the answer, and our own flow toward the client must then take
 * another port than the one the client answers. But a direct bubble that reaches a
 * client behind such a NAT before the client has sent us anything does the same to the
 * client's mapping, and Linux then reuses the moved mapping for every later flow of
 * that client socket, so there our direct bubble must come after the client's answer,
 * from the first attempt on. Neither NAT can be seen from here, so a relay with a
 * second socket (nsocks 2) tries both orders, each on a mapping of its own: attempt 1
 * from socket 0 with the indirect bubble only, attempt 2 from socket 0 with both (the
 * client has answered by then); attempts 3 and 4 from socket 1, a mapping the first
 * two did not disturb, with the direct bubble at once (before the indirect one). The peer keeps the socket its
 * answer came in on. The lab's test_hostnat.sh shows each order at work. */
static void bubble_peer(struct relay *r, struct peer *p, const struct in6_addr *src, uint64_t now)
{
	if (!peer_may_bubble(p, now))
		return;
	struct teredo_addr t;
	teredo_addr_decode(&p->addr, &t);
	bool direct = r->cfg.direct_bubbles;
	uint8_t sock = 0;
	if (r->cfg.nsocks > 1) {
		sock = p->retries >= 3;
		direct = direct && p->retries >= 2;
	}
	/* The direct bubble leaves first: "at once" must mean before the client's answer
	 * can come back. Sent second in the same batch, it lost that race to the answer
	 * (server and client both answer within a fraction of a millisecond in the lab)
	 * whenever the daemon was preempted between the two datagrams; the answer then met
	 * a NAT with no hole and spoiled the socket's mapping for the attempts left (seen
	 * in make check with two lab tests at once: test_hostnat.sh, h2 -> c4). */
	if (direct)
		send_bubble(r, sock, t.mapped, src, &p->addr);
	send_bubble(r, sock, (struct sw_endpoint){ .ip = t.server, .port = htons(TEREDO_PORT) }, src, &p->addr);
	p->last_tx = now;
	p->bubbles++;
}

static void icmp_error(struct relay *r, uint64_t now, const uint8_t *pkt, size_t len)
{
	struct in6_addr src, dst;
	ip6_src(pkt, &src);
	ip6_dst(pkt, &dst);
	if (in6_is_multicast(&src) || r->o.n >= r->o.cap)
		return;
	if (!ratelimit_take(&r->icmp, now, 10)) {
		r->stats.icmp_errors_limited++;
		return;
	}
	/* The error comes from the Teredo side of the path: the unreachable address itself
	 * is the best source we have (a host relay has no address of its own there). */
	sw_icmp_unreachable(sw_emit(&r->o), &dst, ICMP6_UNREACH_ADDR, pkt, len);
	r->stats.icmp_errors++;
}

/* R-14 (RFC 4380 §7.3.5): may this native source make us contact one more new peer?
 * Each new destination costs an entry, a queued packet and a bubble through the server
 * its address names: without a limit one host sending to addresses nobody answers (the
 * lab's native-side flood: 100,000 a second) turns the table over in a second, pushing
 * out everyone else's exchanges, and makes the relay reflect its flood at Teredo
 * servers, one bubble per packet. The /64 is the unit a host's addresses share. */
static bool source_may_add(struct relay *r, const struct in6_addr *src, uint64_t now)
{
	uint64_t h = siphash24(r->peers.key, src->s6_addr, 8) | 1;
	struct relay_source *s = &r->sources[h % RELAY_SOURCES];
	if (s->tag != h)
		*s = (struct relay_source){ .tag = h, .rl = { .at = now, .tokens = r->cfg.new_per_source } };
	return ratelimit_take(&s->rl, now, r->cfg.new_per_source);
}

int relay_tun(struct relay *r, uint64_t now, const uint8_t *pkt, size_t len,
	      struct sw_action *acts, int cap)
{
	begin(r, acts, cap);
	r->stats.from_tun++;
	if (len < IPV6_HDR_LEN || (pkt[0] >> 4) != 6 || IPV6_HDR_LEN + (size_t)ip6_plen(pkt) != len)
		return drop(r, RL_DROP_TUN_INVALID);
	struct in6_addr s6, d6;
	ip6_src(pkt, &s6);
	ip6_dst(pkt, &d6);
	/* only Teredo destinations go over UDP. */
	if (!teredo_addr_has_prefix(&d6, r->cfg.prefix))
		return drop(r, RL_DROP_NOT_TEREDO_DST);
	/* SEC-11 (c): Teredo-to-Teredo traffic never legitimately crosses native IPv6; a
	 * host relay sends only the host's own traffic (H-01). */
	if (teredo_addr_has_prefix(&s6, r->cfg.prefix) || in6_is_linklocal(&s6) ||
	    (r->cfg.host_only && !is_local(r, &s6)))
		return drop(r, RL_DROP_TEREDO_TO_TEREDO);
	struct teredo_addr t;
	teredo_addr_decode(&d6, &t);
	if (!embedded_global(&t)) { /* R-04, P-08 */
		icmp_error(r, now, pkt, len);
		return drop(r, RL_DROP_NOT_GLOBAL);
	}
	if (to_self(r, &t))
		return drop(r, RL_DROP_LOOP); /* SEC-11 (d) */

	struct peer *p = peer_find(&r->peers, &d6);
	if (p && p->trusted && now - p->last_rx < CLIENT_PEER_VALID_MS) {
		/* */
		send_udp(r, p->sock, p->mapping, pkt, len);
		p->last_tx = now;
		return r->o.n;
	}
	/* the cone bit is ignored (RFC 5991 §3.2), by a host relay too (H-07); always
	 * R-08, never R-06's direct send. */
	if (!p) {
		if (r->cfg.new_per_source && !source_may_add(r, &s6, now))
			return drop(r, RL_DROP_SOURCE_LIMITED);
		p = peer_get(&r->peers, &d6, now);
	}
	if (!p)
		return drop(r, RL_DROP_QUEUE_FULL);
	/* A full queue loses this packet but not the exchange: under a flood that fills
	 * the pool, a real client still gets its bubble, and the sender's next packet
	 * finds it trusted (the lab's native-side flood starved new clients otherwise). */
	if (!peer_enqueue(&r->peers, p, pkt, len, false))
		r->stats.dropped[RL_DROP_QUEUE_FULL]++;
	if (p->next_retry)
		return r->o.n;
	p->retries = 1;
	bubble_peer(r, p, &s6, now);
	p->next_retry = now + CLIENT_RETRY_MS;
	/* A full list (a flood of new destinations): no retry timer for this one, so that
	 * its next packet bubbles again; otherwise a real client whose first bubble was
	 * lost in the flood stayed unreachable until its entry expired. */
	if (!peer_pending_add(&r->pending, &r->peers, p))
		p->next_retry = 0;
	return r->o.n;
}

static void flush_queue(struct relay *r, struct peer *p, uint64_t now)
{
	const struct peer_pkt *k;
	p->next_retry = 0;
	p->retries = 0;
	while (r->o.n < r->o.cap && (k = peer_dequeue(&r->peers, p)) != NULL) {
		send_udp(r, p->sock, p->mapping, k->data, k->len);
		p->last_tx = now;
	}
}

/* p is reachable at src through socket sock: trust it there, tell the fast path, and
 * send what waited for it. */
static void trust_peer(struct relay *r, struct peer *p, const struct teredo_addr *t, uint8_t sock,
		       struct sw_endpoint src, uint64_t now)
{
	p->trusted = true;
	p->mapping = src;
	p->sock = sock < r->cfg.nsocks ? sock : 0;
	peer_heard(p, now);
	/* Only a peer relay_tun would send to: the programs do not check R-04 again (a
	 * client sending from a private mapping in its address is trusted, but the core
	 * never answers it; found by fuzz_bpf). */
	if (r->peers.trust && sendable(r, t))
		trust_log_put(r->peers.trust, true, p->sock, false, &p->addr, src, now);
	p->bubbles = 0;
	flush_queue(r, p, now);
}

int relay_udp(struct relay *r, uint64_t now, struct sw_endpoint src, const uint8_t *buf,
	      size_t len, struct sw_action *acts, int cap)
{
	return relay_udp_on(r, now, 0, src, buf, len, acts, cap);
}

int relay_udp_on(struct relay *r, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *buf,
		 size_t len, struct sw_action *acts, int cap)
{
	struct teredo_pkt p;
	begin(r, acts, cap);
	r->stats.from_udp++;
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(r, RL_DROP_MALFORMED); /* */
	/* an origin indication or authentication header (which only servers add) is
	 * passed over, not trusted: the packet is judged by its UDP source as any other. */
	if (r->cfg.self.ip && endpoint_eq(src, r->cfg.self))
		return drop(r, RL_DROP_LOOP);
	struct in6_addr s6, d6;
	ip6_src(p.ip6, &s6);
	ip6_dst(p.ip6, &d6);
	/* only Teredo sources. */
	if (!teredo_addr_has_prefix(&s6, r->cfg.prefix))
		return drop(r, RL_DROP_SRC_NOT_TEREDO);
	struct teredo_addr t;
	teredo_addr_decode(&s6, &t);
	struct peer *peer = peer_find(&r->peers, &s6);
	bool bubble = ip6_is_bubble(p.ip6, p.ip6_len);
	if (peer && peer->trusted && endpoint_eq(peer->mapping, src)) {
		/* R-08 after C-40: a stale entry bubbled for, answered from the mapping it
		 * had; what waits goes now, not to "unreachable" when the retries end. */
		if (peer->next_retry)
			trust_peer(r, peer, &t, sock, src, now);
		else
			peer_heard(peer, now);
	} else if (endpoint_eq(t.mapped, src) || (peer && peer->next_retry && bubble)) {
		/* R-11 with R-08: the source sends from the mapping in its address, or it
		 * answers the bubble we sent (a client behind a symmetric NAT answers from
		 * another port; its bubble is what our indirect bubble asked for). */
		/* R-12, R-14 (RFC 4380 §5.4.2, §7.3.5): a relay may take packets only from
		 * clients it has sent to, as Miredo's does: a real client reaches a relay
		 * after the relay forwarded a native packet to it (the client learns the
		 * relay from that packet), so a spoofed flood of matching sources would
		 * create no state and reach no one. But after a restart the relay knows
		 * no one, and its clients' flows would stall until they test again (30 s);
		 * so new clients are taken at a limited rate, which a flood cannot turn
		 * into more than that many entries and packets a second. */
		uint32_t rate = r->cfg.unknown_rate;
		if (!peer && rate != RELAY_UNKNOWN_ALL && (!rate || !ratelimit_take(&r->unknown, now, rate)))
			return drop(r, RL_DROP_UNKNOWN_PEER);
		if (!peer)
			peer = peer_get(&r->peers, &s6, now);
		if (!peer)
			return drop(r, RL_DROP_QUEUE_FULL);
		trust_peer(r, peer, &t, sock, src, now);
	} else {
		return drop(r, RL_DROP_SRC_MISMATCH);
	}
	if (bubble)
		return r->o.n; /* bubbles end here */
	/* R-13, H-05, SEC-11 (b): only to what we serve, never back into Teredo. */
	if (teredo_addr_has_prefix(&d6, r->cfg.prefix))
		return drop(r, RL_DROP_TEREDO_TO_TEREDO);
	if (!served(r, &d6))
		return drop(r, RL_DROP_DST_NOT_SERVED);
	struct sw_action *a = sw_emit(&r->o);
	if (a) {
		a->kind = SW_ACT_TUN;
		a->body = p.ip6;
		a->body_len = p.ip6_len;
		r->stats.to_tun++;
	}
	return r->o.n;
}

void relay_fast_path(struct relay *r)
{
	r->trust.n = 0;
	r->peers.trust = &r->trust;
}

void relay_peer_seen(struct relay *r, const struct in6_addr *a, uint64_t at, uint32_t pkts)
{
	struct peer *p = peer_find(&r->peers, a);
	if (p && p->trusted && at > p->last_rx)
		peer_heard_n(p, at, pkts);
}

int relay_tick(struct relay *r, uint64_t now, struct sw_action *acts, int cap)
{
	begin(r, acts, cap);
	uint32_t cursor = 0;
	bool give_up;
	struct peer *p;
	while ((p = peer_pending_next(&r->pending, &r->peers, &cursor, now, CLIENT_RETRIES,
				      CLIENT_RETRY_MS, &give_up)) != NULL) {
		if (give_up) {
			/* still nothing: drop the queue and tell its senders. The entry
			 * itself stays until it expires, so that its bubble count keeps the
			 * 4-per-300-s limit (C-53, SEC-16) against a stream of native packets. */
			r->stats.dropped[RL_DROP_UNREACHABLE] += p->q_count;
			const struct peer_pkt *k;
			while ((k = peer_dequeue(&r->peers, p)) != NULL)
				icmp_error(r, now, k->data, k->len);
		} else if (p->q_head != PEER_NONE) {
			struct in6_addr src;
			ip6_src(r->peers.pool[p->q_head].data, &src);
			bubble_peer(r, p, &src, now);
		}
	}
	peer_sweep(&r->peers, now, 2 * CLIENT_PEER_VALID_MS, 256);
	return r->o.n;
}
