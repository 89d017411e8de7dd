#include "sys/relay_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/relay.h"
#include "sys/control.h"
#include "sys/fastpath.h"
#include "sys/log.h"
#include "sys/sandbox.h"
#include "sys/netlink.h"
#include "sys/status_fmt.h"
#include "sys/status_peers.h"
#include "sys/tun.h"
#include "sys/udp.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"

#define TICK_MS 200
#define LOCAL_REFRESH_MS 10000
#define TUN_ACTS 8
#define UDP_ACTS 32

struct relay_io {
	struct relay core;
	const struct sw_config *cfg;
	int udp[2], nudp, tun, ifindex; /* udp[1]: a host relay's second socket */
	uint16_t port2;                 /* its local port (network byte order) */
	uint64_t send_errors;
	struct udp_rx rx;
	struct udp_tx tx[2];
	struct sw_action tun_acts[TUN_SLOTS][TUN_ACTS];
	struct sw_action udp_acts[UDP_ACTS];
	struct tun_rx tunrx;
	struct tun_tx tuntx;
	uint32_t ipv4;   /* host relay: the host's IPv4 address Teredo leaves from */
	/* The kernel fast path (issue 10): io->fps.fp, or NULL and why not. */
	struct fastpath_start fps;
	struct fastpath *fp;
	uint16_t sports[2]; /* our UDP ports by core socket, network byte order */
	/* whether the kernel forwards IPv6, as last seen; nl is NULL for a host relay. */
	struct nl *nl;
	bool fwd_off;
	uint64_t next_fwd;
	/* The tunnel's link changes (nl_monitor_open_link) and the one netlink socket that
	 * looks at them (the relay's nl, or a host relay's own). */
	struct nl *mon, *look;
	bool link_down;
	uint64_t link_check_at; /* 0: nothing to look at */
	struct in6_addr pfx;
};

#define LINK_SETTLE_MS 300 /* a burst of link messages is one change to look at */

/* The tunnel taken down and up again (an operator's reset, an ifdown script): the kernel
 * dropped the Teredo prefix's route on the way down and brings it back with nothing.
 * Down, say so once; up again without the route, say why and stop with a failure
 * (returns 1), for systemd's Restart=on-failure or Mode auto's supervisor to start the
 * relay again with its route: after the privilege drop it cannot add one itself. */
static int watch_link(struct relay_io *io)
{
	io->link_check_at = 0;
	int flags = nl_link_flags(io->look, io->ifindex);
	if (flags < 0)
		return 0; /* deleted: the TUN's read says so */
	if (!(flags & IFF_UP)) {
		if (!io->link_down)
			log_warn("%s is down: nothing is relayed until it is up again", io->cfg->ifname);
		io->link_down = true;
		return 0;
	}
	io->link_down = false;
	if (nl_route_oif6(io->look, &io->pfx) == io->ifindex)
		return 0;
	char a[INET6_ADDRSTRLEN];
	log_err("%s is up without its route to %s/32 (the kernel drops it when the link goes down): "
		"stopping, to be started again with it", io->cfg->ifname, inet_ntop(AF_INET6, &io->pfx, a, sizeof a));
	return 1;
}

#define FORWARDING_WATCH_MS 10000

/* RFC 4380 §5.4: a relay forwards between native IPv6 and its tunnel, which the
 * kernel does only with net.ipv6.conf.all.forwarding on, the operator's switch (a host
 * relay forwards nothing and wants it off). Off, the relay still answers and bubbles
 * but nothing crosses it: say so at start and whenever it changes. */
static void watch_forwarding(struct relay_io *io, uint64_t now, bool start)
{
	if (!io->nl || (!start && now < io->next_fwd))
		return;
	io->next_fwd = now + FORWARDING_WATCH_MS;
	int on = nl_ipv6_forwarding(io->nl);
	if (on < 0)
		return;
	if (!on && (start || !io->fwd_off))
		log_warn("IPv6 forwarding is off (net.ipv6.conf.all.forwarding = 0): clients and native hosts reach "
			 "the relay, but nothing crosses it until it is on");
	else if (on && io->fwd_off)
		log_info("IPv6 forwarding is on: relaying");
	io->fwd_off = !on;
}

/* The IPv4 interface the fast path takes Teredo from and sends it by: the one holding
 * BindAddress, else the first with a global address, else the first with any (a host
 * relay behind a NAT). Its address is the source of what the kernel encapsulates. */
static int fp_interface(const struct sw_config *cfg, uint32_t *addr, char *name)
{
	struct ifaddrs *ifa, *i;
	int idx = 0;
	uint32_t best = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		uint32_t a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		bool better = cfg->bind_address ? a == cfg->bind_address
						: !best || (!ipv4_is_global_unicast(best) && ipv4_is_global_unicast(a));
		if (better) {
			best = a;
			idx = (int)if_nametoindex(i->ifa_name);
			snprintf(name, IF_NAMESIZE, "%s", i->ifa_name);
		}
	}
	freeifaddrs(ifa);
	*addr = best;
	return idx;
}

/* The trust journal into the kernel's map, after every call into the core. */
static void fp_sync(struct relay_io *io)
{
	if (io->fp && trust_log_pending(&io->core.trust))
		fastpath_apply(io->fp, &io->core.trust, io->sports, (unsigned)io->nudp);
}

/* The relays keep no state of what they send (teredo_out reports sends to a client's
 * core only: sent is always 0 here). */
static void fp_seen(void *ctx, const struct in6_addr *a, uint64_t at, uint32_t pkts, uint64_t sent)
{
	struct relay_io *io = ctx;
	relay_peer_seen(&io->core, a, at, pkts);
}

/* H-01, H-05: the host's own global, non-Teredo IPv6 addresses; and, for the status,
 * its IPv4 address (a private one means a NAT stands between it and its clients). */
static void refresh_local(struct relay_io *io)
{
	struct in6_addr addrs[RELAY_LOCAL_MAX];
	unsigned n = 0;
	uint32_t v4 = 0;
	struct ifaddrs *ifa, *i;
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			uint32_t a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
			/* The bound address if there is one, else a global one before others. */
			if (io->cfg->bind_address ? a == io->cfg->bind_address
						  : !v4 || (!ipv4_is_global_unicast(v4) && ipv4_is_global_unicast(a)))
				v4 = a;
			continue;
		}
		if (i->ifa_addr->sa_family != AF_INET6 || n >= RELAY_LOCAL_MAX)
			continue;
		const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		if (in6_is_global_scope(a) && !teredo_addr_has_prefix(a, io->cfg->prefix))
			addrs[n++] = *a;
	}
	freeifaddrs(ifa);
	relay_set_local(&io->core, addrs, n);
	io->ipv4 = v4;
}

/* Send the queued UDP datagrams in one batch. */
static void flush(void *ctx)
{
	struct relay_io *io = ctx;
	for (int s = 0; s < io->nudp; s++)
		io->send_errors += (uint64_t)udp_tx_flush(io->udp[s], &io->tx[s]);
	io->send_errors += (uint64_t)tun_tx_flush(io->tun, &io->tunrx, &io->tuntx);
}

/* Carry out actions; UDP datagrams are only queued (flush() sends them). */
static void execute(struct relay_io *io, struct sw_action *acts, int n)
{
	fp_sync(io);
	for (int i = 0; i < n; i++) {
		struct sw_action *a = &acts[i];
		if (a->kind == SW_ACT_UDP) {
			struct udp_tx *tx = &io->tx[a->sock < io->nudp ? a->sock : 0];
			udp_tx_add(tx, a);
			if (tx->n == UDP_BATCH)
				flush(io);
		} else if (a->kind == SW_ACT_TUN) {
			struct iovec v[2] = { { a->hdr, a->hdr_len }, { (void *)a->body, a->body_len } };
			io->send_errors += (uint64_t)tun_tx_add(io->tun, &io->tunrx, &io->tuntx, v, 2);
		}
	}
}

static void tun_packet(void *ctx, int k, uint8_t *pkt, size_t len, uint64_t now)
{
	struct relay_io *io = ctx;
	execute(io, io->tun_acts[k], relay_tun(&io->core, now, pkt, len, io->tun_acts[k], TUN_ACTS));
}

static size_t answer(void *ctx, const struct control_req *req, char *out, size_t cap)
{
	struct relay_io *io = ctx;
	const struct relay *r = &io->core;
	bool json = req->json;
	if (req->verb == CTL_PEERS)
		return status_peers(&r->peers, r->cfg.prefix, daemon_now_ms(), req->from, json, out, cap);
	if (req->verb == CTL_PEER) {
		struct peer_kernel k;
		return status_peer(&io->core.peers, &req->addr, r->cfg.prefix, daemon_now_ms(),
				   fastpath_peer_kernel(io->fp, &req->addr, &k), json, out, cap);
	}
	struct status_out o;
	char a[INET6_ADDRSTRLEN + 8];
	struct in6_addr p6 = { 0 };
	put_be32(p6.s6_addr, r->cfg.prefix);
	st_begin(&o, out, cap, req->prom ? ST_PROM : json);
	st_daemon(&o, r->cfg.host_only ? "host-relay" : "relay", daemon_uptime_s());
	if (io->cfg->auto_reason[0])
		st_str(&o, "auto", io->cfg->auto_reason); /* Mode auto: why this role */
	inet_ntop(AF_INET6, &p6, a, sizeof a);
	strcat(a, "/32");
	st_str(&o, "prefix", a);
	st_str(&o, "interface", io->cfg->ifname);
	st_str(&o, "interface_link", nl_link_state(io->look, io->ifindex));
	st_str(&o, "bind", endpoint_str((struct sw_endpoint){ io->cfg->bind_address, htons(io->cfg->bind_port) }, a, sizeof a));
	if (io->nudp > 1)
		st_str(&o, "bind2", endpoint_str((struct sw_endpoint){ io->cfg->bind_address, io->port2 }, a, sizeof a));
	if (r->cfg.host_only) {
		st_arr_begin(&o, "local_addresses");
		for (unsigned i = 0; i < r->nlocal; i++)
			st_str(&o, NULL, inet_ntop(AF_INET6, &r->local[i], a, sizeof a));
		st_arr_end(&o);
		/* What the host relay knows of its own NAT: a private IPv4 address means
		 * one stands in front of it; direct bubbles open it toward each client. */
		st_str(&o, "ipv4", io->ipv4 ? inet_ntop(AF_INET, &io->ipv4, a, sizeof a) : "none");
		st_str(&o, "nat", !io->ipv4 ? "unknown" : ipv4_is_global_unicast(io->ipv4) ? "none" : "behind-nat");
	}
	st_bool(&o, "direct_bubbles", r->cfg.direct_bubbles);
	if (io->nl)
		st_bool(&o, "ipv6_forwarding", nl_ipv6_forwarding(io->nl) > 0);
	/* Issue 10: which path carries trusted traffic, and the programs' counters. */
	fastpath_status(&o, &io->fps);
	tun_status(&o, &io->tunrx);
	tun_tx_status(&o, &io->tuntx);
	udp_gso_status(&o, &io->tx[0], io->cfg->udp_offload);
	udp_gro_status(&o, &io->rx, io->fp != NULL, io->cfg->udp_offload);
	status_limits(&o, &r->peers, &r->pending);
	st_obj_begin(&o, "counters");
	const struct relay_stats *s = &r->stats;
	st_u64(&o, "from_udp", s->from_udp);
	st_u64(&o, "to_tun", s->to_tun);
	st_u64(&o, "from_tun", s->from_tun);
	st_u64(&o, "to_udp", s->to_udp);
	st_u64(&o, "bubbles_sent", s->bubbles_sent);
	st_u64(&o, "icmp_errors", s->icmp_errors);
	st_u64(&o, "icmp_errors_rate_limited", s->icmp_errors_limited);
	st_u64(&o, "send_errors", io->send_errors);
	tun_status_counters(&o, &io->tunrx);
	tun_tx_status_counters(&o, &io->tuntx);
	udp_gso_status_counters(&o, io->tx, io->nudp, NULL, 0);
	udp_gro_status_counters(&o, &io->rx);
	if (io->fp)
		fastpath_status_counters(&o, io->fp, r->trust.lost);
	st_obj_end(&o);
	st_obj_begin(&o, "dropped");
	for (int i = 0; i < RL_DROP__COUNT; i++)
		st_u64(&o, relay_drop_name((enum relay_drop)i), s->dropped[i]);
	st_obj_end(&o);
	return st_end(&o);
}

int relay_io_run(const struct sw_config *cfg, const struct run_opts *opts)
{
	static struct relay_io io;
	/* Every page of the I/O state (batches, buffers: megabytes) is touched now, not by
	 * the first deep batch of a burst: the footprint at start is the footprint under
	 * load, and a flood costs no page faults. */
	memset(&io, 0, sizeof io);
	io.cfg = cfg;
	bool host = cfg->mode == MODE_HOST_RELAY;
	struct relay_config rc = {
		.prefix = cfg->prefix,
		.host_only = host,
		/* a restricted relay bubbles the client's mapping too. A host relay
		 * always does: behind "a private IPv4 address and a neighboring NAT" (the
		 * seed's home host) its own NAT drops the client's answer unless the host
		 * sent toward the client's mapping first, and on a public address it costs
		 * one small packet. */
		.direct_bubbles = host || cfg->relay_type == RT_RESTRICTED,
		.unknown_rate = cfg->relay_unknown_rate,
		.new_per_source = cfg->relay_new_per_source,
		.self = { .ip = cfg->bind_address, .port = htons(cfg->bind_port) },
		/* MaxPeers (docs/scaling.md: 156 bytes a peer); the packet pool stays at a
		 * quarter of the table, up to the default's 16,384 (21 MiB). */
		.peer_capacity = cfg->max_peers ? cfg->max_peers : host ? 4096 : 65536,
		.queue_pool = cfg->max_peers ? (cfg->max_peers / 4 < 16384 ? cfg->max_peers / 4 : 16384)
					     : host ? 1024 : 16384,
		.queue_per_peer = 16,
	};
	io.udp[0] = udp_open(cfg->bind_address, htons(cfg->bind_port), false);
	if (io.udp[0] < 0) {
		log_err("cannot bind UDP port %u (BindAddress/BindPort): %s%s", cfg->bind_port, strerror(errno),
			udp_bind_hint(errno));
		return 1;
	}
	io.nudp = 1;
	if (host) {
		/* A second mapping for the other order of bubbles (core/relay.c bubble_peer). */
		io.udp[1] = udp_open(cfg->bind_address, 0, false);
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		if (io.udp[1] < 0 || getsockname(io.udp[1], (struct sockaddr *)&sa, &sl) < 0) {
			log_err("cannot open a second UDP socket: %s", strerror(errno));
			return 1;
		}
		io.port2 = sa.sin_port;
		io.nudp = 2;
		rc.nsocks = 2;
	}
	/* Issue 10: one flow's packets to one client leave as UDP GSO rows. */
	for (int i = 0; i < 2; i++)
		udp_tx_gso(&io.tx[i], cfg->udp_offload);
	io.tun = tun_open(cfg->ifname, cfg->tun_offload, &io.ifindex, &io.tunrx);
	tun_tx_init(&io.tuntx, &io.tunrx, cfg->tun_offload);
	if (io.tun < 0) {
		log_err("cannot create tunnel interface %s: %s%s", cfg->ifname, strerror(errno), tun_in_use(errno));
		return 1;
	}
	struct nl *nl = nl_open();
	struct in6_addr pfx = { 0 };
	put_be32(pfx.s6_addr, cfg->prefix);
	int r;
	/* R-01 / H-01: the Teredo prefix is routed into the tunnel (announcing it further
	 * is the routing daemon's job; forwarding is the operator's choice). */
	if (!nl || (r = nl_link_up(nl, io.ifindex, cfg->mtu)) < 0 ||
	    (r = nl_route6(nl, true, io.ifindex, &pfx, 32, 0)) < 0) {
		log_err("cannot set up %s and its route: %s", cfg->ifname, nl ? strerror(-r) : strerror(errno));
		return 1;
	}
	io.pfx = pfx;
	io.mon = nl_monitor_open_link();
	if (!io.mon)
		log_warn("no link monitor (%s): %s taken down and up again will not be noticed", strerror(errno),
			 cfg->ifname);
	if (host) {
		io.look = nl; /* for watch_link only */
	} else {
		/* Kept for watch_forwarding (opened before the privilege drop); its first look
		 * is logged before the control socket exists, so before anyone asks. */
		io.nl = io.look = nl;
		watch_forwarding(&io, daemon_now_ms(), true);
	}
	struct control *ctl = control_open(opts->control, opts->control_gid);
	if (!ctl) {
		log_err("cannot create control socket %s: %s", opts->control, strerror(errno));
		return 1;
	}
	int sfd = daemon_signalfd();
	/* The fast path's janitor ends just before the daemon does: reaped by the kernel,
	 * not left a zombie for init to find. */
	signal(SIGCHLD, SIG_IGN);
	if (udp_rx_init(&io.rx) < 0 || sfd < 0 || relay_init(&io.core, &rc, daemon_random, NULL) < 0) {
		log_err("out of memory");
		return 1;
	}
	if (host)
		refresh_local(&io);
	const char *user = daemon_user(opts);
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		io.sports[0] = getsockname(io.udp[0], (struct sockaddr *)&sa, &sl) == 0 ? sa.sin_port : htons(cfg->bind_port);
		io.sports[1] = io.port2;
	}
	{
		/* FastPath (issue 10): in and out by the IPv4 interface fp_interface() picks. */
		char in_name[IF_NAMESIZE] = "";
		uint32_t self = 0;
		int in = fp_interface(cfg, &self, in_name);
		struct fp_config c = { .prefix = htonl(cfg->prefix), .self_ip = self, .port = io.sports[0],
				       .role = host ? FP_ROLE_HOST_RELAY : FP_ROLE_RELAY,
				       .tun_ifindex = (uint32_t)io.ifindex, .out_ifindex = (uint32_t)(in > 0 ? in : 0) };
		if (fastpath_start(&io.fps, cfg->fast_path, rc.peer_capacity, in, in_name, cfg->ifname, &c, user,
				   "no IPv4 interface for Teredo") < 0)
			return 1;
		io.fp = io.fps.fp;
	}
	if (io.fp) {
		relay_fast_path(&io.core);
		if (host)
			fastpath_set_locals(io.fp, io.core.local, io.core.nlocal);
	}
	/* Issue 10: rows in (UDP GRO) only where no ingress program reads the traffic first. */
	if (!io.fp && cfg->udp_offload)
		for (int i = 0; i < io.nudp; i++)
			(void)udp_rx_gro(io.udp[i], &io.rx);
	if (daemon_drop_privileges(user, io.fps.cap_bpf ? DROP_KEEP_BPF : 0) < 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return 1;
	}
	if (sandbox_enter(SANDBOX_RELAY) < 0) {
		log_err("cannot enter the seccomp sandbox: %s", strerror(errno));
		return 1;
	}
	int fds[] = { io.udp[0], io.tun, control_fd(ctl), sfd, io.nudp > 1 ? io.udp[1] : -1,
		      io.fp ? fastpath_seen_fd(io.fp) : -1, io.mon ? nl_fd(io.mon) : -1 };
	int ep = daemon_epoll(fds, 7);
	if (ep < 0) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	log_info("Teredo %s on UDP port %u, interface %s", host ? "host-specific relay" : "relay",
		 cfg->bind_port, cfg->ifname);
	daemon_ready();
	daemon_notify_ready(host ? "host relay serving" : "relay serving");
	uint64_t now = daemon_now_ms(), next_tick = now + TICK_MS, next_local = now + LOCAL_REFRESH_MS;

	int status = 0;
	for (;;) {
		now = daemon_now_ms();
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
			case 4: {
				uint8_t s = evs[i].data.u32 == 0 ? 0 : 1;
				for (int round = 0; round < 8; round++) {
					int k = udp_rx_batch(io.udp[s], &io.rx);
					now = daemon_now_ms();
					for (int j = 0; j < k; j++)
						execute(&io, io.udp_acts, relay_udp_on(&io.core, now, s, udp_rx_src(&io.rx, j), udp_rx_data(&io.rx, j),
										      udp_rx_len(&io.rx, j), io.udp_acts, UDP_ACTS));
					flush(&io);
					if (k < UDP_BATCH)
						break;
				}
				break;
			}
			case 1:
				if ((r = tun_drain(io.tun, &io.tunrx, tun_packet, flush, &io)) < 0) {
					tun_gone(cfg->ifname, r);
					status = 1;
					goto out;
				}
				break;
			case 2:
				control_serve(ctl, answer, &io);
				break;
			case 3:
				if (daemon_stop_requested(sfd))
					goto out;
				break;
			case 5:
				fastpath_seen_drain(io.fp, fp_seen, &io);
				break;
			case 6:
				if (nl_drain_link(io.mon, io.ifindex))
					io.link_check_at = daemon_now_ms() + LINK_SETTLE_MS;
				break;
			}
		}
		now = daemon_now_ms();
		if (now >= next_tick) {
			execute(&io, io.udp_acts, relay_tick(&io.core, now, io.udp_acts, UDP_ACTS));
			flush(&io);
			next_tick = now + TICK_MS;
			daemon_watchdog(now);
			fastpath_watch(&io.fps, now);
			if (io.link_check_at && now >= io.link_check_at && watch_link(&io)) {
				status = 1;
				goto out;
			}
			watch_forwarding(&io, now, false);
		}
		if (host && now >= next_local) {
			refresh_local(&io);
			if (io.fp)
				fastpath_set_locals(io.fp, io.core.local, io.core.nlocal);
			next_local = now + LOCAL_REFRESH_MS;
		}
	}
out:
	fastpath_close(io.fp, io.fps.janitor);
	close(io.tun); /* the interface and its route go with it */
	nl_close(io.look);
	nl_close(io.mon);
	unlink(opts->control);
	relay_free(&io.core);
	udp_rx_free(&io.rx);
	return status;
}
