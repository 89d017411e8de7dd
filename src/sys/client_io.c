/* The Linux shell around core/client: start-up (sockets, TUN, helpers, fast path,
 * privilege drop), the event loop, and carrying out the core's actions. The host's
 * side is in client_net.c, the control socket's answers in client_status.c. */
#include "sys/client_io.h"
#include "sys/client_io_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sys/control.h"
#include "sys/log.h"
#include "sys/sandbox.h"

#define TICK_MS 200
/* systemd hears READY=1 at the first address, or after this without one: long enough for
 * a qualification with two lost RSs (RFC 4380 §5.2.1: 4 s apart), well within
 * systemd's 90 s start timeout, after which it would restart a client started offline
 * again and again. */
#define READY_MAX_MS 10000
#define NETS_REFRESH_MS 10000
#define NET_SETTLE_MS 300 /* rtnetlink: the end of a burst of changes */

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
			cio_set_address(io, &a->addr, a->mtu);
			fp_address(io, &a->addr);
			break;
		case SW_ACT_CLEAR_ADDR:
			log_warn("no Teredo connectivity until qualified again (%s)", client_cause_name(io->core.cause));
			cio_clear_address(io);
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

void cio_execute(struct client_io *io, int n)
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

/* The Teredo socket, the filtering probe's, the discovery socket; the core's view of
 * them in cc. */
static int open_sockets(struct client_io *io, const struct sw_config *cfg, struct client_config *cc)
{
	/* C-02, C-03: BindPort provisions the port (a port forward on the NAT); by default
	 * the kernel picks one at random, so that clients behind one NAT differ. Shared:
	 * with BindPort 3544, the discovery socket (224.0.0.253:3544) binds the port too. */
	io->udp = udp_open(cfg->bind_address, htons(cfg->bind_port), true);
	if (io->udp < 0) {
		log_err("cannot open the UDP socket (BindAddress/BindPort): %s%s", strerror(errno), udp_bind_hint(errno));
		return -1;
	}
	/* Discovery bubbles leave the service port (P-23) for the link only (C-67: TTL 1),
	 * and our own must not come back to us. */
	int ttl = 1, loop = 0;
	setsockopt(io->udp, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	setsockopt(io->udp, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
	if (cfg->bind_address) {
		struct in_addr ifa = { .s_addr = cfg->bind_address };
		setsockopt(io->udp, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa);
	}
	/* The filtering probe's socket (core/client_qualify.c probe_step): a second mapping. */
	io->probe = udp_open(cfg->bind_address, 0, false);
	if (io->probe < 0)
		log_warn("NAT filtering probe off: cannot open a second UDP socket: %s", strerror(errno));
	cc->nat_probe = io->probe >= 0;
	struct sockaddr_in own;
	socklen_t ol = sizeof own;
	if (getsockname(io->udp, (struct sockaddr *)&own, &ol) == 0)
		cc->local_port = own.sin_port;
	io->disc = -1;
	if (cfg->local_discovery) {
		io->disc = cio_discovery_open(cfg->bind_address);
		if (io->disc < 0)
			log_warn("local discovery off: cannot join 224.0.0.253: %s", strerror(errno));
	}
	cc->local_discovery = io->disc >= 0;
	return 0;
}

/* The helpers (forked before the sandbox, each dropping to user): server names are
 * resolved again later (issue 11), and the IGD is asked while we qualify (X-22: it
 * needs HTTP and multicast). And the rtnetlink monitor the network is followed by. */
static void start_helpers(struct client_io *io, const struct sw_config *cfg, const struct client_config *cc,
			  const char *user)
{
	io->dns = -1;
	if (resolver_has_names(cfg) && (io->dns = resolver_start(cfg, user)) < 0)
		log_warn("server names will not be resolved again: %s", strerror(errno));
	io->mon = nl_monitor_open();
	if (!io->mon)
		log_warn("network changes will not be followed: rtnetlink: %s", strerror(errno));
	io->upnp = -1;
	if (cc->upnp && cc->local_port) {
		io->upnp = upnp_start(cc->local_port, cfg->bind_address, user);
		if (io->upnp < 0)
			log_warn("UPnP off: cannot start its helper: %s", strerror(errno));
	}
	if (io->upnp < 0) {
		io->upnp_done = true;
		snprintf(io->upnp_why, sizeof io->upnp_why, "%s", cc->upnp ? "the helper did not start" : "UPnP no");
	}
}

/* FastPath (issue 10): in and out by the interface the route to the server leaves by,
 * from its source address and our Teredo port. */
static int start_fast_path(struct client_io *io, const struct sw_config *cfg, uint32_t peers, const char *user)
{
	struct nl_route4 rt = { 0 };
	int in = nl_route_get4(io->nl, io->core.cfg.server, cfg->bind_address, &rt) == 0 && rt.src ? rt.oif : 0;
	char in_name[IF_NAMESIZE + 16];
	if (in <= 0 || !if_indextoname((unsigned)in, in_name))
		snprintf(in_name, sizeof in_name, "interface %d", in);
	io->fpc = (struct fp_config){ .prefix = htonl(io->core.cfg.prefix), .self_ip = rt.src,
				      .port = io->core.cfg.local_port, .role = FP_ROLE_CLIENT,
				      .tun_ifindex = (uint32_t)io->ifindex, .out_ifindex = (uint32_t)(in > 0 ? in : 0) };
	if (fastpath_start(&io->fps, cfg->fast_path, peers, in, in_name, cfg->ifname, &io->fpc, user,
			   "no IPv4 route to the server") < 0)
		return -1;
	io->fp = io->fps.fp;
	if (io->fp)
		client_fast_path(&io->core);
	return 0;
}

/* Datagrams on one of our sockets (sock: the core's number for it), a batch at a time,
 * at most rounds batches while they come full. */
static void on_udp(struct client_io *io, int fd, uint8_t sock, int rounds)
{
	for (int round = 0; round < rounds; round++) {
		int k = udp_rx_batch(fd, &io->rx);
		uint64_t now = daemon_now_ms();
		for (int j = 0; j < k; j++)
			execute_rx(io, client_udp_on(&io->core, now, sock, udp_rx_src(&io->rx, j), udp_rx_data(&io->rx, j),
						     udp_rx_len(&io->rx, j), io->acts, ACTS));
		flush(io);
		if (k < UDP_BATCH)
			break;
	}
}

/* Local discovery bubbles (RFC 4380 §5.2.8), with whether each came from our link. */
static void on_discovery(struct client_io *io)
{
	int k = udp_rx_batch(io->disc, &io->rx);
	uint64_t now = daemon_now_ms();
	for (int j = 0; j < k; j++) {
		struct sw_endpoint src = udp_rx_src(&io->rx, j);
		bool on_link = ipv4_in_nets(io->core.nets, io->core.nnets, src.ip);
		cio_execute(io, client_discovery(&io->core, now, src, on_link, udp_rx_data(&io->rx, j),
						 udp_rx_len(&io->rx, j), io->acts, ACTS));
	}
}

/* The UPnP helper's one answer (RFC 6081 §5.3). */
static void on_upnp(struct client_io *io)
{
	struct upnp_result ur;
	if (upnp_read(io->upnp, &ur) < 0)
		return;
	/* The socket stays open (closing it removes the mapping) but leaves the loop. */
	epoll_ctl(io->ep, EPOLL_CTL_DEL, io->upnp, NULL);
	if (!ur.ext_ip) {
		close(io->upnp);
		io->upnp = -1;
	}
	client_upnp(&io->core, ur.ext_ip, ur.ext_port);
	fp_sync(io); /* X-26 may start or stop for trusted peers */
	io->upnp_done = true;
	memcpy(io->upnp_why, ur.why, sizeof io->upnp_why);
	log_info("UPnP: %s", ur.why);
}

/* The resolver helper's answer: the servers' addresses again (issue 11). */
static void on_resolver(struct client_io *io)
{
	struct resolve_result res;
	int rd = resolver_read(io->dns, &res);
	if (rd == -1)
		return;
	io->dns_pending = false;
	if (rd == -2) {
		log_warn("%s: server names will not be resolved again", res.why);
		epoll_ctl(io->ep, EPOLL_CTL_DEL, io->dns, NULL);
		close(io->dns);
		io->dns = -1;
		return;
	}
	if (strcmp(res.why, io->dns_why)) /* once per new complaint */
		log_warn("ServerAddress: %s", res.why[0] ? res.why : "every name resolves again");
	memcpy(io->dns_why, res.why, sizeof io->dns_why);
	cio_execute(io, client_set_servers(&io->core, daemon_now_ms(), res.s, res.n, io->acts, ACTS));
}

/* What the log says once about the core's state, compared with the last tick's. */
struct told {
	uint64_t new_key, jumps;
	bool dormant;
};

/* systemd's view (Type=notify): ready at the first address or, without one, at
 * ready_by; then the state whenever it changes. */
static void tell_systemd(struct client_io *io, uint64_t now)
{
	const char *state = cio_state_name(io);
	char st[INET6_ADDRSTRLEN + 48];
	if (!io->ready) {
		if (now < io->ready_by)
			return;
		snprintf(st, sizeof st, "not qualified yet: %s", state);
		daemon_notify_ready(st);
		io->ready = true;
	} else if (strcmp(state, io->told_state)) {
		char a[INET6_ADDRSTRLEN] = "";
		if (io->addr_set)
			inet_ntop(AF_INET6, &io->addr, a, sizeof a);
		snprintf(st, sizeof st, "%s%s%s", state, a[0] ? ": " : "", a);
		daemon_notify_status(st);
	}
	snprintf(io->told_state, sizeof io->told_state, "%s", state);
}

static void tick(struct client_io *io, uint64_t now, struct told *t)
{
	cio_execute(io, client_tick(&io->core, now, io->acts, ACTS));
	fastpath_watch(&io->fps, now);
	tell_systemd(io, now);
	const struct client *c = &io->core;
	/* C-19: say once that the server asks for a key we do not have. */
	if (c->stats.ra_new_key && !t->new_key)
		log_warn("the server asks for a new key (RA confirmation byte); secure qualification is not used, so nothing changes");
	t->new_key = c->stats.ra_new_key;
	if (c->stats.mapping_jumps && !t->jumps)
		log_warn("the server reported a new mapping at two refreshes in a row: a NAT that renumbers "
			 "or a server that lies; the address follows at most once a refresh (counter mapping_jumps)");
	t->jumps = c->stats.mapping_jumps;
	if (c->dormant != t->dormant)
		log_info(c->dormant ? "dormant: the host sent nothing for %u s; refreshes stop until it does"
				    : "awake: the host sent a packet; checking the mapping (%u s idle limit)",
			 c->cfg.dormant_idle_ms / 1000);
	t->dormant = c->dormant;
}

/* epoll ids: the order of the descriptors given to daemon_epoll (random ports:
 * EV_RPORT + i). */
enum { EV_UDP, EV_TUN, EV_CTL, EV_SIG, EV_DISC, EV_PROBE, EV_UPNP, EV_MON, EV_DNS, EV_SEEN, EV__COUNT };

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
	if (open_sockets(&io, cfg, &cc) < 0)
		return 1;
	cc.symmetric_nat = cfg->symmetric_nat;
	cc.load_reduction = cfg->load_reduction;
	cc.hairpinning = cfg->hairpinning;
	cc.port_preserving_nat = cfg->port_preserving_nat;
	cc.sequential_nat = cfg->sequential_nat;
	/* RFC 6081's six extensions, each on by default, none negotiated (X-02: a
	 * peer without one skips its trailers). Their dependencies: §5.4 needs §5.2,
	 * §5.5 both (X-40, client_int.h), §5.3 needs §5.2; §5.6 takes the same
	 * mapping and stands alone, as does §5.7. */
	cc.random_ports = cfg->symmetric_nat && cfg->port_preserving_nat ? CLIENT_RANDOM_PORTS : 0;
	cc.upnp = cfg->upnp && (cfg->symmetric_nat || cfg->hairpinning);
	/* Issue 10: a TCP stream's segments to one peer leave as UDP GSO rows. */
	udp_tx_gso(&io.tx, cfg->udp_offload);
	for (unsigned i = 0; i < CLIENT_RANDOM_PORTS; i++)
		udp_tx_gso(&io.rtx[i], cfg->udp_offload);
	io.tun = tun_open(cfg->ifname, cfg->tun_offload, &io.ifindex, &io.tunrx);
	tun_tx_init(&io.tuntx, &io.tunrx, cfg->tun_offload);
	if (io.tun < 0) {
		log_err("cannot create tunnel interface %s: %s%s", cfg->ifname, strerror(errno), tun_in_use(errno));
		return 1;
	}
	io.nl = nl_open();
	if (!io.nl) {
		log_err("netlink: %s", strerror(errno));
		return 1;
	}
	nl_link_up(io.nl, io.ifindex, cfg->mtu);
	struct control *ctl = control_open(opts->control, opts->control_gid);
	if (!ctl) {
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
	start_helpers(&io, cfg, &cc, user);
	if (start_fast_path(&io, cfg, cc.peer_capacity, user) < 0)
		return 1;
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

	int fds[EV__COUNT] = { [EV_UDP] = io.udp, [EV_TUN] = io.tun, [EV_CTL] = control_fd(ctl), [EV_SIG] = sfd,
			       [EV_DISC] = io.disc, [EV_PROBE] = io.probe, [EV_UPNP] = io.upnp,
			       [EV_MON] = io.mon ? nl_fd(io.mon) : -1, [EV_DNS] = io.dns,
			       [EV_SEEN] = io.fp ? fastpath_seen_fd(io.fp) : -1 };
	io.ep = daemon_epoll(fds, EV__COUNT);
	if (io.ep < 0) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < CLIENT_RANDOM_PORTS; i++)
		io.rport[i] = -1;
	for (unsigned i = 0; i < cc.random_ports; i++)
		rport_open(&io, i);
	char a[INET_ADDRSTRLEN];
	log_info("Teredo client of %s on %s", inet_ntop(AF_INET, &cc.server, a, sizeof a), cfg->ifname);
	daemon_ready();
	cio_refresh_nets(&io);
	cio_execute(&io, client_set_servers(&io.core, daemon_now_ms(), rr.s, rr.n, io.acts, ACTS));
	io.route_server = io.core.cfg.server;
	io.have_route = nl_route_get4(io.nl, io.route_server, cfg->bind_address, &io.route) == 0;
	io.next_resolve = daemon_now_ms() + RESOLVE_EVERY_S * 1000ull;
	cio_execute(&io, client_start(&io.core, daemon_now_ms(), io.acts, ACTS));
	/* Started with no route to the server (a laptop booting offline): wait quietly for
	 * one, as when the route goes away later, rather than send RSs into the void. */
	if (io.route_server && !io.have_route) {
		log_info("no IPv4 route to the server yet; waiting for one");
		cio_execute(&io, client_network(&io.core, daemon_now_ms(), false, io.acts, ACTS));
	}
	uint64_t next_tick = daemon_now_ms() + TICK_MS, next_nets = daemon_now_ms() + NETS_REFRESH_MS;
	io.ready_by = daemon_now_ms() + READY_MAX_MS;
	struct told told = { 0 };

	int rc = 0, r;
	for (;;) {
		uint64_t now = daemon_now_ms();
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		struct epoll_event evs[8];
		int n = epoll_wait(io.ep, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_UDP:
				on_udp(&io, io.udp, 0, 8);
				break;
			case EV_TUN:
				if ((r = tun_drain(io.tun, &io.tunrx, tun_packet, flush, &io)) < 0) {
					tun_gone(cfg->ifname, r);
					rc = 1;
					goto out;
				}
				break;
			case EV_CTL:
				control_serve(ctl, cio_answer, &io);
				break;
			case EV_SIG:
				if (daemon_stop_requested(sfd))
					goto out;
				break;
			case EV_DISC:
				on_discovery(&io);
				break;
			case EV_PROBE:
				on_udp(&io, io.probe, 1, 1);
				break;
			case EV_UPNP:
				on_upnp(&io);
				break;
			case EV_MON:
				if (nl_drain(io.mon) && !io.net_dirty) {
					/* A change comes as a burst of messages: look once it is over. */
					io.net_dirty = true;
					io.net_check_at = daemon_now_ms() + NET_SETTLE_MS;
				}
				break;
			case EV_DNS:
				on_resolver(&io);
				break;
			case EV_SEEN:
				fastpath_seen_drain(io.fp, fp_seen, &io);
				break;
			default: {
				unsigned slot = evs[i].data.u32 - EV_RPORT;
				if (slot < cc.random_ports && io.rport[slot] >= 0)
					on_udp(&io, io.rport[slot], (uint8_t)(CLIENT_SOCK_RANDOM + slot), 1);
				break;
			}
			}
		}
		now = daemon_now_ms();
		if (now >= next_tick) {
			tick(&io, now, &told);
			next_tick = now + TICK_MS;
			daemon_watchdog(now);
		}
		if (now >= next_nets) {
			cio_refresh_nets(&io);
			next_nets = now + NETS_REFRESH_MS;
		}
		if (io.net_dirty && now >= io.net_check_at) {
			io.net_dirty = false;
			cio_check_network(&io, now);
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
	cio_clear_address(&io);
	close(io.tun);
	nl_close(io.nl);
	unlink(opts->control);
	client_free(&io.core);
	udp_rx_free(&io.rx);
	return rc;
}
