/* Teredo client: qualification and maintenance (RFC 4380 §5.2.1, §5.2.2, §5.2.5 with
 * RFC 5991 §3.2), the filtering probe that tells NAT kinds apart (RFC 6081 §3), and the
 * search for how long the NAT keeps an idle mapping (RFC 4380 §5.2.7). */
#include "core/client_int.h"

#include <string.h>

#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/wire_err.h"

/* The link-local source of our RSs: Teredo form with C = 0 (RFC 5991 §3.2, C-12), the
 * same fe80::ffff:ffff:ffff Miredo uses. A set C bit would ask the server to answer
 * from its other address (S-17). */
static const struct in6_addr rs_source = { .s6_addr = { 0xfe, 0x80, [10] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

/* The probe's RS source: the same with C = 1, which asks the server to answer from its
 * other address (RFC 4380 §5.2.1's original cone test; S-17, RFC 5991 §3.2). */
static const struct in6_addr probe_source = { .s6_addr = { 0xfe, 0x80, [8] = 0x80, [10] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

/* An RS with `nonce` from `from` to server, on local socket sock; the nonce is filled
 * fresh unless `again` (a repetition that the answer to the first may still match). */
static void put_rs_as(struct client *c, uint8_t sock, const struct in6_addr *from, uint8_t *nonce, uint32_t server,
		      bool again)
{
	struct sw_action *a = sw_emit(&c->o);
	if (!a)
		return;
	if (!again)
		c->rng(c->rng_ctx, nonce, 8);
	teredo_put_auth_nonce(a->hdr, nonce, 0);
	uint8_t *ip6 = a->hdr + TEREDO_AUTH_MIN_LEN;
	struct in6_addr dst = { .s6_addr = { 0xff, 0x02, [15] = 2 } };
	ip6_put_header(ip6, 8, IPPROTO_ICMPV6_, ND_HOP_LIMIT, from, &dst);
	memset(ip6 + 40, 0, 8);
	ip6[40] = ICMP6_RS;
	put_be16(ip6 + 42, icmp6_checksum(from, &dst, ip6 + 40, 8));
	a->hdr_len = TEREDO_AUTH_MIN_LEN + 48;
	a->dst = server_ep(server);
	a->sock = sock;
	c->stats.rs_sent++;
}

/* An RS from rs_source with a fresh nonce (qualification, the refresh interval's
 * search, the Echo Test of RFC 6081 §5.5). */
void cl_put_rs(struct client *c, uint8_t sock, uint8_t *nonce, uint32_t server)
{
	put_rs_as(c, sock, &rs_source, nonce, server, false);
}

/* RFC 4380 §5.2.1 step 1 (C-12): an RS with a fresh nonce. */
void cl_send_rs(struct client *c, uint32_t server, uint64_t now)
{
	cl_put_rs(c, 0, c->rs_nonce, server);
	c->rs_deadline = now + CLIENT_RS_TIMEOUT_MS;
}

/* The filtering probe (RFC 6081 §3's NAT kinds; the tests of RFC 4380 §5.2.1 and RFC
 * 3489's idea): from socket 1, whose mapping has sent nothing yet, an RS with C = 1 to
 * the primary address; the server answers from the secondary (S-17). If that answer
 * comes in, the NAT lets in anyone: cone. If not, socket 1 sends one bubble to the
 * secondary address at another port and asks again: an answer now means the NAT filters
 * by address only (restricted), none by address and port (port-restricted). Each step
 * is asked CLIENT_PROBE_TRIES times with the same nonce before it counts as unanswered:
 * one lost or late answer made a restricted NAT port-restricted (seen in make check with
 * two lab tests at once). */
#define CLIENT_PROBE_MS 2000
#define CLIENT_PROBE_TRIES 2
static void probe_step(struct client *c, uint64_t now, bool again)
{
	if (c->probe_step == 2) {
		struct sw_action *a = sw_emit(&c->o);
		if (a) {
			a->hdr_len = bubble_build(a->hdr, &probe_source, &probe_source);
			a->dst = (struct sw_endpoint){ .ip = c->cfg.server2, .port = htons(TEREDO_PORT + 1) };
			a->sock = 1;
		}
	}
	put_rs_as(c, 1, &probe_source, c->probe_nonce, c->cfg.server, again);
	c->probe_deadline = now + CLIENT_PROBE_MS;
}

static void probe_start(struct client *c, uint64_t now)
{
	if (!c->cfg.nat_probe || c->nat != NAT_CONE_OR_RESTRICTED)
		return;
	c->probe_step = 1;
	c->probe_tries = 1;
	probe_step(c, now, false);
}

/* The probe's timer: a step unanswered after its tries moves on, and the last one
 * unanswered means port-restricted. */
void cl_probe_tick(struct client *c, uint64_t now)
{
	if (!c->probe_step || now < c->probe_deadline)
		return;
	if (c->probe_tries < CLIENT_PROBE_TRIES) {
		c->probe_tries++;
		probe_step(c, now, true);
	} else if (c->probe_step == 1) {
		c->probe_step = 2;
		c->probe_tries = 1;
		probe_step(c, now, false);
	} else {
		c->nat = NAT_PORT_RESTRICTED;
		c->probe_step = 0;
	}
}

/* RFC 4380 §5.2 (C-27): uniform in 75-100 % of the interval. */
static uint64_t jitter(struct client *c, uint32_t interval_ms)
{
	uint16_t r;
	c->rng(c->rng_ctx, &r, sizeof r);
	return interval_ms * 3 / 4 + (uint64_t)r * (interval_ms / 4) / 65535;
}

/* ---- RFC 4380 §5.2.7 (C-60..C-62): how long the NAT keeps an idle mapping ----
 * Socket 1 (the filtering probe's, idle once the probe is done) qualifies on its own: a
 * secondary mapping and the secondary Teredo address it makes. After `candidate` ms of
 * silence on it, the service port sends a bubble to that address through our server,
 * which forwards it to the secondary mapping (S-14) from the address socket 1 last
 * wrote to; a direct bubble to our own public address would need a hairpinning NAT. If
 * it comes in within 2 s (3 tries) the NAT kept the mapping that long. As the RFC's
 * loop, but starting from the interval in use instead of 60 s: a NAT that forgets
 * sooner than that is found too, and the refresh drops at once to refresh_min_ms while
 * the search goes on between the two (RFC 6081 §5.1.1 notes the RFC's own loop never
 * goes below 30 s). Each secondary qualification is followed by a second exchange after
 * a few seconds (RI_SETTLE, see ri_ra) before the silence starts. */
#define CLIENT_RI_WAIT_MS 2000

void cl_ri_reset(struct client *c)
{
	c->ri_step = RI_IDLE;
	c->ri_found = false;
	c->refresh_now_ms = c->cfg.refresh_ms;
}

/* An RS from socket 1; its RA goes to ri_ra. */
static void ri_ask(struct client *c, uint64_t now)
{
	c->ri_step = RI_QUALIFY;
	c->ri_tries = 1;
	c->ri_deadline = now + CLIENT_RS_TIMEOUT_MS;
	cl_put_rs(c, 1, c->ri_nonce, c->cfg.server);
}

/* A new secondary qualification (a new flow through the NAT). */
static void ri_qualify(struct client *c, uint64_t now)
{
	c->ri_settled = false;
	ri_ask(c, now);
}

static void ri_bubble(struct client *c, uint64_t now)
{
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->hdr_len = bubble_build(a->hdr, &c->addr, &c->ri_addr);
		a->dst = server_ep(c->cfg.server);
		c->stats.bubbles_sent++;
	}
	c->ri_deadline = now + CLIENT_RI_WAIT_MS;
}

/* One round's outcome (C-61). */
static void ri_result(struct client *c, uint64_t now, bool kept)
{
	c->stats.ri_tests++;
	if (kept) {
		c->stats.ri_test_ok++;
		c->refresh_now_ms = c->ri_candidate;
		c->ri_found = true;
		uint32_t up = c->refresh_now_ms * 2, mid = (c->refresh_now_ms + c->ri_max) / 2;
		c->ri_candidate = up < mid ? up : mid;
	} else {
		c->ri_max = c->ri_candidate;
		if (c->ri_candidate <= c->refresh_now_ms) {
			/* The NAT forgets sooner than we refresh: the floor at once, and a
			 * refresh now, before the search narrows it down. */
			c->refresh_now_ms = c->cfg.refresh_min_ms;
			c->ri_found = true;
			c->next_refresh = now;
		}
		c->ri_candidate = (c->refresh_now_ms + c->ri_max) / 2;
	}
	if (c->refresh_now_ms >= c->ri_max / 4 * 3 || c->ri_candidate <= c->refresh_now_ms) {
		c->ri_step = RI_DONE; /* C-62: socket 1 stays for the filtering probe */
		return;
	}
	if (kept) {
		c->ri_step = RI_WAIT; /* the bubble just used the mapping */
		c->ri_deadline = now + c->ri_candidate;
	} else {
		ri_qualify(c, now); /* C-61: maintenance on the secondary port only */
	}
}

/* The secondary qualification's RA (socket 1, our ri_nonce). */
static void ri_ra(struct client *c, uint64_t now, struct sw_endpoint mapped)
{
	struct teredo_addr t = { .prefix = get_be32(c->addr.s6_addr), .server = c->cfg.server, .mapped = mapped };
	teredo_addr_encode(&t, &c->ri_addr);
	c->ri_last = now;
	if (!c->ri_settled) {
		/* A second exchange a few seconds on, as a new mapping's first refresh
		 * (first_refresh): a NAT like Linux's keeps a flow that has had it longer
		 * than one that has not, and the mapping in use has had it; the search must
		 * measure that time, not the young flow's shorter one. */
		c->ri_settled = true;
		c->ri_step = RI_SETTLE;
		c->ri_deadline = now + jitter(c, CLIENT_FIRST_REFRESH_MS);
		return;
	}
	if (!c->ri_candidate) { /* the first round: the interval in use, up to 120 s */
		c->ri_candidate = c->refresh_now_ms;
		c->ri_max = CLIENT_REFRESH_MAX_MS;
	}
	c->ri_step = RI_WAIT;
	c->ri_deadline = now + c->ri_candidate;
}

void cl_ri_tick(struct client *c, uint64_t now)
{
	switch (c->ri_step) {
	case RI_IDLE:
		if (c->cfg.refresh_discovery && c->cfg.nat_probe && !c->probe_step && c->cfg.refresh_min_ms &&
		    c->cfg.refresh_min_ms < c->cfg.refresh_ms) {
			c->ri_candidate = 0;
			ri_qualify(c, now);
		}
		break;
	case RI_QUALIFY:
		if (now < c->ri_deadline)
			break;
		if (c->ri_tries++ < CLIENT_RS_TRIES) {
			c->ri_deadline = now + CLIENT_RS_TIMEOUT_MS;
			cl_put_rs(c, 1, c->ri_nonce, c->cfg.server);
		} else {
			c->ri_step = RI_DONE; /* C-60: secondary qualification failed: keep it */
		}
		break;
	case RI_SETTLE:
		if (now >= c->ri_deadline)
			ri_ask(c, now); /* its RA starts the silence */
		break;
	case RI_WAIT:
		if (now >= c->ri_deadline) {
			c->ri_step = RI_TEST;
			c->ri_tries = 1;
			ri_bubble(c, now);
		}
		break;
	case RI_TEST:
		if (now < c->ri_deadline)
			break;
		if (c->ri_tries++ < 3)
			ri_bubble(c, now);
		else
			ri_result(c, now, false);
		break;
	}
}

static uint64_t random_refresh(struct client *c)
{
	return jitter(c, c->refresh_now_ms);
}

void cl_start_qualification(struct client *c, uint64_t now)
{
	c->state = CLIENT_PROBING;
	c->maintenance = false;
	c->rs_tries = 1;
	cl_send_rs(c, c->cfg.server, now);
}

/* RFC 4380 §5.2.1 step 7 (C-18) with RFC 5991 §3.1 random bits (P-02, P-05) and C = 0
 * (P-03). Random
 * bits are drawn only for a new mapping (C-26 design note), so a refresh that finds the
 * same mapping keeps the same address. */
static void set_address(struct client *c, uint32_t prefix)
{
	uint16_t r;
	c->rng(c->rng_ctx, &r, sizeof r);
	struct teredo_addr t = { .prefix = prefix, .server = c->cfg.server,
				 .flags = teredo_flags_random(r), .mapped = c->mapped };
	teredo_addr_encode(&t, &c->addr);
	c->have_addr = true;
	c->stats.address_changes++;
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->kind = SW_ACT_SET_ADDR;
		a->addr = c->addr;
		a->mtu = c->mtu;
	}
}

/* A new mapping's first refresh comes after a few seconds. A NAT like Linux's keeps a UDP
 * flow that has seen one exchange for a short time only (30 s by default; the lab's
 * inbound test sets 10 s) and for the long one (120 s) once a packet comes 2 s or more
 * after the flow's first: the refresh that follows qualification must come between the
 * two, or the mapping dies before it, and a NAT that picks random ports hands out a new
 * mapping, and so a new address, at every refresh (seen behind the lab's symmetric NAT).
 * Every later refresh is C-27's. */
static uint64_t first_refresh(struct client *c)
{
	uint64_t early = jitter(c, CLIENT_FIRST_REFRESH_MS), usual = random_refresh(c);
	return early < usual ? early : usual;
}

void cl_qualified(struct client *c, uint64_t now, uint32_t prefix)
{
	c->state = CLIENT_QUALIFIED;
	c->maintenance = false;
	c->qualified_at = now;
	c->last_use = now;
	c->servers_tried = 0;
	cl_changed(c, now, CAUSE_QUALIFIED);
	c->next_refresh = now + first_refresh(c);
	c->next_discovery = now; /* announce ourselves on the link at once */
	c->stats.qualifications++;
	set_address(c, prefix);
}

/* RFC 4380 §5.2.1 step 3 (C-14) and §5.2.5 (C-26). */
int cl_handle_ra(struct client *c, uint64_t now, struct sw_endpoint src, const struct teredo_pkt *p)
{
	bool from_primary = src.ip == c->cfg.server, from_secondary = src.ip == c->cfg.server2;
	struct ra_info ri;
	if (src.port != htons(TEREDO_PORT) || !(from_primary || from_secondary) || !p->has_origin ||
	    !p->has_auth || memcmp(p->nonce, c->rs_nonce, 8) ||
	    ra_parse(p->ip6, p->ip6_len, &ri) != WIRE_OK || memcmp(&ri.dst, &rs_source, 16) ||
	    ri.prefix_len != 64 || memcmp(ri.prefix.s6_addr + 4, &c->cfg.server, 4) ||
	    get_be32(ri.prefix.s6_addr) != c->cfg.prefix || !ipv4_is_global_unicast(p->origin.ip))
		return drop(c, CL_DROP_BAD_RA);
	/* A nonce answers once. */
	memset(c->rs_nonce, 0, sizeof c->rs_nonce);
	c->stats.ra_accepted++;
	/* RFC 4380 §5.2.2 (C-19): a non-zero confirmation byte asks the client for a new
	 * key. Without secure qualification there is no key to renew: the RA stays valid
	 * and the request is counted, so that the operator sees it (status, log). */
	if (p->confirmation)
		c->stats.ra_new_key++;
	if (ri.mtu >= 1280 && ri.mtu <= 65535)
		c->mtu = ri.mtu;

	switch (c->state) {
	case CLIENT_PROBING:
		if (!from_primary)
			return drop(c, CL_DROP_BAD_RA);
		c->mapped = p->origin; /* step 4 (C-15): the mapping from the origin indication */
		/* Step 5 (C-16): ask the secondary address too; a different mapping means a
		 * symmetric NAT (C-17). Miredo skips this check. */
		c->state = CLIENT_PROBING_SECONDARY;
		c->rs_tries = 1;
		cl_send_rs(c, c->cfg.server2, now);
		break;
	case CLIENT_PROBING_SECONDARY:
		if (!from_secondary)
			return drop(c, CL_DROP_BAD_RA);
		c->mapped2 = p->origin;
		/* RFC 6081 §3.1: behind a symmetric NAT keep the address anyway, so that
		 * traffic through relays keeps working. Two mappings: the Symmetric NAT flag
		 * (§5.3.3, X-23). */
		c->nat = endpoint_eq(c->mapped, c->mapped2) ? NAT_CONE_OR_RESTRICTED : NAT_SYMMETRIC;
		/* RFC 6081 §5.4.4: the NAT kept our port. */
		c->port_preserving = c->cfg.local_port && c->mapped.port == c->cfg.local_port;
		cl_qualified(c, now, get_be32(ri.prefix.s6_addr));
		probe_start(c, now);
		break;
	case CLIENT_QUALIFIED:
		/* C-26: maintenance. A changed mapping means a new address. */
		c->maintenance = false;
		if (c->waking && !endpoint_eq(c->mapped, p->origin))
			c->stats.dormant_lost += cl_count_queued(c); /* their source is no longer ours */
		c->next_refresh = now + random_refresh(c);
		/* Issue 11: one new address per refresh at most (the RA must answer our RS
		 * nonce); two in a row are counted, for the shell to report once. */
		if (endpoint_eq(c->mapped, p->origin)) {
			c->mapping_moved = false;
		} else {
			if (c->mapping_moved)
				c->stats.mapping_jumps++;
			c->mapping_moved = true;
			c->mapped = p->origin;
			c->next_refresh = now + first_refresh(c);
			cl_changed(c, now, CAUSE_MAPPING_CHANGED);
			cl_ri_reset(c); /* perhaps another NAT */
			cl_forget_all_peers(c);
			set_address(c, get_be32(ri.prefix.s6_addr));
			/* A new mapping may be a new NAT: classify its filtering again. */
			c->port_preserving = c->cfg.local_port && c->mapped.port == c->cfg.local_port;
			if (c->nat != NAT_SYMMETRIC && c->nat != NAT_UNKNOWN) {
				c->nat = NAT_CONE_OR_RESTRICTED;
				probe_start(c, now);
			}
		}
		if (c->waking) {
			c->waking = false;
			cl_resume(c, now);
		}
		break;
	case CLIENT_OFFLINE:
		break;
	}
	return c->o.n;
}

/* An answer on the probe's socket: only the probe's RA counts. */
int cl_probe_udp(struct client *c, uint64_t now, struct sw_endpoint src, const uint8_t *buf, size_t len)
{
	struct teredo_pkt p;
	struct ra_info ri;
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(c, CL_DROP_MALFORMED);
	bool from_primary = src.ip == c->cfg.server && src.port == htons(TEREDO_PORT);
	if (c->ri_step == RI_QUALIFY && from_primary && p.has_auth && p.has_origin && !memcmp(p.nonce, c->ri_nonce, 8) &&
	    ra_parse(p.ip6, p.ip6_len, &ri) == WIRE_OK && !memcmp(&ri.dst, &rs_source, 16) &&
	    ipv4_is_global_unicast(p.origin.ip)) {
		memset(c->ri_nonce, 0, sizeof c->ri_nonce);
		ri_ra(c, now, p.origin);
		return c->o.n;
	}
	if (c->ri_step == RI_TEST && from_primary && p.has_origin && ip6_is_bubble(p.ip6, p.ip6_len)) {
		struct in6_addr s6, d6;
		ip6_src(p.ip6, &s6);
		ip6_dst(p.ip6, &d6);
		if (!memcmp(&s6, &c->addr, 16) && !memcmp(&d6, &c->ri_addr, 16)) {
			c->ri_last = now;
			ri_result(c, now, true);
			return c->o.n;
		}
	}
	if (!c->probe_step || src.ip != c->cfg.server2 || src.port != htons(TEREDO_PORT) || !p.has_auth ||
	    memcmp(p.nonce, c->probe_nonce, 8) || ra_parse(p.ip6, p.ip6_len, &ri) != WIRE_OK ||
	    memcmp(&ri.dst, &probe_source, 16))
		return drop(c, CL_DROP_BAD_RA);
	c->nat = c->probe_step == 1 ? NAT_CONE : NAT_RESTRICTED;
	c->probe_step = 0;
	memset(c->probe_nonce, 0, sizeof c->probe_nonce);
	return c->o.n;
}
