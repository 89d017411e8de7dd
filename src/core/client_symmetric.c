/* Teredo client: RFC 6081's support for symmetric NATs: a UPnP-enabled one (§5.3), a
 * port-preserving one (§5.4) and a sequential one (§5.5), with the random ports lent to
 * peers and the Echo Test. */
#include "core/client_int.h"

#include <string.h>

#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

/* ---- RFC 6081 §5.3: UPnP-enabled symmetric NAT ---- */

void client_upnp(struct client *c, uint32_t ext_ip, uint16_t ext_port)
{
	bool was = client_upnp_symmetric(c);
	c->upnp_enabled = c->cfg.upnp && ext_ip && ext_port;
	c->upnp_map = c->upnp_enabled ? (struct sw_endpoint){ .ip = ext_ip, .port = ext_port }
				      : (struct sw_endpoint){ 0 };
	/* X-26 starts or stops applying to the symmetric peers already trusted: the kernel
	 * fast path must send where the core now sends (a mapping found or lost while
	 * peers are trusted; rare, so a walk of the table). */
	if (was == client_upnp_symmetric(c) || !c->peers.trust)
		return;
	for (uint32_t i = 0; i < c->peers.capacity; i++) {
		const struct peer *p = &c->peers.peers[i];
		if (p->in_use && p->trusted && p->symmetric_peer)
			cl_trust_mirror(c, p);
	}
}

struct sw_endpoint client_upnp_mapped(const struct client *c)
{
	/* X-24, evaluated against the current mapping: a new mapping after maintenance
	 * (C-26) may be a new NAT. */
	if (!c->upnp_enabled || (c->have_addr && endpoint_eq(c->mapped, c->upnp_map)))
		return (struct sw_endpoint){ 0 };
	return c->upnp_map;
}

bool client_upnp_symmetric(const struct client *c)
{
	return c->cfg.symmetric_nat && c->nat == NAT_SYMMETRIC && c->upnp_enabled && c->have_addr &&
	       endpoint_eq(c->mapped, c->upnp_map);
}

/* RFC 6081 §5.3.4.2, §5.3.4.3: to a symmetric peer from behind our own single
 * UPnP-enabled symmetric NAT, bubbles and data go to the mapping its address names (its
 * IGD may forward it), since its NAT will not let our answers to the port it wrote from
 * in. What it writes still comes from that other port: p->mapping keeps it, for case 1.
 * Not on a random port of §5.4 or §5.5, which has its own rules. True, with that
 * mapping in *to, when X-26 applies to p. */
bool cl_at_address(const struct client *c, const struct peer *p, struct sw_endpoint *to)
{
	if (!p->symmetric_peer || p->sock != 0 || !client_upnp_symmetric(c) ||
	    !teredo_addr_has_prefix(&p->addr, c->cfg.prefix))
		return false;
	struct teredo_addr t;
	teredo_addr_decode(&p->addr, &t);
	*to = t.mapped;
	return mapping_ok(c, t.mapped.ip);
}

struct sw_endpoint cl_peer_dst(struct client *c, const struct peer *p)
{
	struct sw_endpoint to;
	if (cl_at_address(c, p, &to)) {
		c->stats.upnp_embedded_sends++;
		return to;
	}
	return p->mapping;
}

/* ---- RFC 6081 §5.4 (port-preserving) and §5.5 (sequential) symmetric NATs ----
 * Behind a symmetric NAT, a peer behind a port-restricted or port-preserving NAT is
 * reached from a socket of its own on a random local port, whose external port we
 * predict (§3.3: the NAT keeps the number; §3.4: it lies between the ports the server
 * saw just before and just after) and announce in the indirect bubble. */

void client_random_port_ready(struct client *c, unsigned i, uint16_t port)
{
	if (i < CLIENT_RANDOM_PORTS && c->rport[i].peer == PEER_NONE)
		c->rport[i].port = port;
}

static uint8_t rport_sock(const struct peer *p)
{
	return (uint8_t)(CLIENT_SOCK_RANDOM + p->rslot - 1);
}

/* The peer random port i is lent to, if it is still there. */
static struct peer *rport_peer(struct client *c, unsigned i)
{
	struct client_rport *r = &c->rport[i];
	if (r->peer == PEER_NONE)
		return NULL;
	struct peer *p = &c->peers.peers[r->peer];
	return p->in_use && p->rslot == i + 1 && !memcmp(&p->addr, &r->addr, 16) ? p : NULL;
}

/* Give slot i back: the shell reopens it on a fresh port (X-38: "stop listening"). If
 * the output is full, rport_sweep asks again. */
void cl_rport_renew(struct client *c, unsigned i)
{
	struct client_rport *r = &c->rport[i];
	*r = (struct client_rport){ .peer = PEER_NONE };
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->kind = SW_ACT_RENEW_SOCK;
		a->sock = (uint8_t)(CLIENT_SOCK_RANDOM + i);
	}
	r->renew = !a;
}

/* lend p a random port that has never sent anything; false when none is
 * free (the peer then goes without, as without the extension). */
static bool rport_take(struct client *c, struct peer *p)
{
	if (p->rslot)
		return true;
	for (unsigned i = 0; i < c->cfg.random_ports; i++) {
		struct client_rport *r = &c->rport[i];
		if (r->peer != PEER_NONE || !r->port || r->renew)
			continue;
		uint16_t port = r->port;
		*r = (struct client_rport){ .port = port, .peer = peer_index(&c->peers, p), .addr = p->addr };
		p->rslot = (uint8_t)(i + 1);
		c->stats.random_ports_taken++;
		return true;
	}
	c->stats.random_ports_busy++;
	return false;
}

/* X-38 (a), (c), (e): zero Random Port and stop listening on it; X-49: the Echo Test
 * is over. */
void cl_rport_release(struct client *c, struct peer *p)
{
	if (p->rslot)
		cl_rport_renew(c, p->rslot - 1u); /* its state goes with it */
	p->rslot = 0;
	p->dr_random = false;
	if (p->sock >= CLIENT_SOCK_RANDOM) {
		/* Still trusted at the same mapping, now from the Teredo socket: the kernel
		 * must not go on sending from a port the shell is closing. */
		p->sock = 0;
		if (p->trusted)
			cl_trust_mirror(c, p);
	}
}

/* The state that goes with the random port lent to p, or NULL. */
static struct client_rport *rp_of(struct client *c, const struct peer *p)
{
	return p->rslot ? &c->rport[p->rslot - 1] : NULL;
}

/* Random Port: 0 without a random port. */
static uint16_t rand_port_of(struct client *c, const struct peer *p)
{
	return p->rslot ? c->rport[p->rslot - 1].rand_port : 0;
}

/* Slots whose peer left the table (expiry, eviction) go back; renewals the output had
 * no room for are asked again. */
void cl_rport_sweep(struct client *c)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++) {
		struct client_rport *r = &c->rport[i];
		if (r->renew || (r->peer != PEER_NONE && !rport_peer(c, i)))
			cl_rport_renew(c, i);
	}
}

/* from the peer's random port, an RS to the primary address, a direct bubble to
 * the peer, an RS to the secondary address; the two RAs bracket the bubble's port. The
 * bubble carries no Nonce Trailer (against §5.2.4.2's letter): it only opens our NAT
 * towards the peer, and a nonce would make a cone peer that already answered our primary
 * port move its mapping of us to this port, which closes when the primary port wins
 * (X-38 (a)). The peer accepts this port later as the Random Port we announce. */
static void port_echo_test(struct client *c, struct peer *p, uint64_t now)
{
	uint8_t sock = rport_sock(p);
	struct client_rport *r = rp_of(c, p);
	struct teredo_addr t;
	teredo_addr_decode(&p->addr, &t);
	cl_put_rs(c, sock, r->et_nonce1, c->cfg.server);
	if (mapping_ok(c, t.mapped.ip))
		cl_send_bubble_on(c, sock, t.mapped, &p->addr, NULL, 0);
	cl_put_rs(c, sock, r->et_nonce2, c->cfg.server2);
	r->et_retry++;
	r->et_deadline = now + r->et_retry * 1000u; /* RetryCounter seconds */
	p->last_tx = now;
	c->stats.port_echo_tests++;
}

/* An indirect bubble is due (C-45, X-12). §5.4.4.2: behind a port-preserving
 * symmetric NAT, first lend the peer a random port, whose number the trailer carries.
 * §5.5.4.1: behind a sequential one, run the Echo Test instead; the indirect
 * bubble follows its answers or its second failure. */
void cl_indirect_due(struct client *c, struct peer *p, uint32_t server, uint64_t now)
{
	struct client_rport *r = rp_of(c, p);
	if (!p->trusted && !rand_port_of(c, p)) {
		if (ss_active(c) && (!r || r->et_retry < 2)) {
			if (r && r->et_deadline)
				return;
			if (rport_take(c, p)) {
				port_echo_test(c, p, now);
				return;
			}
		} else if (pp_active(c) && rport_take(c, p)) {
			r = rp_of(c, p);
			r->rand_port = r->port;
		}
	}
	cl_send_indirect(c, p, server);
}

/* The port-restricted side of §3.3's and §3.4's pairs: a peer announced a random port,
 * so it sits behind a symmetric NAT, and our NAT must see us write to that port first
 * (§5.4.4.3 only names the symmetric side, but otherwise the peer's port never gets
 * in). We write from the primary port, where a sequential peer's Echo Test aimed, and
 * also from a random port of our own, announced in our indirect bubble when our NAT
 * keeps port numbers: a port-preserving peer then writes to that port, which no one
 * else has written to. The primary port may not do: a NAT that keeps state for
 * unsolicited input (Linux's masquerade) moves the mapping of a socket whose peer wrote
 * to it first, for every later flow of that socket (interop-notes.md). */
void cl_rport_for_announced(struct client *c, struct peer *p)
{
	if (!p->peer_rand_port || p->rslot || p->trusted || c->nat == NAT_SYMMETRIC || !c->cfg.random_ports)
		return;
	if (rport_take(c, p) && c->port_preserving)
		c->rport[p->rslot - 1].rand_port = c->rport[p->rslot - 1].port;
}

/* besides the bubble to its embedded mapping, one to the random port the peer
 * announced, from our own random port when we have one (with our Random Port
 * Trailer), and from the primary port too unless our NAT is symmetric (above).
 * With `embedded`, our own random port also sends to the embedded mapping of a peer
 * that announced no port (§3.3: the first bubble from the random port to a valid
 * address). The callers hold it back for a round: a peer that answers our indirect
 * bubble with a port of its own (two port-preserving NATs) must not be aimed at first,
 * as the NAT keeps our port's number for its first destination only; and a peer's NAT
 * that answers unsolicited input with ICMP (Linux's masquerade) keeps a conntrack entry
 * from our early bubble that moves the peer's mapping when it writes to our port. */
void cl_random_port_bubbles(struct client *c, struct peer *p, const struct teredo_addr *t, bool embedded)
{
	if (p->trusted || !mapping_ok(c, t->mapped.ip))
		return;
	cl_rport_for_announced(c, p);
	uint8_t sock = p->rslot ? rport_sock(p) : 0;
	if (p->peer_rand_port) {
		struct sw_endpoint ep = { .ip = t->mapped.ip, .port = p->peer_rand_port };
		if (sock)
			cl_send_bubble_on(c, sock, ep, &p->addr, nonce_for_direct(c, p), rand_port_of(c, p));
		if (!sock || c->nat != NAT_SYMMETRIC)
			cl_send_bubble(c, ep, &p->addr, nonce_for_direct(c, p));
	} else if (rand_port_of(c, p) && embedded) {
		cl_send_bubble_on(c, sock, t->mapped, &p->addr, nonce_for_direct(c, p), rand_port_of(c, p));
	}
}

/* a Random Port Trailer in the peer's indirect bubble. */
void cl_peer_random_port(struct client *c, struct peer *p, uint16_t port, uint64_t now)
{
	if (!port || port == p->peer_rand_port)
		return;
	if (!p->peer_rand_port) {
		p->peer_rand_port = port;
	} else if (now - p->last_rx > CLIENT_PEER_VALID_MS && now - p->last_tx > CLIENT_PEER_VALID_MS) {
		p->peer_rand_port = port;
		if (c->port_preserving)
			cl_rport_release(c, p);
	}
}

/* every 30 s, a direct bubble on each random port that carried no data for
 * 30 s (at most 20 in a row), to keep every NAT's mapping on the way. */
void cl_peer_refresh(struct client *c, uint64_t now)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++) {
		struct peer *p = rport_peer(c, i);
		struct client_rport *r = &c->rport[i];
		if (!p)
			continue;
		if (!r->et_deadline) {
			r->et_lower = r->et_upper = 0;
			r->et_retry = 0;
		}
		if (!p->trusted || p->sock != CLIENT_SOCK_RANDOM + i)
			continue;
		if (now - r->last_data_tx < CLIENT_PEER_REFRESH_MS) {
			r->refresh_count = 0;
		} else if (r->refresh_count < CLIENT_PEER_REFRESH_MAX) {
			cl_send_bubble_on(c, p->sock, p->mapping, &p->addr, NULL, r->rand_port);
			p->last_tx = now;
			r->refresh_count++;
			c->stats.peer_refresh_bubbles++;
		}
	}
}

/* the Echo Test Failover Timer: a second test, then the plain indirect bubble. */
void cl_port_echo_timers(struct client *c, uint64_t now)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++) {
		struct peer *p = rport_peer(c, i);
		struct client_rport *r = &c->rport[i];
		if (!p || !r->et_deadline || now < r->et_deadline)
			continue;
		r->et_deadline = 0;
		if (r->et_retry == 1) {
			port_echo_test(c, p, now);
		} else {
			struct teredo_addr t;
			teredo_addr_decode(&p->addr, &t);
			if (ipv4_is_global_unicast(t.server))
				cl_send_indirect(c, p, t.server);
		}
	}
}

/* an RA on a random port answers one of its peer's Echo Test RSs: the origin
 * indication's port brackets the port of the test's direct bubble. It changes only
 * that peer's test, never the qualification's mapping (C-21): only the Teredo
 * socket's RAs are maintenance RAs. */
static int port_echo_answer(struct client *c, struct peer *peer, struct sw_endpoint src, const struct teredo_pkt *p)
{
	struct ra_info ri;
	struct client_rport *r = rp_of(c, peer);
	bool known = src.ip == c->cfg.server || src.ip == c->cfg.server2;
	if (src.port != htons(TEREDO_PORT) || !known || !p->has_origin || !p->has_auth || !r || !r->et_retry ||
	    ra_parse(p->ip6, p->ip6_len, &ri) != WIRE_OK || !p->origin.port)
		return drop(c, CL_DROP_BAD_RA);
	if (!memcmp(p->nonce, r->et_nonce1, 8) && src.ip == c->cfg.server) {
		if (!r->et_lower)
			r->et_lower = p->origin.port;
	} else if (!memcmp(p->nonce, r->et_nonce2, 8) && src.ip == c->cfg.server2) {
		if (!r->et_upper)
			r->et_upper = p->origin.port;
	} else {
		return drop(c, CL_DROP_BAD_RA);
	}
	if (r->et_lower && r->et_upper && !r->rand_port && !peer->trusted) {
		/* The midpoint (E-01: the printed formula adds the upper port twice). The
		 * test is over: its timer stops, so that no second test moves the port. */
		r->rand_port = htons((uint16_t)(((uint32_t)ntohs(r->et_lower) + ntohs(r->et_upper)) / 2));
		r->et_deadline = 0;
		c->stats.port_predictions++;
		struct teredo_addr t;
		teredo_addr_decode(&peer->addr, &t);
		if (ipv4_is_global_unicast(t.server))
			cl_send_indirect(c, peer, t.server); /* */
	}
	return c->o.n;
}

/* A datagram on random port i: the Echo Test's RAs, and bubbles and data of the one
 * peer the port is lent to (RFC 6081 §5.4.4.5 (X-38 (d), (e))). */
int cl_rport_udp(struct client *c, uint64_t now, unsigned i, struct sw_endpoint src, const uint8_t *buf,
		     size_t len)
{
	struct teredo_pkt p;
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(c, CL_DROP_MALFORMED);
	struct teredo_trailers tr = { 0 };
	if (p.trailers_len && teredo_trailers_parse(p.trailers, p.trailers_len, &tr) != WIRE_OK)
		return drop(c, CL_DROP_TRAILER);
	struct peer *peer = i < c->cfg.random_ports ? rport_peer(c, i) : NULL;
	if (!peer)
		return drop(c, CL_DROP_UNKNOWN_SOURCE);
	struct in6_addr s6, d6;
	ip6_src(p.ip6, &s6);
	ip6_dst(p.ip6, &d6);
	if (icmp6_type(p.ip6, p.ip6_len) == ICMP6_RA && in6_is_linklocal(&d6))
		return port_echo_answer(c, peer, src, &p);
	if (c->state != CLIENT_QUALIFIED || !c->have_addr)
		return drop(c, CL_DROP_NOT_QUALIFIED);
	if (memcmp(&s6, &peer->addr, 16))
		return drop(c, CL_DROP_UNKNOWN_SOURCE);
	bool bubble = ip6_is_bubble(p.ip6, p.ip6_len);
	if (!bubble && memcmp(&d6, &c->addr, 16))
		return drop(c, CL_DROP_NOT_FOR_US);
	uint8_t sock = (uint8_t)(CLIENT_SOCK_RANDOM + i);
	if (peer->trusted && peer->sock == sock && endpoint_eq(peer->mapping, src)) {
		peer_heard(peer, now); /* (e): the same mapping */
	} else if (bubble) {
		/* A bubble from the peer: from the mapping its address names, from the random
		 * port it announced, or carrying the nonce of our indirect bubble;
		 * never from elsewhere (SEC-21). */
		struct teredo_addr t;
		teredo_addr_decode(&s6, &t);
		bool nonce = peer->has_nonce_sent && tr.has_nonce && !memcmp(tr.nonce, peer->nonce_sent, sizeof tr.nonce);
		bool named = src.ip == t.mapped.ip &&
			     (src.port == t.mapped.port || (peer->peer_rand_port && src.port == peer->peer_rand_port));
		if (!(named || nonce) || !mapping_ok(c, src.ip))
			return drop(c, CL_DROP_UNKNOWN_SOURCE);
		if (tr.has_random_port)
			cl_peer_random_port(c, peer, tr.random_port, now);
		if (peer->trusted && !peer->dr_primary) {
			/* (e): its NAT moved us to another mapping: start again. */
			cl_rport_release(c, peer);
			cl_restart_contact(c, peer, now);
			return c->o.n;
		}
		/* (d): trusted on the random port; a bubble back from it, so that the peer
		 * hears us from where it just wrote to (C-39). */
		cl_trust_on(c, peer, sock, src, now);
		c->stats.random_port_trusted++;
		cl_send_bubble_on(c, sock, src, &s6, nonce_for_direct(c, peer), rand_port_of(c, peer));
		return c->o.n;
	} else {
		return drop(c, CL_DROP_UNKNOWN_SOURCE);
	}
	return bubble ? c->o.n : cl_to_host(c, &p);
}
