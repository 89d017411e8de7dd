#include "sys/client_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/client.h"
#include "sys/control.h"
#include "sys/fastpath.h"
#include "sys/log.h"
#include "sys/sandbox.h"
#include "sys/netlink.h"
#include "sys/resolver.h"
#include "sys/status_fmt.h"
#include "sys/status_peers.h"
#include "sys/tun.h"
#include "sys/udp.h"
#include "sys/upnp.h"
#include "wire/teredo_addr.h"

/* Miredo's metric: native IPv6 routes (1024) keep priority (RFC 4380 §5.5, C-70). */
#define DEFAULT_ROUTE_METRIC 1029
#define TICK_MS 200
#define ACTS 64
/* Host packets handled per TUN wake-up: their UDP datagrams leave in one sendmmsg. */
#define TUN_ACTS 8
#define NETS_REFRESH_MS 10000
#define NET_SETTLE_MS 300 /* rtnetlink: the end of a burst of changes */

struct client_io {
	struct client core;
	const struct sw_config *cfg;
	int udp, tun, ifindex;
	int disc; /* local discovery socket on 224.0.0.253:3544, -1 when off */
	int probe; /* the NAT filtering probe's socket (core: sock 1), -1 when none */
	int ep;
	/* RFC 6081 §5.4, §5.5: random-port sockets (core: CLIENT_SOCK_RANDOM + i), -1 when
	 * closed; each with its own send batch. */
	int rport[CLIENT_RANDOM_PORTS];
	struct udp_tx rtx[CLIENT_RANDOM_PORTS];
	struct nl *nl;
	/* Following the network (issue 11): rtnetlink's change messages, and the route
	 * to the server as last seen. */
	struct nl *mon;
	bool net_dirty, have_route;
	uint64_t net_check_at;
	struct nl_route4 route;
	uint32_t route_server;
	/* Server names: the resolver helper (-1: only addresses), a request in flight,
	 * the next periodic one, and what the last answer complained of. */
	int dns;
	bool dns_pending;
	bool told_no_answer; /* logged that no server answers, since the last address */
	uint64_t next_resolve;
	char dns_why[sizeof ((struct resolve_result *)0)->why];
	/* RFC 6081 §5.3: the UPnP helper's socket (kept open while the mapping should
	 * live), and what it said. */
	int upnp;
	bool upnp_done;
	char upnp_why[sizeof ((struct upnp_result *)0)->why];
	bool addr_set;
	struct in6_addr addr;
	/* The kernel fast path (issue 10): fps.fp, or NULL and why not; its configuration. */
	struct fastpath_start fps;
	struct fastpath *fp;
	struct fp_config fpc;
	uint64_t send_errors;
	struct udp_rx rx;
	struct udp_tx tx, ptx;
	struct sw_action acts[ACTS];
	struct sw_action tun_acts[TUN_SLOTS][TUN_ACTS];
	struct tun_rx tunrx;
	struct tun_tx tuntx;
};

/* The optional ClientHook, with Miredo's client-hook variables, for users who want to
 * do more on each change; the interface itself never depends on it. It runs detached
 * (SIGCHLD is ignored, so it is reaped by the kernel) and never blocks the daemon. */
static void run_hook(struct client_io *io, const char *state, const struct in6_addr *old)
{
	const char *hook = io->cfg->client_hook;
	if (!hook[0])
		return;
	char addr[INET6_ADDRSTRLEN] = "", olda[INET6_ADDRSTRLEN] = "", mtu[16];
	if (io->addr_set)
		inet_ntop(AF_INET6, &io->addr, addr, sizeof addr);
	static const struct in6_addr none;
	if (old && memcmp(old, &none, 16))
		inet_ntop(AF_INET6, old, olda, sizeof olda);
	snprintf(mtu, sizeof mtu, "%u", io->core.mtu);
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("ClientHook %s: %s", hook, strerror(errno));
		return;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* The hook may change the interface as Miredo's does: CAP_NET_ADMIN, nothing
		 * else, survives the exec. */
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0L, 0L);
		char *const argv[] = { (char *)hook, NULL };
		char e_state[32], e_iface[32], e_addr[64], e_old[64], e_mtu[32];
		snprintf(e_state, sizeof e_state, "STATE=%s", state);
		snprintf(e_iface, sizeof e_iface, "IFACE=%s", io->cfg->ifname);
		snprintf(e_addr, sizeof e_addr, "ADDRESS=%s", addr);
		snprintf(e_old, sizeof e_old, "OLD_ADDRESS=%s", olda);
		snprintf(e_mtu, sizeof e_mtu, "MTU=%s", mtu);
		char *const envp[] = { e_state, e_iface, e_addr, e_old, e_mtu, "LLADDRESS=fe80::ffff:ffff:ffff",
				       "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		execve(hook, argv, envp);
		_exit(127);
	}
}

static void clear_address(struct client_io *io)
{
	if (!io->addr_set)
		return;
	static const struct in6_addr any;
	nl_route6(io->nl, false, io->ifindex, &any, 0, DEFAULT_ROUTE_METRIC);
	nl_addr6(io->nl, false, io->ifindex, &io->addr, 32);
	io->addr_set = false;
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &io->addr, a, sizeof a);
	log_info("Teredo address %s removed", a);
	run_hook(io, "down", &io->addr);
}

static void set_address(struct client_io *io, const struct in6_addr *addr, uint32_t mtu)
{
	struct in6_addr old = io->addr_set ? io->addr : (struct in6_addr){ 0 };
	if (io->addr_set) { /* replaced: no "down" in between, as Miredo */
		static const struct in6_addr any;
		nl_route6(io->nl, false, io->ifindex, &any, 0, DEFAULT_ROUTE_METRIC);
		nl_addr6(io->nl, false, io->ifindex, &io->addr, 32);
		io->addr_set = false;
	}
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, addr, a, sizeof a);
	int r;
	static const struct in6_addr any;
	/* The address with a /32, as Miredo sets it: all of 2001::/32 is on-link. */
	if ((r = nl_link_up(io->nl, io->ifindex, mtu)) < 0 ||
	    (r = nl_addr6(io->nl, true, io->ifindex, addr, 32)) < 0 ||
	    (r = nl_route6(io->nl, true, io->ifindex, &any, 0, DEFAULT_ROUTE_METRIC)) < 0) {
		log_err("cannot configure %s on %s: %s", a, io->cfg->ifname, strerror(-r));
		return;
	}
	io->addr = *addr;
	io->addr_set = true;
	log_info("Teredo address %s, MTU %u, on %s", a, mtu, io->cfg->ifname);
	char st[INET6_ADDRSTRLEN + 16];
	snprintf(st, sizeof st, "qualified: %s", a);
	daemon_notify_ready(st); /* systemd: ready once there is an address */
	run_hook(io, "up", &old);
}

/* Send the queued UDP datagrams in one batch. */
static void flush_udp(struct client_io *io)
{
	io->send_errors += (uint64_t)udp_tx_flush(io->udp, &io->tx);
	if (io->ptx.n)
		io->send_errors += (uint64_t)udp_tx_flush(io->probe, &io->ptx);
	for (unsigned i = 0; i < io->core.cfg.random_ports; i++)
		if (io->rtx[i].n)
			io->send_errors += (uint64_t)udp_tx_flush(io->rport[i], &io->rtx[i]);
}

/* Send what is queued: the UDP datagrams and the TCP segments held for the TUN. */
static void flush(void *ctx)
{
	struct client_io *io = ctx;
	flush_udp(io);
	io->send_errors += (uint64_t)tun_tx_flush(io->tun, &io->tunrx, &io->tuntx);
}

#define EV_RPORT 16 /* epoll ids of the random-port sockets: EV_RPORT + i */

/* (Re)open random-port socket i on a port the kernel picks at random, and tell the
 * core its number. A failure leaves the slot closed; the core just never lends it. */
static void rport_open(struct client_io *io, unsigned i)
{
	if (io->rport[i] >= 0) {
		epoll_ctl(io->ep, EPOLL_CTL_DEL, io->rport[i], NULL);
		close(io->rport[i]);
		io->rport[i] = -1;
	}
	io->rtx[i].n = 0;
	int fd = udp_open(io->cfg->bind_address, 0, false);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_RPORT + i };
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    (io->ep >= 0 && epoll_ctl(io->ep, EPOLL_CTL_ADD, fd, &ev) < 0)) {
		log_warn("random port %u: %s", i, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	io->rport[i] = fd;
	client_random_port_ready(&io->core, i, sa.sin_port);
}

/* Carry out n actions; UDP datagrams are only queued (flush() sends them). */
static void fp_sync(struct client_io *io)
{
	if (io->fp && trust_log_pending(&io->core.trust)) {
		/* By core socket: the Teredo socket, the NAT probe's (never trusted on), the
		 * random ports of RFC 6081 §5.4, §5.5 as the core last heard them opened. */
		uint16_t sports[CLIENT_SOCK_RANDOM + CLIENT_RANDOM_PORTS] = { io->core.cfg.local_port };
		for (unsigned i = 0; i < io->core.cfg.random_ports; i++)
			sports[CLIENT_SOCK_RANDOM + i] = io->core.rport[i].port;
		fastpath_apply(io->fp, &io->core.trust, sports, CLIENT_SOCK_RANDOM + io->core.cfg.random_ports);
	}
}

/* The programs' view of our address (C-31 on the way in, our source on the way out). */
static void fp_address(struct client_io *io, const struct in6_addr *a)
{
	if (!io->fp)
		return;
	memset(io->fpc.self6, 0, sizeof io->fpc.self6);
	if (a)
		memcpy(io->fpc.self6, a, 16);
	fastpath_configure(io->fp, &io->fpc);
}

static void fp_seen(void *ctx, const struct in6_addr *a, uint64_t at, uint32_t pkts, uint64_t sent)
{
	struct client_io *io = ctx;
	client_peer_seen(&io->core, a, at, pkts);
	if (sent)
		client_peer_sent(&io->core, a, sent);
}

static void execute_batch(struct client_io *io, struct sw_action *acts, int n)
{
	fp_sync(io);
	for (int i = 0; i < n; i++) {
		struct sw_action *a = &acts[i];
		switch (a->kind) {
		case SW_ACT_UDP: {
			unsigned r = a->sock - CLIENT_SOCK_RANDOM;
			struct udp_tx *tx = a->sock == 1 && io->probe >= 0 ? &io->ptx
					    : a->sock >= CLIENT_SOCK_RANDOM && r < io->core.cfg.random_ports &&
							      io->rport[r] >= 0
						    ? &io->rtx[r]
						    : &io->tx;
			if (tx == &io->tx && a->sock && a->sock != 1)
				break; /* its socket is closed: never from the wrong port */
			udp_tx_add(tx, a);
			if (tx->n == UDP_BATCH)
				flush(io);
			break;
		}
		case SW_ACT_TUN: {
			struct iovec v[2] = { { a->hdr, a->hdr_len }, { (void *)a->body, a->body_len } };
			io->send_errors += (uint64_t)tun_tx_add(io->tun, &io->tunrx, &io->tuntx, v, 2);
			break;
		}
		case SW_ACT_SET_ADDR:
			io->told_no_answer = false;
			set_address(io, &a->addr, a->mtu);
			fp_address(io, &a->addr);
			break;
		case SW_ACT_CLEAR_ADDR:
			log_warn("no Teredo connectivity until qualified again (%s)", client_cause_name(io->core.cause));
			clear_address(io);
			fp_address(io, NULL);
			break;
		case SW_ACT_RESOLVE:
			/* Every server was tried (C-13): say so once, not every 22 s while it lasts. */
			if (io->core.cause == CAUSE_NO_ANSWER && !io->told_no_answer) {
				log_warn("no Teredo server answered (%u Router Solicitations each); trying again every %u s",
					 CLIENT_RS_TRIES, CLIENT_OFFLINE_RETRY_MS / 1000);
				io->told_no_answer = true;
			}
			if (io->dns >= 0 && !io->dns_pending && resolver_ask(io->dns) == 0)
				io->dns_pending = true;
			break;
		case SW_ACT_RENEW_SOCK:
			if (a->sock >= CLIENT_SOCK_RANDOM && a->sock - CLIENT_SOCK_RANDOM < (int)io->core.cfg.random_ports) {
				flush(io);
				rport_open(io, a->sock - CLIENT_SOCK_RANDOM);
			}
			break;
		case SW_ACT_IPV6:
			break;
		}
	}
}

static void execute(struct client_io *io, int n)
{
	execute_batch(io, io->acts, n);
	flush(io);
}

/* For each datagram of a receive batch: its datagrams leave at once (their headers live
 * in io->acts, which the next datagram's actions reuse), while TCP segments for the TUN
 * stay held, to be joined with the next datagram's (flush() after the batch). */
static void execute_rx(struct client_io *io, int n)
{
	execute_batch(io, io->acts, n);
	flush_udp(io);
}

static void tun_packet(void *ctx, int k, uint8_t *pkt, size_t len, uint64_t now)
{
	struct client_io *io = ctx;
	execute_batch(io, io->tun_acts[k], client_tun(&io->core, now, pkt, len, io->tun_acts[k], TUN_ACTS));
}

static void status_common(struct client_io *io, struct status_out *o)
{
	const struct client *c = &io->core;
	char a[INET6_ADDRSTRLEN + 8];
	st_str(o, "mode", "client");
	if (io->cfg->auto_reason[0])
		st_str(o, "auto", io->cfg->auto_reason); /* Mode auto: why this role */
	st_str(o, "state", c->dormant ? "dormant" : c->waking ? "waking"
			   : c->state == CLIENT_QUALIFIED && c->nat == NAT_SYMMETRIC ? "symmetric-nat"
			   : c->state == CLIENT_OFFLINE && c->no_network ? "offline-no-network"
			   : client_state_name(c->state));
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

static size_t answer(void *ctx, const struct control_req *req, char *out, size_t cap)
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
	return status_peers(&c->peers, c->cfg.prefix, daemon_now_ms(), json, out, cap);
}

/* The host's IPv4 subnets, for local discovery's on-link check (C-68) and the
 * CVE-2006-6264 rule (SEC-22); read at start and every NETS_REFRESH_MS. */
static void refresh_nets(struct client_io *io)
{
	struct ipv4_net nets[IPV4_NETS_MAX];
	unsigned n = 0;
	struct ifaddrs *ifa, *i;
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && n < IPV4_NETS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		nets[n].addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		nets[n].mask = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr;
		n++;
	}
	freeifaddrs(ifa);
	client_set_nets(&io->core, nets, n);
	/* Our own address for RFC 6081 §5.6: the bound one, else the first we have. */
	client_set_local_ip(&io->core, io->cfg->bind_address ? io->cfg->bind_address : n ? nets[0].addr : 0);
}

/* Issue 11: after a burst of rtnetlink messages, where would the kernel send to the
 * server now? A new source address, gateway or interface means a new network (a new
 * NAT, a new mapping): qualify again at once; no route at all, offline until one
 * comes. A route to another server (after a fail-over) is only noted. */
static void check_network(struct client_io *io, uint64_t now)
{
	struct nl_route4 rt;
	uint32_t server = io->core.cfg.server;
	bool have = nl_route_get4(io->nl, server, io->cfg->bind_address, &rt) == 0;
	bool same = server != io->route_server ||
		    (have == io->have_route && (!have || (rt.src == io->route.src && rt.gw == io->route.gw &&
							 rt.oif == io->route.oif)));
	io->route_server = server;
	io->have_route = have;
	io->route = rt;
	if (same)
		return;
	char s[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	if (have) {
		/* The interface's name through rtnetlink: if_indextoname's ioctl is refused by
		 * the sandbox. */
		char name[IF_NAMESIZE];
		if (nl_link_name(io->nl, rt.oif, name) < 0)
			snprintf(name, sizeof name, "%d", rt.oif);
		log_info("network changed: to the server from %s via %s on %s; qualifying again",
			 inet_ntop(AF_INET, &rt.src, s, sizeof s), rt.gw ? inet_ntop(AF_INET, &rt.gw, g, sizeof g) : "the link",
			 name);
	} else {
		log_info("network changed: no IPv4 route to the server; waiting for one");
	}
	refresh_nets(io);
	/* The fast path follows the route: a new source address, or a new interface, whose
	 * ingress the filter moves to. If it cannot move, the programs pass everything and
	 * the daemon carries on. Without a route there is nothing to follow yet. */
	if (io->fp && have && (int)io->fpc.out_ifindex != rt.oif) {
		char name[IF_NAMESIZE];
		int r = fastpath_move_ingress(io->fp, io->nl, rt.oif, io->fps.janitor);
		if (r < 0) {
			io->fpc.role = 0;
			snprintf(io->fps.why, sizeof io->fps.why, "off (cannot follow the route to interface %d: %s)",
				 rt.oif, strerror(-r));
		} else {
			io->fpc.out_ifindex = (uint32_t)rt.oif;
			io->fpc.role = FP_ROLE_CLIENT;
			if (nl_link_name(io->nl, rt.oif, name) < 0)
				snprintf(name, sizeof name, "%d", rt.oif);
			snprintf(io->fps.why, sizeof io->fps.why, "on (tc ingress %s, tc egress %s)", name, io->cfg->ifname);
		}
		log_info("fast path %s", io->fps.why);
	}
	if (io->fp && have) {
		io->fpc.self_ip = rt.src;
		fastpath_configure(io->fp, &io->fpc);
	}
	execute(io, client_network(&io->core, now, have, io->acts, ACTS));
}

/* The discovery socket (C-67): bound to the group, so that only datagrams sent to
 * 224.0.0.253 arrive on it (C-68 drops discovery bubbles sent to a unicast address). */
static int discovery_open(uint32_t ifaddr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(TEREDO_PORT),
				  .sin_addr.s_addr = htonl(TEREDO_DISCOVERY_GROUP) };
	struct ip_mreq mr = { .imr_multiaddr.s_addr = htonl(TEREDO_DISCOVERY_GROUP), .imr_interface.s_addr = ifaddr };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int client_io_run(const struct sw_config *cfg, const struct run_opts *opts)
{
	static struct client_io io;
	/* Every page of the I/O state (batches, buffers: megabytes) is touched now, not by
	 * the first deep batch of a burst: the footprint at start is the footprint under
	 * load, and a flood costs no page faults. */
	memset(&io, 0, sizeof io);
	io.cfg = cfg;
	struct client_config cc = {
		.prefix = cfg->prefix, .refresh_ms = cfg->refresh_s * 1000u, /* C-27 */
		.refresh_discovery = cfg->refresh_discovery, .refresh_min_ms = cfg->refresh_min_s * 1000u,
		.dormant_idle_ms = cfg->dormant ? cfg->dormant_idle_s * 1000u : 0,
		.peer_capacity = cfg->max_peers ? cfg->max_peers : 8192,
		.queue_pool = cfg->max_peers && cfg->max_peers / 2 < 4096 ? cfg->max_peers / 2 : 4096,
		.queue_per_peer = 16,
	};
	struct resolve_result rr;
	resolve_servers(cfg, &rr);
	if (!rr.n) {
		log_err("ServerAddress: no usable server address (%s)", rr.why);
		return 1;
	}
	if (rr.why[0])
		log_warn("ServerAddress: %s", rr.why);
	snprintf(io.dns_why, sizeof io.dns_why, "%s", rr.why);
	cc.server = rr.s[0].primary;
	cc.server2 = rr.s[0].secondary;
	/* Shared: with BindPort 3544, the discovery socket (224.0.0.253:3544) binds the
	 * port too. */
	io.udp = udp_open(cfg->bind_address, htons(cfg->bind_port), true);
	if (io.udp < 0) {
		log_err("cannot open the UDP socket (BindAddress/BindPort): %s%s", strerror(errno), udp_in_use(errno));
		return 1;
	}
	/* Discovery bubbles leave the service port (P-23) for the link only (C-67: TTL 1),
	 * and our own must not come back to us. */
	int ttl = 1, loop = 0;
	setsockopt(io.udp, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	setsockopt(io.udp, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
	if (cfg->bind_address) {
		struct in_addr ifa = { .s_addr = cfg->bind_address };
		setsockopt(io.udp, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa);
	}
	/* The filtering probe's socket (core/client_qualify.c probe_step): a second mapping. */
	io.probe = udp_open(cfg->bind_address, 0, false);
	if (io.probe < 0)
		log_warn("NAT filtering probe off: cannot open a second UDP socket: %s", strerror(errno));
	cc.nat_probe = io.probe >= 0;
	struct sockaddr_in own;
	socklen_t ol = sizeof own;
	if (getsockname(io.udp, (struct sockaddr *)&own, &ol) == 0)
		cc.local_port = own.sin_port;
	io.disc = -1;
	if (cfg->local_discovery) {
		io.disc = discovery_open(cfg->bind_address);
		if (io.disc < 0)
			log_warn("local discovery off: cannot join 224.0.0.253: %s", strerror(errno));
	}
	cc.local_discovery = io.disc >= 0;
	cc.symmetric_nat = cfg->symmetric_nat;
	cc.load_reduction = cfg->load_reduction;
	cc.hairpinning = cfg->hairpinning;
	cc.port_preserving_nat = cfg->port_preserving_nat;
	cc.sequential_nat = cfg->sequential_nat;
	cc.random_ports = cfg->symmetric_nat && cfg->port_preserving_nat ? CLIENT_RANDOM_PORTS : 0;
	/* RFC 6081 §5.3 needs §5.2; §5.6 takes the same mapping. */
	cc.upnp = cfg->upnp && (cfg->symmetric_nat || cfg->hairpinning);
	/* Issue 10: a TCP stream's segments to one peer leave as UDP GSO rows. */
	udp_tx_gso(&io.tx, cfg->udp_offload);
	for (unsigned i = 0; i < CLIENT_RANDOM_PORTS; i++)
		udp_tx_gso(&io.rtx[i], cfg->udp_offload);
	io.tun = tun_open(cfg->ifname, cfg->tun_offload, &io.ifindex, &io.tunrx);
	tun_tx_init(&io.tuntx, &io.tunrx, cfg->tun_offload);
	if (io.tun < 0) {
		log_err("cannot create tunnel interface %s: %s", cfg->ifname, strerror(errno));
		return 1;
	}
	io.nl = nl_open();
	if (!io.nl) {
		log_err("netlink: %s", strerror(errno));
		return 1;
	}
	nl_link_up(io.nl, io.ifindex, cfg->mtu);
	int ctl = control_listen(opts->control, opts->control_gid);
	if (ctl < 0) {
		log_err("cannot create control socket %s: %s", opts->control, strerror(errno));
		return 1;
	}
	int sfd = daemon_signalfd();
	signal(SIGCHLD, SIG_IGN); /* ClientHook children reap themselves */
	if (udp_rx_init(&io.rx) < 0 || sfd < 0 ||
	    client_init(&io.core, &cc, daemon_random, NULL) < 0) {
		log_err("out of memory");
		return 1;
	}
	const char *user = daemon_user(opts);
	/* Issue 11: names are resolved again later by a helper; the network is followed. */
	io.dns = -1;
	if (resolver_has_names(cfg) && (io.dns = resolver_start(cfg, user)) < 0)
		log_warn("server names will not be resolved again: %s", strerror(errno));
	io.mon = nl_monitor_open();
	if (!io.mon)
		log_warn("network changes will not be followed: rtnetlink: %s", strerror(errno));
	/* the helper asks the IGD while we qualify (forked before the sandbox: it
	 * needs HTTP and multicast; it drops to the same user). */
	io.upnp = -1;
	if (cc.upnp && cc.local_port) {
		io.upnp = upnp_start(cc.local_port, cfg->bind_address, user);
		if (io.upnp < 0)
			log_warn("UPnP off: cannot start its helper: %s", strerror(errno));
	}
	if (io.upnp < 0) {
		io.upnp_done = true;
		snprintf(io.upnp_why, sizeof io.upnp_why, "%s", cc.upnp ? "the helper did not start" : "UPnP no");
	}
	{
		/* FastPath (issue 10): in and out by the interface the route to the server
		 * leaves by, from its source address and our Teredo port. */
		struct nl_route4 rt = { 0 };
		int in = nl_route_get4(io.nl, io.core.cfg.server, cfg->bind_address, &rt) == 0 && rt.src ? rt.oif : 0;
		char in_name[IF_NAMESIZE + 16];
		if (in <= 0 || !if_indextoname((unsigned)in, in_name))
			snprintf(in_name, sizeof in_name, "interface %d", in);
		io.fpc = (struct fp_config){ .prefix = htonl(io.core.cfg.prefix), .self_ip = rt.src,
					     .port = io.core.cfg.local_port, .role = FP_ROLE_CLIENT,
					     .tun_ifindex = (uint32_t)io.ifindex, .out_ifindex = (uint32_t)(in > 0 ? in : 0) };
		if (fastpath_start(&io.fps, cfg->fast_path, cc.peer_capacity, in, in_name, cfg->ifname, &io.fpc, user,
				   "no IPv4 route to the server") < 0)
			return 1;
		io.fp = io.fps.fp;
		if (io.fp)
			client_fast_path(&io.core);
	}
	/* Issue 10: rows in (UDP GRO) only where no ingress program reads the traffic first. */
	if (!io.fp && cfg->udp_offload)
		(void)udp_rx_gro(io.udp, &io.rx);
	/* The client keeps CAP_NET_ADMIN, and only that: it changes its address and
	 * routes whenever it re-qualifies (and CAP_BPF where the fast path needs it). */
	if (daemon_drop_privileges(user, DROP_KEEP_NET_ADMIN | (io.fps.cap_bpf ? DROP_KEEP_BPF : 0)) < 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return 1;
	}
	/* A ClientHook may run anything, and a seccomp filter is inherited by it: with a
	 * hook the client keeps its privileges lean (above) but runs unfiltered. */
	if (cfg->client_hook[0])
		log_info("ClientHook set: no seccomp filter for this client");
	else if (sandbox_enter(SANDBOX_CLIENT) < 0) {
		log_err("cannot enter the seccomp sandbox: %s", strerror(errno));
		return 1;
	}

	int fds[] = { io.udp, io.tun, ctl, sfd, io.disc, io.probe, io.upnp, io.mon ? nl_fd(io.mon) : -1, io.dns,
		      io.fp ? fastpath_seen_fd(io.fp) : -1 };
	int ep = daemon_epoll(fds, 10);
	if (ep < 0) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	io.ep = ep;
	for (unsigned i = 0; i < CLIENT_RANDOM_PORTS; i++)
		io.rport[i] = -1;
	for (unsigned i = 0; i < cc.random_ports; i++)
		rport_open(&io, i);
	char a[INET_ADDRSTRLEN];
	log_info("Teredo client of %s on %s", inet_ntop(AF_INET, &cc.server, a, sizeof a), cfg->ifname);
	daemon_ready();
	refresh_nets(&io);
	execute(&io, client_set_servers(&io.core, daemon_now_ms(), rr.s, rr.n, io.acts, ACTS));
	io.route_server = io.core.cfg.server;
	io.have_route = nl_route_get4(io.nl, io.route_server, cfg->bind_address, &io.route) == 0;
	io.next_resolve = daemon_now_ms() + RESOLVE_EVERY_S * 1000ull;
	execute(&io, client_start(&io.core, daemon_now_ms(), io.acts, ACTS));
	uint64_t next_tick = daemon_now_ms() + TICK_MS, next_nets = daemon_now_ms() + NETS_REFRESH_MS;
	uint64_t new_key_seen = 0, jumps_seen = 0;
	bool was_dormant = false;

	for (;;) {
		uint64_t now = daemon_now_ms();
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case 0:
				for (int round = 0; round < 8; round++) {
					int k = udp_rx_batch(io.udp, &io.rx);
					now = daemon_now_ms();
					for (int j = 0; j < k; j++)
						execute_rx(&io, client_udp(&io.core, now, udp_rx_src(&io.rx, j), udp_rx_data(&io.rx, j),
									   udp_rx_len(&io.rx, j), io.acts, ACTS));
					flush(&io);
					if (k < UDP_BATCH)
						break;
				}
				break;
			case 1:
				tun_drain(io.tun, &io.tunrx, tun_packet, flush, &io);
				break;
			case 2:
				control_serve(ctl, answer, &io);
				break;
			case 3:
				if (daemon_stop_requested(sfd))
					goto out;
				break;
			case 5: {
				int k = udp_rx_batch(io.probe, &io.rx);
				now = daemon_now_ms();
				for (int j = 0; j < k; j++)
					execute_rx(&io, client_udp_on(&io.core, now, 1, udp_rx_src(&io.rx, j), udp_rx_data(&io.rx, j),
								      udp_rx_len(&io.rx, j), io.acts, ACTS));
				flush(&io);
				break;
			}
			default: {
				unsigned slot = evs[i].data.u32 - EV_RPORT;
				if (slot >= cc.random_ports || io.rport[slot] < 0)
					break;
				int k = udp_rx_batch(io.rport[slot], &io.rx);
				now = daemon_now_ms();
				for (int j = 0; j < k; j++)
					execute_rx(&io, client_udp_on(&io.core, now, (uint8_t)(CLIENT_SOCK_RANDOM + slot),
								      udp_rx_src(&io.rx, j), udp_rx_data(&io.rx, j),
								      udp_rx_len(&io.rx, j), io.acts, ACTS));
				flush(&io);
				break;
			}
			case 6: {
				struct upnp_result ur;
				if (upnp_read(io.upnp, &ur) < 0)
					break;
				/* One answer; the socket stays open (closing it removes the
				 * mapping) but leaves the loop. */
				epoll_ctl(ep, EPOLL_CTL_DEL, io.upnp, NULL);
				if (!ur.ext_ip) {
					close(io.upnp);
					io.upnp = -1;
				}
				client_upnp(&io.core, ur.ext_ip, ur.ext_port);
				fp_sync(&io); /* X-26 may start or stop for trusted peers */
				io.upnp_done = true;
				memcpy(io.upnp_why, ur.why, sizeof io.upnp_why);
				log_info("UPnP: %s", ur.why);
				break;
			}
			case 7:
				if (nl_drain(io.mon) && !io.net_dirty) {
					/* A change comes as a burst of messages: look once it is over. */
					io.net_dirty = true;
					io.net_check_at = daemon_now_ms() + NET_SETTLE_MS;
				}
				break;
			case 9:
				fastpath_seen_drain(io.fp, fp_seen, &io);
				break;
			case 8: {
				struct resolve_result res;
				int rd = resolver_read(io.dns, &res);
				if (rd == -1)
					break;
				io.dns_pending = false;
				if (rd == -2) {
					log_warn("%s: server names will not be resolved again", res.why);
					epoll_ctl(ep, EPOLL_CTL_DEL, io.dns, NULL);
					close(io.dns);
					io.dns = -1;
					break;
				}
				if (strcmp(res.why, io.dns_why)) /* once per new complaint */
					log_warn("ServerAddress: %s", res.why[0] ? res.why : "every name resolves again");
				memcpy(io.dns_why, res.why, sizeof io.dns_why);
				execute(&io, client_set_servers(&io.core, daemon_now_ms(), res.s, res.n, io.acts, ACTS));
				break;
			}
			case 4: {
				int k = udp_rx_batch(io.disc, &io.rx);
				now = daemon_now_ms();
				for (int j = 0; j < k; j++) {
					struct sw_endpoint src = udp_rx_src(&io.rx, j);
					bool on_link = ipv4_in_nets(io.core.nets, io.core.nnets, src.ip);
					execute(&io, client_discovery(&io.core, now, src, on_link, udp_rx_data(&io.rx, j),
								      udp_rx_len(&io.rx, j), io.acts, ACTS));
				}
				break;
			}
			}
		}
		now = daemon_now_ms();
		if (now >= next_tick) {
			execute(&io, client_tick(&io.core, now, io.acts, ACTS));
			next_tick = now + TICK_MS;
			fastpath_watch(&io.fps, now);
			/* C-19: say once that the server asks for a key we do not have. */
			if (io.core.stats.ra_new_key && !new_key_seen)
				log_warn("the server asks for a new key (RA confirmation byte); secure qualification is not used, so nothing changes");
			new_key_seen = io.core.stats.ra_new_key;
			if (io.core.stats.mapping_jumps && !jumps_seen)
				log_warn("the server reported a new mapping at two refreshes in a row: a NAT that renumbers "
					 "or a server that lies; the address follows at most once a refresh (counter mapping_jumps)");
			jumps_seen = io.core.stats.mapping_jumps;
			if (io.core.dormant != was_dormant)
				log_info(io.core.dormant ? "dormant: the host sent nothing for %u s; refreshes stop until it does"
							 : "awake: the host sent a packet; checking the mapping (%u s idle limit)",
					 io.core.cfg.dormant_idle_ms / 1000);
			was_dormant = io.core.dormant;
		}
		if (now >= next_nets) {
			refresh_nets(&io);
			next_nets = now + NETS_REFRESH_MS;
		}
		if (io.net_dirty && now >= io.net_check_at) {
			io.net_dirty = false;
			check_network(&io, now);
		}
		if (io.dns >= 0 && now >= io.next_resolve) {
			io.next_resolve = now + RESOLVE_EVERY_S * 1000ull;
			if (!io.dns_pending && resolver_ask(io.dns) == 0)
				io.dns_pending = true;
		}
	}
out:
	fastpath_close(io.fp, io.fps.janitor);
	/* RFC-independent hygiene: the address and routes leave with the daemon. */
	clear_address(&io);
	close(io.tun);
	nl_close(io.nl);
	unlink(opts->control);
	client_free(&io.core);
	udp_rx_free(&io.rx);
	return 0;
}
