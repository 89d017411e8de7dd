/* Teredo client, RFC 4380 §5.2 as updated by RFC 5991 §3.2. Section numbers and
 * checklist items (C-nn) mark where each rule comes from. */
#include "core/client.h"

/* struct peer keeps its socket in 6 bits. */
_Static_assert(CLIENT_SOCK_RANDOM + CLIENT_RANDOM_PORTS <= 64, "peer.sock is 6 bits wide");

#include <arpa/inet.h>
#include <string.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

static const char *const drop_names[CL_DROP__COUNT] = {
	[CL_DROP_MALFORMED] = "malformed",
	[CL_DROP_NOT_QUALIFIED] = "not_qualified",
	[CL_DROP_BAD_RA] = "invalid_router_advertisement",
	[CL_DROP_NOT_FOR_US] = "not_for_our_address",
	[CL_DROP_LINK_LOCAL] = "link_local_source",
	[CL_DROP_UNKNOWN_SOURCE] = "unknown_source",
	[CL_DROP_TUN_INVALID] = "host_packet_invalid",
	[CL_DROP_TUN_SCOPE] = "host_packet_not_global",
	[CL_DROP_NOT_GLOBAL] = "destination_ipv4_not_global",
	[CL_DROP_QUEUE_FULL] = "queue_full",
	[CL_DROP_UNREACHABLE] = "peer_unreachable",
	[CL_DROP_DISCOVERY] = "invalid_discovery_bubble",
	[CL_DROP_LOCAL_SUBNET] = "mapping_in_local_subnet",
	[CL_DROP_STRANGER_LIMITED] = "stranger_test_limited",
	[CL_DROP_TRAILER] = "trailer_discard",
};

const char *client_drop_name(enum client_drop d)
{
	return (unsigned)d < CL_DROP__COUNT ? drop_names[d] : "?";
}

const char *client_state_name(enum client_state s)
{
	switch (s) {
	case CLIENT_PROBING: return "probing";
	case CLIENT_PROBING_SECONDARY: return "probing-secondary";
	case CLIENT_QUALIFIED: return "qualified";
	case CLIENT_OFFLINE: return "offline";
	}
	return "?";
}

const char *client_cause_name(enum client_cause c)
{
	switch (c) {
	case CAUSE_START: return "start";
	case CAUSE_QUALIFIED: return "qualified";
	case CAUSE_NO_ANSWER: return "server-did-not-answer";
	case CAUSE_SERVER_LOST: return "server-lost";
	case CAUSE_MAPPING_CHANGED: return "mapping-changed";
	case CAUSE_NETWORK_CHANGED: return "network-changed";
	case CAUSE_NO_NETWORK: return "no-network";
	case CAUSE_SERVERS_CHANGED: return "servers-changed";
	case CAUSE_IDLE: return "idle";
	case CAUSE_WOKEN: return "host-traffic";
	}
	return "?";
}

const char *client_nat_name(enum client_nat n)
{
	switch (n) {
	case NAT_CONE_OR_RESTRICTED: return "cone-or-restricted";
	case NAT_SYMMETRIC: return "symmetric";
	case NAT_CONE: return "cone";
	case NAT_RESTRICTED: return "restricted";
	case NAT_PORT_RESTRICTED: return "port-restricted";
	default: return "unknown";
	}
}

/* The link-local source of our RSs: Teredo form with C = 0 (RFC 5991 §3.2, C-12), the
 * same fe80::ffff:ffff:ffff Miredo uses. A set C bit would ask the server to answer
 * from its other address (S-17). */
static const struct in6_addr rs_source = { .s6_addr = { 0xfe, 0x80, [10] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

int client_init(struct client *c, const struct client_config *cfg, sw_rng_fn rng, void *rng_ctx)
{
	memset(c, 0, sizeof *c);
	c->cfg = *cfg;
	c->rng = rng;
	c->rng_ctx = rng_ctx;
	c->mtu = 1280;
	if (c->cfg.random_ports > CLIENT_RANDOM_PORTS)
		c->cfg.random_ports = CLIENT_RANDOM_PORTS;
	for (unsigned i = 0; i < CLIENT_RANDOM_PORTS; i++)
		c->rport[i].peer = PEER_NONE;
	c->servers[0] = (struct client_server){ cfg->server, cfg->server2 };
	c->refresh_now_ms = cfg->refresh_ms;
	c->nservers = 1;
	uint8_t key[16];
	rng(rng_ctx, key, sizeof key);
	return peer_table_init(&c->peers, cfg->peer_capacity, cfg->queue_pool, cfg->queue_per_peer, key);
}

void client_free(struct client *c)
{
	peer_table_free(&c->peers);
}

void client_set_local_ip(struct client *c, uint32_t ip)
{
	c->local_ip = ip;
}

void client_set_nets(struct client *c, const struct ipv4_net *nets, unsigned n)
{
	c->nnets = n < IPV4_NETS_MAX ? n : IPV4_NETS_MAX;
	memcpy(c->nets, nets, sizeof *nets * c->nnets);
}

/* SEC-22 (CVE-2006-6264): a mapping inside one of our own subnets is only believed when
 * local discovery found it on the link; P-08 comes first. */
static bool mapping_ok(const struct client *c, uint32_t ip)
{
	return ipv4_is_global_unicast(ip) && !ipv4_in_nets(c->nets, c->nnets, ip);
}

static void begin(struct client *c, struct sw_action *acts, int cap)
{
	c->o = (struct sw_out){ .a = acts, .n = 0, .cap = cap };
}

static int drop(struct client *c, enum client_drop why)
{
	c->stats.dropped[why]++;
	return c->o.n;
}

/* ---- RFC 6081 §5.3: UPnP-enabled symmetric NAT ---- */

static void trust_mirror(struct client *c, const struct peer *p);

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
			trust_mirror(c, p);
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
static bool at_address(const struct client *c, const struct peer *p, struct sw_endpoint *to)
{
	if (!p->symmetric_peer || p->sock != 0 || !client_upnp_symmetric(c) ||
	    !teredo_addr_has_prefix(&p->addr, c->cfg.prefix))
		return false;
	struct teredo_addr t;
	teredo_addr_decode(&p->addr, &t);
	*to = t.mapped;
	return mapping_ok(c, t.mapped.ip);
}

static struct sw_endpoint peer_dst(struct client *c, const struct peer *p)
{
	struct sw_endpoint to;
	if (at_address(c, p, &to)) {
		c->stats.upnp_embedded_sends++;
		return to;
	}
	return p->mapping;
}

/* a direct bubble from another mapping than the peer's address names marks it
 * symmetric; called before trust(), which gives a lent random port back. The RFC does
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

/* Data to a trusted peer, from the socket its direct bubbles came in on (RFC 6081
 * §5.4.4.5) and counted as data. */
static void send_to_peer(struct client *c, struct peer *p, const uint8_t *body, size_t len, uint64_t now)
{
	struct sw_action *a = sw_emit(&c->o);
	if (a) {
		a->sock = p->sock;
		a->dst = peer_dst(c, p);
		a->body = body;
		a->body_len = len;
		c->stats.to_udp++;
	}
	p->last_tx = now;
	if (p->rslot)
		c->rport[p->rslot - 1].last_data_tx = now; /* */
}

static struct sw_endpoint server_ep(uint32_t ip)
{
	return (struct sw_endpoint){ .ip = ip, .port = htons(TEREDO_PORT) };
}

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

static void put_rs(struct client *c, uint8_t sock, const struct in6_addr *from, uint8_t *nonce, uint32_t server)
{
	put_rs_as(c, sock, from, nonce, server, false);
}

/* RFC 4380 §5.2.1 step 1 (C-12): an RS with a fresh nonce. */
static void send_rs(struct client *c, uint32_t server, uint64_t now)
{
	put_rs(c, 0, &rs_source, c->rs_nonce, server);
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
enum { RI_IDLE, RI_QUALIFY, RI_WAIT, RI_TEST, RI_DONE, RI_SETTLE };

static void ri_reset(struct client *c)
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
	put_rs(c, 1, &rs_source, c->ri_nonce, c->cfg.server);
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

static void ri_tick(struct client *c, uint64_t now)
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
			put_rs(c, 1, &rs_source, c->ri_nonce, c->cfg.server);
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

static void start_qualification(struct client *c, uint64_t now)
{
	c->state = CLIENT_PROBING;
	c->maintenance = false;
	c->rs_tries = 1;
	send_rs(c, c->cfg.server, now);
}

int client_start(struct client *c, uint64_t now, struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	c->next_peer_refresh = now + CLIENT_PEER_REFRESH_MS; /* */
	c->changed_at = now;
	start_qualification(c, now);
	return c->o.n;
}

static void rport_renew(struct client *c, unsigned i);

static void forget_all_peers(struct client *c)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++)
		if (c->rport[i].peer != PEER_NONE)
			rport_renew(c, i);
	/* One reset for the kernel fast path rather than a record per trusted peer, which
	 * could be more than the journal holds: a lost one would leave the kernel carrying
	 * a peer the core forgot. */
	struct trust_log *trust = c->peers.trust;
	c->peers.trust = NULL;
	for (uint32_t i = 0; i < c->peers.capacity; i++)
		if (c->peers.peers[i].in_use)
			peer_remove(&c->peers, &c->peers.peers[i]);
	c->peers.trust = trust;
	if (trust)
		trust_log_reset(trust);
	c->pending.n = 0;
}

/* The server is gone or the mapping changed: no address until qualified again. */
static void go_offline(struct client *c, uint64_t now)
{
	if (c->have_addr) {
		struct sw_action *a = sw_emit(&c->o);
		if (a)
			a->kind = SW_ACT_CLEAR_ADDR;
		c->have_addr = false;
	}
	forget_all_peers(c);
	c->probe_step = 0;
	ri_reset(c);
	c->dormant = c->waking = false;
	c->state = CLIENT_OFFLINE;
	c->maintenance = false;
	c->rs_deadline = now + CLIENT_OFFLINE_RETRY_MS;
}

static void changed(struct client *c, uint64_t now, enum client_cause why)
{
	c->cause = why;
	c->changed_at = now;
}

static void use_server(struct client *c, unsigned i)
{
	c->server_idx = (uint8_t)i;
	c->cfg.server = c->servers[i].primary;
	c->cfg.server2 = c->servers[i].secondary;
}

/* The server in use failed (no answer to qualification, C-13, or to a refresh, §5.2.5):
 * the next candidate at once; when every one has failed in a row, wait, start over with
 * the first, and ask the shell to resolve the names again (they may have moved). */
static void server_failed(struct client *c, uint64_t now, enum client_cause why)
{
	if (c->have_addr)
		c->stats.server_losses++;
	go_offline(c, now);
	changed(c, now, why);
	if (++c->servers_tried < c->nservers) {
		use_server(c, (c->server_idx + 1u) % c->nservers);
		c->stats.failovers++;
		start_qualification(c, now);
		return;
	}
	c->servers_tried = 0;
	use_server(c, 0);
	struct sw_action *a = sw_emit(&c->o);
	if (a)
		a->kind = SW_ACT_RESOLVE;
}

int client_set_servers(struct client *c, uint64_t now, const struct client_server *s, unsigned n,
		       struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	if (!n)
		return 0;
	if (n > CLIENT_SERVERS_MAX)
		n = CLIENT_SERVERS_MAX;
	struct client_server cur = c->servers[c->server_idx];
	memcpy(c->servers, s, n * sizeof *s);
	c->nservers = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		if (s[i].primary == cur.primary && s[i].secondary == cur.secondary) {
			c->server_idx = (uint8_t)i;
			return 0;
		}
	/* The server in use is no longer a candidate: the first one, from scratch (our
	 * address names the old server). */
	use_server(c, 0);
	c->servers_tried = 0;
	if (c->state != CLIENT_OFFLINE || !c->no_network) {
		go_offline(c, now);
		changed(c, now, CAUSE_SERVERS_CHANGED);
		start_qualification(c, now);
	}
	return c->o.n;
}

int client_network(struct client *c, uint64_t now, bool have_route, struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	c->stats.network_changes++;
	go_offline(c, now);
	c->servers_tried = 0;
	if (!have_route) {
		/* Quietly: no RS into a void, no retry timer, until a route comes back. */
		c->no_network = true;
		c->rs_deadline = UINT64_MAX;
		changed(c, now, CAUSE_NO_NETWORK);
		return c->o.n;
	}
	c->no_network = false;
	changed(c, now, CAUSE_NETWORK_CHANGED);
	start_qualification(c, now);
	return c->o.n;
}

/* RFC 4380 §5.2.1 step 7 (C-18) with RFC 5991 §3.1 random bits (P-02, P-05). Random
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

static void qualified(struct client *c, uint64_t now, uint32_t prefix)
{
	c->state = CLIENT_QUALIFIED;
	c->maintenance = false;
	c->qualified_at = now;
	c->last_use = now;
	c->servers_tried = 0;
	changed(c, now, CAUSE_QUALIFIED);
	c->next_refresh = now + first_refresh(c);
	c->next_discovery = now; /* announce ourselves on the link at once */
	c->stats.qualifications++;
	set_address(c, prefix);
}

static void resume(struct client *c, uint64_t now);
static uint64_t count_queued(const struct client *c);

/* RFC 4380 §5.2.1 step 3 (C-14) and §5.2.5 (C-26). */
static int handle_ra(struct client *c, uint64_t now, struct sw_endpoint src, const struct teredo_pkt *p)
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
		c->mapped = p->origin;
		/* Step 5 (C-16): ask the secondary address too; a different mapping means a
		 * symmetric NAT (C-17). Miredo skips this check. */
		c->state = CLIENT_PROBING_SECONDARY;
		c->rs_tries = 1;
		send_rs(c, c->cfg.server2, now);
		break;
	case CLIENT_PROBING_SECONDARY:
		if (!from_secondary)
			return drop(c, CL_DROP_BAD_RA);
		c->mapped2 = p->origin;
		/* RFC 6081 §3.1: behind a symmetric NAT keep the address anyway, so that
		 * traffic through relays keeps working. */
		c->nat = endpoint_eq(c->mapped, c->mapped2) ? NAT_CONE_OR_RESTRICTED : NAT_SYMMETRIC;
		/* RFC 6081 §5.4.4: the NAT kept our port. */
		c->port_preserving = c->cfg.local_port && c->mapped.port == c->cfg.local_port;
		qualified(c, now, get_be32(ri.prefix.s6_addr));
		probe_start(c, now);
		break;
	case CLIENT_QUALIFIED:
		/* C-26: maintenance. A changed mapping means a new address. */
		c->maintenance = false;
		if (c->waking && !endpoint_eq(c->mapped, p->origin))
			c->stats.dormant_lost += count_queued(c); /* their source is no longer ours */
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
			changed(c, now, CAUSE_MAPPING_CHANGED);
			ri_reset(c); /* perhaps another NAT */
			forget_all_peers(c);
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
			resume(c, now);
		}
		break;
	case CLIENT_OFFLINE:
		break;
	}
	return c->o.n;
}

static void send_discovery_soon(struct client *c, uint64_t now);


/* A bubble to `to` at dst from local socket sock, with a Nonce Trailer when nonce is
 * given (RFC 6081 §4.2) and a Random Port Trailer when rport is (§4.5). */
static void send_bubble_on(struct client *c, uint8_t sock, struct sw_endpoint dst, const struct in6_addr *to,
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

static void send_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to,
			const uint8_t *nonce)
{
	send_bubble_on(c, 0, dst, to, nonce, 0);
}

/* RFC 6081 §5.7: a direct bubble with a Neighbor Discovery Option Trailer. */
static void send_nd_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to, uint8_t type)
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
static void send_indirect(struct client *c, struct peer *p, uint32_t server)
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

/* RFC 6081 §5.6.4.2: may a direct bubble go to this alternate address of a peer? Only
 * to a global one, or one on our own link (the peer behind our NAT), never to ours. */
static bool alt_ok(const struct client *c, struct sw_endpoint ep)
{
	if (!ep.port || ep.ip == c->local_ip)
		return false;
	return ipv4_is_global_unicast(ep.ip) ? !ipv4_in_nets(c->nets, c->nnets, ep.ip)
					     : ipv4_in_nets(c->nets, c->nnets, ep.ip);
}

/* a direct bubble echoes the nonce of the peer's last indirect bubble, if any. */
static const uint8_t *nonce_for_direct(const struct client *c, const struct peer *p)
{
	return c->cfg.symmetric_nat && p && p->has_nonce_rcvd ? p->nonce_rcvd : NULL;
}

/* ---- RFC 6081 §5.4 (port-preserving) and §5.5 (sequential) symmetric NATs ----
 * Behind a symmetric NAT, a peer behind a port-restricted or port-preserving NAT is
 * reached from a socket of its own on a random local port, whose external port we
 * predict (§3.3: the NAT keeps the number; §3.4: it lies between the ports the server
 * saw just before and just after) and announce in the indirect bubble. */

static bool pp_active(const struct client *c)
{
	return c->cfg.symmetric_nat && c->cfg.port_preserving_nat && c->cfg.random_ports &&
	       c->nat == NAT_SYMMETRIC && c->port_preserving;
}

/* the sequential extension needs the port-preserving one, and a symmetric
 * NAT that does not keep ports is taken for a sequential one (no test tells). */
static bool ss_active(const struct client *c)
{
	return c->cfg.symmetric_nat && c->cfg.port_preserving_nat && c->cfg.sequential_nat &&
	       c->cfg.random_ports && c->nat == NAT_SYMMETRIC && !c->port_preserving;
}

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

/* Issue 10: tell the kernel fast path how trusted peer p is reached now. It may carry
 * p's data when p is reached from the Teredo socket or from the random port of RFC 6081
 * §5.4, §5.5 lent to it (the journal names the socket, whose port the packets leave
 * from and the only one besides the Teredo port they are taken on), at the mapping it
 * writes from or, under X-26, at the one its address names (peer_dst); it takes p's
 * data from the former in either case. Not from the NAT probe's socket. */
static void trust_mirror(struct client *c, const struct peer *p)
{
	if (!c->peers.trust)
		return;
	struct sw_endpoint to;
	trust_log_put(c->peers.trust, p->sock != 1, p->sock, at_address(c, p, &to), &p->addr, p->mapping,
		      p->last_rx);
}

/* Give slot i back: the shell reopens it on a fresh port (X-38: "stop listening"). If
 * the output is full, rport_sweep asks again. */
static void rport_renew(struct client *c, unsigned i)
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
static void rport_release(struct client *c, struct peer *p)
{
	if (p->rslot)
		rport_renew(c, p->rslot - 1u); /* its state goes with it */
	p->rslot = 0;
	p->dr_random = false;
	if (p->sock >= CLIENT_SOCK_RANDOM) {
		/* Still trusted at the same mapping, now from the Teredo socket: the kernel
		 * must not go on sending from a port the shell is closing. */
		p->sock = 0;
		if (p->trusted)
			trust_mirror(c, p);
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
static void rport_sweep(struct client *c)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++) {
		struct client_rport *r = &c->rport[i];
		if (r->renew || (r->peer != PEER_NONE && !rport_peer(c, i)))
			rport_renew(c, i);
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
	put_rs(c, sock, &rs_source, r->et_nonce1, c->cfg.server);
	if (mapping_ok(c, t.mapped.ip))
		send_bubble_on(c, sock, t.mapped, &p->addr, NULL, 0);
	put_rs(c, sock, &rs_source, r->et_nonce2, c->cfg.server2);
	r->et_retry++;
	r->et_deadline = now + r->et_retry * 1000u; /* RetryCounter seconds */
	p->last_tx = now;
	c->stats.port_echo_tests++;
}

/* An indirect bubble is due (C-45, X-12). §5.4.4.2: behind a port-preserving
 * symmetric NAT, first lend the peer a random port, whose number the trailer carries.
 * §5.5.4.1: behind a sequential one, run the Echo Test instead; the indirect
 * bubble follows its answers or its second failure. */
static void indirect_due(struct client *c, struct peer *p, uint32_t server, uint64_t now)
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
	send_indirect(c, p, server);
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
static void rport_for_announced(struct client *c, struct peer *p)
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
static void random_port_bubbles(struct client *c, struct peer *p, const struct teredo_addr *t, bool embedded)
{
	if (p->trusted || !mapping_ok(c, t->mapped.ip))
		return;
	rport_for_announced(c, p);
	uint8_t sock = p->rslot ? rport_sock(p) : 0;
	if (p->peer_rand_port) {
		struct sw_endpoint ep = { .ip = t->mapped.ip, .port = p->peer_rand_port };
		if (sock)
			send_bubble_on(c, sock, ep, &p->addr, nonce_for_direct(c, p), rand_port_of(c, p));
		if (!sock || c->nat != NAT_SYMMETRIC)
			send_bubble(c, ep, &p->addr, nonce_for_direct(c, p));
	} else if (rand_port_of(c, p) && embedded) {
		send_bubble_on(c, sock, t->mapped, &p->addr, nonce_for_direct(c, p), rand_port_of(c, p));
	}
}

/* a Random Port Trailer in the peer's indirect bubble. */
static void peer_random_port(struct client *c, struct peer *p, uint16_t port, uint64_t now)
{
	if (!port || port == p->peer_rand_port)
		return;
	if (!p->peer_rand_port) {
		p->peer_rand_port = port;
	} else if (now - p->last_rx > CLIENT_PEER_VALID_MS && now - p->last_tx > CLIENT_PEER_VALID_MS) {
		p->peer_rand_port = port;
		if (c->port_preserving)
			rport_release(c, p);
	}
}

/* every 30 s, a direct bubble on each random port that carried no data for
 * 30 s (at most 20 in a row), to keep every NAT's mapping on the way. */
static void peer_refresh(struct client *c, uint64_t now)
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
			send_bubble_on(c, p->sock, p->mapping, &p->addr, NULL, r->rand_port);
			p->last_tx = now;
			r->refresh_count++;
			c->stats.peer_refresh_bubbles++;
		}
	}
}

/* the Echo Test Failover Timer: a second test, then the plain indirect bubble. */
static void port_echo_timers(struct client *c, uint64_t now)
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
				send_indirect(c, p, t.server);
		}
	}
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
		send_bubble(c, p->local_ep, &p->addr, NULL);
		/* C-43: and a discovery bubble, so that the peer learns our local address
		 * and accepts our unicast bubble (case 5, C-37). */
		send_discovery_soon(c, now);
	}
	if (mapping_ok(c, t.mapped.ip))
		send_bubble(c, t.mapped, &p->addr, nonce_for_direct(c, p));
	if (ipv4_is_global_unicast(t.server))
		indirect_due(c, p, t.server, now);
	/* Behind a sequential NAT the Echo Test's bubble already went there. */
	random_port_bubbles(c, p, &t, ss_active(c) || p->retries >= 2);
	p->last_tx = now;
	p->bubbles++;
}

/* RFC 4380 §5.2.9 (C-65): an echo request with a random nonce, through our server. */
static void echo_test(struct client *c, struct peer *p, uint64_t now)
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

static void add_pending(struct client *c, struct peer *p, uint64_t now)
{
	p->next_retry = now + CLIENT_RETRY_MS;
	/* A full list: this exchange waits for the peer's entry to expire (the host's own
	 * packets; the relay, which strangers feed, retries instead). */
	(void)peer_pending_add(&c->pending, &c->peers, p);
}

/* Send everything queued for a peer that just became reachable (C-34, C-35): packets
 * for it to its mapping, and a native peer's first packets, held while the
 * connectivity test ran, to the host. */
static void flush_queue(struct client *c, struct peer *p, uint64_t now)
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
	echo_test(c, peer, now);
	c->stats.stranger_tests++;
	add_pending(c, peer, now);
	peer->retries = 1;
	return c->o.n;
}

/* p is reachable at `from` through local socket sock. On the primary port this ends
 * any random-port exchange: RFC 6081 §5.4.4.5 (X-38 (a), (c)) and §5.5.4.3. */
static void trust_on(struct client *c, struct peer *p, uint8_t sock, struct sw_endpoint from, uint64_t now)
{
	p->trusted = true;
	p->mapping = from;
	peer_heard(p, now);
	p->bubbles = 0;
	if (sock == 0) {
		if (p->rslot)
			rport_release(c, p);
		p->dr_primary = true;
	} else {
		p->dr_random = true;
	}
	p->sock = sock;
	trust_mirror(c, p);
	flush_queue(c, p, now);
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

static void trust(struct client *c, struct peer *p, struct sw_endpoint from, uint64_t now)
{
	trust_on(c, p, 0, from, now);
}

/* Start contact with p again, as for a new peer (C-45). */
static void restart_contact(struct client *c, struct peer *p, uint64_t now)
{
	if (c->peers.trust && p->trusted)
		trust_log_put(c->peers.trust, false, 0, false, &p->addr, p->mapping, 0);
	p->trusted = false;
	p->dr_primary = false;
	p->retries = 1;
	bubble_peer(c, p, now);
	add_pending(c, p, now);
}

/* An answer on the probe's socket: only the probe's RA counts. */
static int probe_udp(struct client *c, uint64_t now, struct sw_endpoint src, const uint8_t *buf, size_t len)
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

/* An accepted data packet goes to the host; the trailers stay out of it. */
static int to_host(struct client *c, const struct teredo_pkt *p)
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

/* an RA on a random port answers one of its peer's Echo Test RSs: the origin
 * indication's port brackets the port of the test's direct bubble. */
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
			send_indirect(c, peer, t.server); /* */
	}
	return c->o.n;
}

/* A datagram on random port i: the Echo Test's RAs, and bubbles and data of the one
 * peer the port is lent to (RFC 6081 §5.4.4.5 (X-38 (d), (e))). */
static int rport_udp(struct client *c, uint64_t now, unsigned i, struct sw_endpoint src, const uint8_t *buf,
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
			peer_random_port(c, peer, tr.random_port, now);
		if (peer->trusted && !peer->dr_primary) {
			/* (e): its NAT moved us to another mapping: start again. */
			rport_release(c, peer);
			restart_contact(c, peer, now);
			return c->o.n;
		}
		/* (d): trusted on the random port; a bubble back from it, so that the peer
		 * hears us from where it just wrote to (C-39). */
		trust_on(c, peer, sock, src, now);
		c->stats.random_port_trusted++;
		send_bubble_on(c, sock, src, &s6, nonce_for_direct(c, peer), rand_port_of(c, peer));
		return c->o.n;
	} else {
		return drop(c, CL_DROP_UNKNOWN_SOURCE);
	}
	return bubble ? c->o.n : to_host(c, &p);
}

int client_udp_on(struct client *c, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *buf,
		  size_t len, struct sw_action *acts, int cap)
{
	if (sock == 0)
		return client_udp(c, now, src, buf, len, acts, cap);
	begin(c, acts, cap);
	c->stats.from_udp++;
	if (sock >= CLIENT_SOCK_RANDOM)
		return rport_udp(c, now, sock - CLIENT_SOCK_RANDOM, src, buf, len);
	return probe_udp(c, now, src, buf, len);
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
		return handle_ra(c, now, src, &p);
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
					peer_random_port(c, q, tr.random_port, now); /* */
					rport_for_announced(c, q);
				}
			}
		}
		send_bubble(c, p.origin, &s6, nonce_for_direct(c, q));
		introduced(c, p.origin, now);
		/* RFC 6081 §5.6.4.2: a direct bubble, with its nonce, to each alternate
		 * address it gave, whether or not we trust it already (it needs this proof
		 * to trust us); at most once in 2 s per peer. */
		if (q && c->cfg.hairpinning && tr.has_nonce && q->nalt && now - q->last_alt >= CLIENT_RETRY_MS) {
			for (unsigned i = 0; i < q->nalt; i++) {
				send_bubble(c, q->alt[i], &s6, q->nonce_rcvd);
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
				random_port_bubbles(c, q, &t, embedded);
			if (peer_may_bubble(q, now) && ipv4_is_global_unicast(t.server)) {
				indirect_due(c, q, t.server, now);
				q->last_tx = now;
				q->bubbles++;
			}
			if (lend)
				random_port_bubbles(c, q, &t, embedded);
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
		send_bubble(c, t.mapped, &s6, NULL);
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
		restart_contact(c, peer, now);
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
		trust(c, peer, src, now);
		return c->o.n;
	} else if (peer && peer->trusted && endpoint_eq(peer->mapping, src)) {
		/* Case 1 (C-33). */
		peer_heard(peer, now);
		if (peer->q_count)
			flush_queue(c, peer, now);
	} else if (peer && peer->echo_pending && icmp == ICMP6_ECHO_REP &&
		   p.ip6_len == 40 + 8 + PEER_NONCE_LEN && !memcmp(p.ip6 + 48, peer->nonce, PEER_NONCE_LEN)) {
		/* Case 2 (C-34): our connectivity test came back through this relay. */
		trust(c, peer, src, now);
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
				trust(c, peer, src, now);
		} else if (teredo && peer && peer->local && endpoint_eq(peer->local_ep, src)) {
			/* Case 5 (C-37): a local peer answering from its address on our link. */
			trust(c, peer, src, now);
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
			trust(c, peer, src, now);
			peer->speaks_6081 = true;
			c->stats.nonce_accepted++;
			/* C-39: answer there, so that the peer hears us from the mapping in our
			 * address (its case 3) through the hole its bubble opened; or, from
			 * behind our UPnP-enabled symmetric NAT, at its own IGD. */
			send_bubble(c, peer_dst(c, peer), &s6, NULL);
			return c->o.n;
		} else if (teredo && bubble && peer && peer->peer_rand_port && src.ip == t.mapped.ip &&
			   src.port == peer->peer_rand_port && mapping_ok(c, src.ip)) {
			/* RFC 6081 §3.3, §3.4, the port-restricted side: a bubble from the random
			 * port the peer announced in its indirect bubble, from the
			 * address its Teredo address names; answered there (C-39). */
			trust(c, peer, src, now);
			c->stats.peer_random_port_accepted++;
			send_bubble(c, src, &s6, nonce_for_direct(c, peer));
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
			trust(c, peer, src, now);
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
		send_nd_bubble(c, src, &s6, TRAILER_ND_ADVERTISEMENT);
	return bubble ? c->o.n : to_host(c, &p);
}

/* The host wrote to a peer that is not trusted and fresh: reach it (its packets are
 * queued). */
static void start_exchange(struct client *c, struct peer *p, uint64_t now)
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
		send_nd_bubble(c, peer_dst(c, p), &p->addr, TRAILER_ND_SOLICITATION);
	} else if (teredo) {
		bubble_peer(c, p, now); /* C-45 */
	} else {
		/* C-42, C-65: find the relay nearest to the native peer. */
		c->rng(c->rng_ctx, p->nonce, PEER_NONCE_LEN);
		p->echo_pending = true;
		echo_test(c, p, now);
	}
	add_pending(c, p, now);
}

/* Dormant mode (issue 11; Windows' Teredo client does this by default): once the host
 * has sent nothing through the tunnel for dormant_idle_ms, the client stops refreshing
 * and lets the NAT forget the mapping, so that an idle laptop sends nothing. The address
 * stays on the interface, as the source the host picks; the host's next packet queues
 * (not dropped) and wakes the client with a maintenance RS (C-25): when the RA shows the
 * same mapping, the queued packets leave (resume()); a new mapping means a new address
 * (C-26), and the packets written from the old one are counted as lost. The first
 * qualification still happens at start: without an address, the host would have no
 * Teredo source to write from. */
static void go_dormant(struct client *c, uint64_t now)
{
	c->dormant = true;
	c->stats.dormant_entered++;
	c->probe_step = 0;
	if (c->ri_step != RI_DONE)
		ri_reset(c); /* the search needs a live mapping: again after the wake-up */
	changed(c, now, CAUSE_IDLE);
}

static void wake(struct client *c, uint64_t now)
{
	c->dormant = false;
	c->waking = true;
	c->stats.wakeups++;
	c->maintenance = true;
	c->rs_tries = 1;
	send_rs(c, c->cfg.server, now);
	changed(c, now, CAUSE_WOKEN);
}

static uint64_t count_queued(const struct client *c)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < c->peers.capacity; i++)
		if (c->peers.peers[i].in_use)
			n += c->peers.peers[i].q_count;
	return n;
}

/* The wake-up's RA came: every peer the host wrote to meanwhile, as client_tun would
 * have done (a peer still trusted and fresh gets its packets at once). */
static void resume(struct client *c, uint64_t now)
{
	for (uint32_t i = 0; i < c->peers.capacity; i++) {
		struct peer *p = &c->peers.peers[i];
		if (!p->in_use || !p->q_count)
			continue;
		if (p->trusted && now - p->last_rx < CLIENT_PEER_VALID_MS)
			flush_queue(c, p, now);
		else
			start_exchange(c, p, now);
	}
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
		/* C-46: never towards a non-global mapping or server. */
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
		/* Dormant mode: the packet waits for the wake-up's RA (resume()). */
		if (c->dormant)
			wake(c, now);
		return c->o.n;
	}
	start_exchange(c, p, now);
	return c->o.n;
}

static uint64_t discovery_interval(struct client *c)
{
	uint16_t r;
	c->rng(c->rng_ctx, &r, sizeof r);
	return CLIENT_DISCOVERY_MIN_MS + (uint64_t)r * (CLIENT_DISCOVERY_MAX_MS - CLIENT_DISCOVERY_MIN_MS) / 65535;
}

/* RFC 4380 §5.2.8 (C-67): a bubble from our Teredo address to ff02::1 with hop limit 1,
 * to 224.0.0.253:3544 (the shell sends it with IPv4 TTL 1). */
static void send_discovery(struct client *c, uint64_t now)
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
static void send_discovery_soon(struct client *c, uint64_t now)
{
	if (c->cfg.local_discovery && now - c->last_discovery >= CLIENT_RETRY_MS)
		send_discovery(c, now);
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
		send_bubble(c, src, &s6, NULL);
		peer->last_tx = now;
		peer->bubbles++;
		/* A newcomer missed our last discovery bubble: announce ourselves now, so
		 * that both sides know each other's local address at once. */
		send_discovery_soon(c, now);
	}
	return c->o.n;
}

static void retry_peers(struct client *c, uint64_t now)
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
			send_nd_bubble(c, peer_dst(c, p), &p->addr, TRAILER_ND_SOLICITATION);
			if (++p->solicits >= 3) {
				p->solicits = 0;
				p->retries = 1;
				bubble_peer(c, p, now);
			}
		} else if (p->echo_pending) {
			echo_test(c, p, now);
		} else {
			bubble_peer(c, p, now);
		}
	}
}

int client_tick(struct client *c, uint64_t now, struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	switch (c->state) {
	case CLIENT_PROBING:
	case CLIENT_PROBING_SECONDARY:
		if (now < c->rs_deadline)
			break;
		if (c->rs_tries < CLIENT_RS_TRIES) {
			c->rs_tries++;
			send_rs(c, c->state == CLIENT_PROBING ? c->cfg.server : c->cfg.server2, now);
		} else if (c->state == CLIENT_PROBING_SECONDARY) {
			/* The secondary address never answered: the NAT kind stays unknown, but
			 * the primary mapping works (Miredo never asks the secondary at all). */
			c->nat = NAT_UNKNOWN;
			qualified(c, now, c->cfg.prefix);
		} else {
			server_failed(c, now, CAUSE_NO_ANSWER); /* C-13 */
		}
		break;
	case CLIENT_OFFLINE:
		if (now >= c->rs_deadline)
			start_qualification(c, now);
		break;
	case CLIENT_QUALIFIED:
		if (c->dormant)
			break; /* nothing leaves until the host writes (client_tun) */
		if (c->cfg.dormant_idle_ms && !c->maintenance && !c->pending.n &&
		    now - c->last_use >= c->cfg.dormant_idle_ms) {
			go_dormant(c, now);
			break;
		}
		if (c->maintenance && now >= c->rs_deadline) {
			if (c->rs_tries < CLIENT_RS_TRIES) {
				c->rs_tries++;
				send_rs(c, c->cfg.server, now);
			} else {
				server_failed(c, now, CAUSE_SERVER_LOST); /* §5.2.5: re-qualify */
			}
		} else if (!c->maintenance && now >= c->next_refresh) {
			/* C-25: refresh the NAT mapping and check it. */
			c->maintenance = true;
			c->rs_tries = 1;
			send_rs(c, c->cfg.server, now);
		}
		if (c->state == CLIENT_QUALIFIED && c->probe_step && now >= c->probe_deadline) {
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
		if (c->state == CLIENT_QUALIFIED) {
			ri_tick(c, now);
			rport_sweep(c);
			port_echo_timers(c, now);
			if (now >= c->next_peer_refresh) {
				peer_refresh(c, now);
				c->next_peer_refresh = now + CLIENT_PEER_REFRESH_MS;
			}
			retry_peers(c, now);
			if (c->cfg.local_discovery && now >= c->next_discovery)
				send_discovery(c, now);
		}
		break;
	}
	peer_sweep(&c->peers, now, 2 * CLIENT_PEER_VALID_MS, 64);
	return c->o.n;
}
