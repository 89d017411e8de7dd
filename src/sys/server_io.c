#include "sys/server_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/server.h"
#include "core/siphash.h"
#include "sys/control.h"
#include "sys/log.h"
#include "sys/sandbox.h"
#include "sys/status_fmt.h"
#include "sys/fastpath.h"
#include "sys/udp.h"
#include "wire/bytes.h"
#include "wire/teredo_addr.h"

_Static_assert(FPS_RS_BUCKETS == SERVER_RS_BUCKETS, "the XDP program and the core share the RA limit's buckets");

struct server_io {
	struct server core;
	int udp[2];  /* SERVER_SOCK_PRIMARY, SERVER_SOCK_SECONDARY */
	int raw6;    /* native IPv6 egress (S-12), -1 when unavailable */
	uint64_t send_errors;
	struct udp_rx rx;
	struct udp_tx tx[2];
	struct sw_action acts[UDP_BATCH];
	struct fastpath_srv_start fps; /* issue 10: XDP answers RSs and forwards bubbles */
};

static size_t status_answer(void *ctx, const struct control_req *req, char *out, size_t cap)
{
	struct server_io *io = ctx;
	const struct server *s = &io->core;
	bool json = req->json;
	if (req->verb != CTL_STATUS)
		return st_line(out, cap, "error: a server keeps no peers; it answers status only\n");

	struct status_out o;
	char a[INET_ADDRSTRLEN + 8], pfx[INET6_ADDRSTRLEN];
	struct in6_addr p6 = { 0 };
	put_be32(p6.s6_addr, s->cfg.prefix);
	inet_ntop(AF_INET6, &p6, pfx, sizeof pfx);
	strcat(pfx, "/32");

	st_begin(&o, out, cap, req->prom ? ST_PROM : json);
	st_daemon(&o, "server", daemon_uptime_s());
	st_str(&o, "primary", endpoint_str((struct sw_endpoint){ s->cfg.primary, htons(TEREDO_PORT) }, a, sizeof a));
	st_str(&o, "secondary", endpoint_str((struct sw_endpoint){ s->cfg.secondary, htons(TEREDO_PORT) }, a, sizeof a));
	st_str(&o, "prefix", pfx);
	st_u64(&o, "mtu", s->cfg.mtu);
	st_bool(&o, "ipv6_egress", s->cfg.ipv6_egress);
	st_str(&o, "fast_path", io->fps.why);
	if (io->fps.fs)
		st_bool(&o, "fast_path_keeps_cap_bpf", io->fps.cap_bpf);
	st_obj_begin(&o, "counters");
	st_u64(&o, "received", s->stats.received);
	st_u64(&o, "rs_answered", s->stats.rs_answered);
	st_u64(&o, "forwarded_udp", s->stats.forwarded_udp);
	st_u64(&o, "forwarded_ipv6", s->stats.forwarded_ipv6);
	st_u64(&o, "echo_answered", s->stats.echo_answered);
	st_u64(&o, "send_errors", io->send_errors);
	if (io->fps.fs) {
		/* The kernel's share: these never reach the daemon's counters above. */
		uint64_t c[FPS__COUNT];
		fastpath_srv_counters(io->fps.fs, c);
		for (int i = 0; i < FPS__COUNT; i++)
			st_u64(&o, fastpath_srv_counter_name((enum fps_counter)i), c[i]);
		fastpath_prog_status(&o, "fastpath", fastpath_srv_prog_fd(io->fps.fs));
	}
	st_obj_end(&o);
	st_obj_begin(&o, "dropped");
	for (int i = 0; i < SRV_DROP__COUNT; i++)
		st_u64(&o, server_drop_name((enum server_drop)i), s->stats.dropped[i]);
	st_obj_end(&o);
	return st_end(&o);
}

static void send_ipv6(struct server_io *io, const struct sw_action *a)
{
	/* IPPROTO_RAW implies IPV6_HDRINCL: the client's packet goes out as it is. */
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6 };
	memcpy(&dst.sin6_addr, a->body + 24, 16);
	if (sendto(io->raw6, a->body, a->body_len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof dst) < 0)
		io->send_errors++;
}

static void drain(struct server_io *io, int sock)
{
	/* Bounded per wake-up so that one busy socket cannot starve the other. */
	for (int round = 0; round < 8; round++) {
		int n = udp_rx_batch(io->udp[sock], &io->rx);
		if (n <= 0)
			break;
		uint64_t now = daemon_now_ms(); /* one clock read per batch */
		for (int i = 0; i < n; i++) {
			struct sw_action *a = &io->acts[i];
			if (server_handle(&io->core, now, sock, udp_rx_src(&io->rx, i), udp_rx_data(&io->rx, i),
					  udp_rx_len(&io->rx, i), a) != 1)
				continue;
			if (a->kind == SW_ACT_UDP)
				udp_tx_add(&io->tx[a->sock], a);
			else
				send_ipv6(io, a);
		}
		for (int k = 0; k < 2; k++)
			io->send_errors += (uint64_t)udp_tx_flush(io->udp[k], &io->tx[k]);
		if (n < UDP_BATCH)
			break;
	}
}

int server_io_run(const struct sw_config *cfg, const struct run_opts *opts)
{
	static struct server_io io;
	/* Every page of the I/O state (batches, buffers: megabytes) is touched now, not by
	 * the first deep batch of a burst: the footprint at start is the footprint under
	 * load, and a flood costs no page faults. */
	memset(&io, 0, sizeof io);
	char a1[INET_ADDRSTRLEN], a2[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &cfg->server_bind, a1, sizeof a1);
	inet_ntop(AF_INET, &cfg->server_bind2, a2, sizeof a2);

	io.udp[0] = udp_open(cfg->server_bind, htons(TEREDO_PORT), false);
	if (io.udp[0] < 0) {
		log_err("cannot bind UDP %s:%d (ServerBindAddress): %s%s", a1, TEREDO_PORT, strerror(errno),
			udp_bind_hint(errno));
		return 1;
	}
	io.udp[1] = udp_open(cfg->server_bind2, htons(TEREDO_PORT), false);
	if (io.udp[1] < 0) {
		log_err("cannot bind UDP %s:%d (the secondary address: ServerBindAddress2, "
			"by default ServerBindAddress + 1): %s%s", a2, TEREDO_PORT, strerror(errno), udp_bind_hint(errno));
		return 1;
	}
	io.raw6 = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
	if (io.raw6 < 0)
		log_warn("no raw IPv6 socket (%s): direct IPv6 connectivity tests of clients will not be forwarded",
			 strerror(errno));
	struct control *ctl = control_open(opts->control, opts->control_gid);
	if (!ctl) {
		log_err("cannot create control socket %s: %s", opts->control, strerror(errno));
		return 1;
	}
	int sfd = daemon_signalfd();
	if (udp_rx_init(&io.rx) < 0 || sfd < 0) {
		log_err("out of memory");
		return 1;
	}

	struct server_config sc = {
		.primary = cfg->server_bind,
		.secondary = cfg->server_bind2,
		.prefix = cfg->prefix,
		.mtu = cfg->mtu,
		.ipv6_egress = io.raw6 >= 0,
		.max_icmp_payload = cfg->max_icmp_payload,
		.rs_rate = cfg->max_rs_rate,
	};
	uint8_t key[16];
	daemon_random(NULL, key, sizeof key);
	server_init(&io.core, &sc, key);

	const char *user = daemon_user(opts);
	struct fps_config fc = {
		.primary = sc.primary,
		.secondary = sc.secondary,
		.prefix = htonl(sc.prefix),
		.rs_rate = sc.rs_rate,
		.key = { siphash_le64(key), siphash_le64(key + 8) },
		.on = 1,
	};
	server_ra_template(&io.core, fc.ra);
	if (fastpath_srv_start(&io.fps, cfg->fast_path, &fc, user) < 0)
		return 1;
	/* SEC-17: one RA limit for the program's answers and the daemon's. */
	if (io.fps.fs)
		server_share_rs_buckets(&io.core, fastpath_srv_rs_buckets(io.fps.fs));
	if (daemon_drop_privileges(user, io.fps.cap_bpf ? DROP_KEEP_BPF : 0) < 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return 1;
	}
	if (sandbox_enter(SANDBOX_SERVER) < 0) {
		log_err("cannot enter the seccomp sandbox: %s", strerror(errno));
		return 1;
	}

	int fds[] = { io.udp[0], io.udp[1], control_fd(ctl), sfd };
	int ep = daemon_epoll(fds, 4);
	if (ep < 0) {
		log_err("epoll: %s", strerror(errno));
		return 1;
	}
	log_info("Teredo server on %s and %s, UDP port %d", a1, a2, TEREDO_PORT);
	daemon_ready();
	daemon_notify_ready("serving");

	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, daemon_watchdog_wait(daemon_now_ms()));
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case 0:
			case 1:
				drain(&io, (int)evs[i].data.u32);
				break;
			case 2:
				control_serve(ctl, status_answer, &io);
				break;
			case 3:
				if (daemon_stop_requested(sfd)) {
					unlink(opts->control);
					fastpath_srv_close(io.fps.fs);
					return 0;
				}
				break;
			}
		}
		daemon_watchdog(daemon_now_ms());
	}
}
