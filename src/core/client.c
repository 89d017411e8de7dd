/* Teredo client, RFC 4380 §5.2 as updated by RFC 5991 §3.2: the state around the rules
 * (start, server candidates, network changes, going offline, dormant mode, the timers).
 * The rules themselves are in the client_*.c files (core/client_int.h says which holds
 * which). Section numbers and checklist items (C-nn) mark where each rule comes from. */
#include "core/client_int.h"

/* struct peer keeps its socket in 6 bits. */
_Static_assert(CLIENT_SOCK_RANDOM + CLIENT_RANDOM_PORTS <= 64, "peer.sock is 6 bits wide");

#include <string.h>

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

int client_start(struct client *c, uint64_t now, struct sw_action *acts, int cap)
{
	begin(c, acts, cap);
	c->next_peer_refresh = now + CLIENT_PEER_REFRESH_MS; /* */
	c->changed_at = now;
	cl_start_qualification(c, now);
	return c->o.n;
}

void cl_forget_all_peers(struct client *c)
{
	for (unsigned i = 0; i < c->cfg.random_ports; i++)
		if (c->rport[i].peer != PEER_NONE)
			cl_rport_renew(c, i);
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
	cl_forget_all_peers(c);
	c->probe_step = 0;
	cl_ri_reset(c);
	c->dormant = c->waking = false;
	c->state = CLIENT_OFFLINE;
	c->maintenance = false;
	c->rs_deadline = now + CLIENT_OFFLINE_RETRY_MS;
}

void cl_changed(struct client *c, uint64_t now, enum client_cause why)
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
	cl_changed(c, now, why);
	if (++c->servers_tried < c->nservers) {
		use_server(c, (c->server_idx + 1u) % c->nservers);
		c->stats.failovers++;
		cl_start_qualification(c, now);
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
		cl_changed(c, now, CAUSE_SERVERS_CHANGED);
		cl_start_qualification(c, now);
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
		cl_changed(c, now, CAUSE_NO_NETWORK);
		return c->o.n;
	}
	c->no_network = false;
	cl_changed(c, now, CAUSE_NETWORK_CHANGED);
	cl_start_qualification(c, now);
	return c->o.n;
}

/* Dormant mode (issue 11; Windows' Teredo client does this by default): once the host
 * has sent nothing through the tunnel for dormant_idle_ms, the client stops refreshing
 * and lets the NAT forget the mapping, so that an idle laptop sends nothing. The address
 * stays on the interface, as the source the host picks; the host's next packet queues
 * (not dropped) and wakes the client with a maintenance RS (C-25): when the RA shows the
 * same mapping, the queued packets leave (cl_resume()); a new mapping means a new address
 * (C-26), and the packets written from the old one are counted as lost. The first
 * qualification still happens at start: without an address, the host would have no
 * Teredo source to write from. */
static void go_dormant(struct client *c, uint64_t now)
{
	c->dormant = true;
	c->stats.dormant_entered++;
	c->probe_step = 0;
	if (c->ri_step != RI_DONE)
		cl_ri_reset(c); /* the search needs a live mapping: again after the wake-up */
	cl_changed(c, now, CAUSE_IDLE);
}

void cl_wake(struct client *c, uint64_t now)
{
	c->dormant = false;
	c->waking = true;
	c->stats.wakeups++;
	c->maintenance = true;
	c->rs_tries = 1;
	cl_send_rs(c, c->cfg.server, now);
	cl_changed(c, now, CAUSE_WOKEN);
}

uint64_t cl_count_queued(const struct client *c)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < c->peers.capacity; i++)
		if (c->peers.peers[i].in_use)
			n += c->peers.peers[i].q_count;
	return n;
}

/* The wake-up's RA came: every peer the host wrote to meanwhile, as client_tun would
 * have done (a peer still trusted and fresh gets its packets at once). */
void cl_resume(struct client *c, uint64_t now)
{
	for (uint32_t i = 0; i < c->peers.capacity; i++) {
		struct peer *p = &c->peers.peers[i];
		if (!p->in_use || !p->q_count)
			continue;
		if (p->trusted && now - p->last_rx < CLIENT_PEER_VALID_MS)
			cl_flush_queue(c, p, now);
		else
			cl_start_exchange(c, p, now);
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
			cl_send_rs(c, c->state == CLIENT_PROBING ? c->cfg.server : c->cfg.server2, now);
		} else if (c->state == CLIENT_PROBING_SECONDARY) {
			/* The secondary address never answered: the NAT kind stays unknown, but
			 * the primary mapping works (Miredo never asks the secondary at all). */
			c->nat = NAT_UNKNOWN;
			cl_qualified(c, now, c->cfg.prefix);
		} else {
			server_failed(c, now, CAUSE_NO_ANSWER); /* C-13 */
		}
		break;
	case CLIENT_OFFLINE:
		if (now >= c->rs_deadline)
			cl_start_qualification(c, now);
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
				cl_send_rs(c, c->cfg.server, now);
			} else {
				server_failed(c, now, CAUSE_SERVER_LOST); /* §5.2.5: re-qualify */
			}
		} else if (!c->maintenance && now >= c->next_refresh) {
			/* C-25: refresh the NAT mapping and check it. */
			c->maintenance = true;
			c->rs_tries = 1;
			cl_send_rs(c, c->cfg.server, now);
		}
		if (c->state == CLIENT_QUALIFIED) {
			cl_probe_tick(c, now);
			cl_ri_tick(c, now);
			cl_rport_sweep(c);
			cl_port_echo_timers(c, now);
			if (now >= c->next_peer_refresh) {
				cl_peer_refresh(c, now);
				c->next_peer_refresh = now + CLIENT_PEER_REFRESH_MS;
			}
			cl_retry_peers(c, now);
			if (c->cfg.local_discovery && now >= c->next_discovery)
				cl_send_discovery(c, now);
		}
		break;
	}
	peer_sweep(&c->peers, now, 2 * CLIENT_PEER_VALID_MS, 64);
	return c->o.n;
}
