/* What the client's Linux shell shares between its files (not for anyone else):
 * client_io.c (start, the event loop, carrying out the core's actions),
 * client_net.c (the host's side: address, routes, ClientHook, following the network),
 * client_status.c (what the control socket answers). Prefix cio_. */
#ifndef SW_SYS_CLIENT_IO_INT_H
#define SW_SYS_CLIENT_IO_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"
#include "core/client.h"
#include "sys/control_req.h"
#include "sys/fastpath.h"
#include "sys/netlink.h"
#include "sys/resolver.h"
#include "sys/tun.h"
#include "sys/udp.h"
#include "sys/upnp.h"

#define ACTS 64
/* Host packets handled per TUN wake-up: their UDP datagrams leave in one sendmmsg. */
#define TUN_ACTS 8

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
	/* systemd (Type=notify): READY=1 at the first address, or at ready_by without one
	 * (a laptop started offline must not time out and restart in a loop); after it,
	 * STATUS= at each change of what `shipworm status` calls the state. */
	bool ready;
	uint64_t ready_by;
	char told_state[32];
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

/* client_io.c: carry out n of io->acts and send what they queued. */
void cio_execute(struct client_io *io, int n);

/* client_status.c: the state as `shipworm status` names it. */
const char *cio_state_name(const struct client_io *io);

/* client_net.c */
void cio_set_address(struct client_io *io, const struct in6_addr *addr, uint32_t mtu);
void cio_clear_address(struct client_io *io);
void cio_refresh_nets(struct client_io *io);
void cio_check_network(struct client_io *io, uint64_t now);
int cio_discovery_open(uint32_t ifaddr);

/* client_status.c: the control socket's answer (control_serve's callback). */
size_t cio_answer(void *ctx, const struct control_req *req, char *out, size_t cap);

#endif
