/* What the client's control socket answers: `shipworm status` (text, JSON, Prometheus),
 * `peers` and `peer`. */
#include "sys/client_io_int.h"

#include <arpa/inet.h>

#include "sys/daemon.h"
#include "sys/status_fmt.h"
#include "sys/status_peers.h"

const char *cio_state_name(const struct client_io *io)
{
	const struct client *c = &io->core;
	return c->dormant ? "dormant" : c->waking ? "waking"
	       : c->state == CLIENT_QUALIFIED && c->nat == NAT_SYMMETRIC ? "symmetric-nat"
	       : c->state == CLIENT_OFFLINE && c->no_network ? "offline-no-network"
	       : client_state_name(c->state);
}

static void status_common(struct client_io *io, struct status_out *o)
{
	const struct client *c = &io->core;
	char a[INET6_ADDRSTRLEN + 8];
	st_daemon(o, "client", daemon_uptime_s());
	if (io->cfg->auto_reason[0])
		st_str(o, "auto", io->cfg->auto_reason); /* Mode auto: why this role */
	st_str(o, "state", cio_state_name(io));
	st_str(o, "state_cause", client_cause_name(c->cause));
	st_u64(o, "seconds_since_change", (daemon_now_ms() - c->changed_at) / 1000);
	st_str(o, "server", inet_ntop(AF_INET, &c->cfg.server, a, sizeof a));
	st_str(o, "server2", inet_ntop(AF_INET, &c->cfg.server2, a, sizeof a));
	/* Issue 11: every candidate, in order; the one in use is `server`. */
	st_arr_begin(o, "servers");
	for (unsigned i = 0; i < c->nservers; i++)
		st_str(o, NULL, inet_ntop(AF_INET, &c->servers[i].primary, a, sizeof a));
	st_arr_end(o);
	if (io->dns_why[0])
		st_str(o, "servers_problem", io->dns_why);
	/* C-27 and RFC 4380 §5.2.7: the interval in use, where it comes from, the search. */
	st_u64(o, "refresh_interval_ms", c->refresh_now_ms);
	st_str(o, "refresh_interval_from", c->ri_found ? "discovered"
				  : config_line(io->cfg, "RefreshInterval") ? "configuration" : "default");
	/* By core/client_int.h's RI_ steps; its settling exchange is part of qualifying. */
	static const char *const search[] = { "not-started", "qualifying", "waiting", "testing", "done", "qualifying" };
	st_str(o, "refresh_search", !c->cfg.refresh_discovery || !c->cfg.nat_probe ? "off"
				   : c->ri_step < 6 ? search[c->ri_step] : "?");
	st_str(o, "interface", io->cfg->ifname);
	/* "qualified" says nothing of a tunnel an operator took down (it comes back up with
	 * its address put back: client_net.c). */
	st_str(o, "interface_link", nl_link_state(io->nl, io->ifindex));
	st_u64(o, "local_port", ntohs(c->cfg.local_port));
	if (c->have_addr) {
		st_str(o, "address", inet_ntop(AF_INET6, &c->addr, a, sizeof a));
		st_str(o, "mapped", endpoint_str(c->mapped, a, sizeof a));
		st_u64(o, "mtu", c->mtu);
	}
	st_str(o, "nat", c->nat == NAT_SYMMETRIC && c->port_preserving ? "port-preserving-symmetric"
						   : client_nat_name(c->nat));
	st_bool(o, "nat_port_preserving", c->port_preserving);
	/* RFC 6081 extensions in use (§3): the ones this client implements and has on. */
	st_arr_begin(o, "extensions");
	if (c->cfg.symmetric_nat)
		st_str(o, NULL, "symmetric-nat-support");
	if (c->cfg.load_reduction)
		st_str(o, NULL, "server-load-reduction");
	if (c->cfg.hairpinning)
		st_str(o, NULL, "hairpinning");
	if (c->cfg.upnp && c->cfg.symmetric_nat)
		st_str(o, NULL, "upnp-enabled-symmetric-nat");
	if (c->cfg.random_ports) {
		st_str(o, NULL, "port-preserving-symmetric-nat");
		if (c->cfg.sequential_nat)
			st_str(o, NULL, "sequential-port-symmetric-nat");
	}
	st_arr_end(o);
	/* Which of RFC 6081 §5.4 and §5.5 this NAT calls for. */
	bool sym = c->nat == NAT_SYMMETRIC && c->cfg.random_ports;
	st_str(o, "random_ports", !sym ? "unused" : c->port_preserving ? "port-preserving"
					: c->cfg.sequential_nat ? "sequential-prediction" : "unused");
	unsigned lent = 0;
	for (unsigned i = 0; i < c->cfg.random_ports; i++)
		lent += c->rport[i].peer != PEER_NONE;
	st_u64(o, "random_ports_lent", lent);
	if (c->nat == NAT_SYMMETRIC)
		st_str(o, "mapped_secondary", endpoint_str(c->mapped2, a, sizeof a));
	/* RFC 6081 §5.3: off, searching, none (and why), or the IGD's mapping
	 * and whether it is the one the server sees (a single NAT). */
	st_str(o, "upnp", !c->cfg.upnp ? "off" : !io->upnp_done ? "searching"
			  : !c->upnp_enabled ? "none" : !c->have_addr ? "mapped"
			  : client_upnp_mapped(c).ip ? "mapped-behind-another-nat" : "mapped-single-nat");
	if (c->upnp_enabled)
		st_str(o, "upnp_mapped", endpoint_str(c->upnp_map, a, sizeof a));
	if (io->upnp_done)
		st_str(o, "upnp_detail", io->upnp_why);
	uint64_t now = daemon_now_ms();
	if (c->last_server_rx)
		st_u64(o, "seconds_since_server", (now - c->last_server_rx) / 1000);
	/* Dormant mode (issue 11): off, or the idle time after which refreshes stop. */
	st_bool(o, "dormant_mode", c->cfg.dormant_idle_ms != 0);
	if (c->cfg.dormant_idle_ms)
		st_u64(o, "dormant_idle_s", c->cfg.dormant_idle_ms / 1000);
	fastpath_status(o, &io->fps);
	tun_status(o, &io->tunrx);
	tun_tx_status(o, &io->tuntx);
	udp_gso_status(o, &io->tx, io->cfg->udp_offload);
	udp_gro_status(o, &io->rx, io->fp != NULL, io->cfg->udp_offload);
	st_bool(o, "local_discovery", c->cfg.local_discovery);
	st_bool(o, "symmetric_nat_support", c->cfg.symmetric_nat);
	status_limits(o, &c->peers, &c->pending);
}

size_t cio_answer(void *ctx, const struct control_req *req, char *out, size_t cap)
{
	struct client_io *io = ctx;
	const struct client *c = &io->core;
	struct status_out o;
	bool json = req->json;
	if (req->verb == CTL_STATUS) {
		st_begin(&o, out, cap, req->prom ? ST_PROM : json);
		status_common(io, &o);
		st_obj_begin(&o, "counters");
		const struct client_stats *s = &c->stats;
		st_u64(&o, "rs_sent", s->rs_sent);
		st_u64(&o, "ra_accepted", s->ra_accepted);
		st_u64(&o, "qualifications", s->qualifications);
		st_u64(&o, "address_changes", s->address_changes);
		st_u64(&o, "server_losses", s->server_losses);
		st_u64(&o, "bubbles_sent", s->bubbles_sent);
		st_u64(&o, "echo_tests", s->echo_tests);
		st_u64(&o, "stranger_tests", s->stranger_tests);
		st_u64(&o, "stranger_queued", s->stranger_queued);
		st_u64(&o, "stranger_delivered", s->stranger_delivered);
		st_u64(&o, "origin_fallback_bubbles", s->origin_fallback);
		st_u64(&o, "nonce_bubbles_accepted", s->nonce_accepted);
		st_u64(&o, "moved_port_bubbles_accepted", s->moved_port_accepted);
		st_u64(&o, "nd_solicitations_sent", s->solicitations);
		st_u64(&o, "nd_advertisements_sent", s->advertisements);
		st_u64(&o, "alternate_address_bubbles", s->alt_bubbles);
		st_u64(&o, "random_ports_taken", s->random_ports_taken);
		st_u64(&o, "random_ports_busy", s->random_ports_busy);
		st_u64(&o, "port_echo_tests", s->port_echo_tests);
		st_u64(&o, "port_predictions", s->port_predictions);
		st_u64(&o, "random_port_trusted", s->random_port_trusted);
		st_u64(&o, "peer_random_port_accepted", s->peer_random_port_accepted);
		st_u64(&o, "peer_refresh_bubbles", s->peer_refresh_bubbles);
		st_u64(&o, "upnp_embedded_sends", s->upnp_embedded_sends);
		st_u64(&o, "server_failovers", s->failovers);
		st_u64(&o, "network_changes", s->network_changes);
		st_u64(&o, "mapping_jumps", s->mapping_jumps);
		st_u64(&o, "dormant_entered", s->dormant_entered);
		st_u64(&o, "dormant_wakeups", s->wakeups);
		st_u64(&o, "dormant_packets_lost", s->dormant_lost);
		st_u64(&o, "refresh_tests", s->ri_tests);
		st_u64(&o, "refresh_tests_kept", s->ri_test_ok);
		st_u64(&o, "ra_new_key_requests", s->ra_new_key);
		st_u64(&o, "from_udp", s->from_udp);
		st_u64(&o, "to_tun", s->to_tun);
		st_u64(&o, "from_tun", s->from_tun);
		st_u64(&o, "to_udp", s->to_udp);
		st_u64(&o, "discovery_sent", s->discovery_sent);
		st_u64(&o, "discovery_received", s->discovery_received);
		st_u64(&o, "icmp_errors", s->icmp_errors);
		st_u64(&o, "icmp_errors_rate_limited", s->icmp_errors_limited);
		st_u64(&o, "send_errors", io->send_errors);
		tun_status_counters(&o, &io->tunrx);
		tun_tx_status_counters(&o, &io->tuntx);
		udp_gso_status_counters(&o, &io->tx, 1, io->rtx, CLIENT_RANDOM_PORTS);
		udp_gro_status_counters(&o, &io->rx);
		if (io->fp)
			fastpath_status_counters(&o, io->fp, c->trust.lost);
		st_obj_end(&o);
		st_obj_begin(&o, "dropped");
		for (int i = 0; i < CL_DROP__COUNT; i++)
			st_u64(&o, client_drop_name((enum client_drop)i), s->dropped[i]);
		st_obj_end(&o);
		return st_end(&o);
	}
	if (req->verb == CTL_PEER) {
		struct peer_kernel k;
		return status_peer(&io->core.peers, &req->addr, c->cfg.prefix, daemon_now_ms(),
				   fastpath_peer_kernel(io->fp, &req->addr, &k), json, out, cap);
	}
	return status_peers(&c->peers, c->cfg.prefix, daemon_now_ms(), req->from, json, out, cap);
}
