/* The client's side of the host (RFC 4380 §5.5): its Teredo address and default route on
 * the tunnel interface, the optional ClientHook, the host's IPv4 subnets, and following
 * the network the route to the server leaves by (issue 11); the discovery socket
 * (§5.2.8). */
#include "sys/client_io_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sys/daemon.h"
#include "sys/log.h"
#include "wire/teredo_addr.h"

/* Miredo's metric: native IPv6 routes (1024) keep priority (RFC 4380 §5.5, C-70). */
#define DEFAULT_ROUTE_METRIC 1029

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

/* The address (RFC 4380 §5.5) and the default route through the tunnel (C-70) off the
 * interface. */
static const struct in6_addr any6;

static void unconfigure(struct client_io *io)
{
	nl_route6(io->nl, false, io->ifindex, &any6, 0, DEFAULT_ROUTE_METRIC);
	nl_addr6(io->nl, false, io->ifindex, &io->addr, 32);
	io->addr_set = false;
}

void cio_clear_address(struct client_io *io)
{
	if (!io->addr_set)
		return;
	unconfigure(io);
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &io->addr, a, sizeof a);
	log_info("Teredo address %s removed", a);
	run_hook(io, "down", &io->addr);
}

void cio_set_address(struct client_io *io, const struct in6_addr *addr, uint32_t mtu)
{
	struct in6_addr old = io->addr_set ? io->addr : (struct in6_addr){ 0 };
	if (io->addr_set)
		unconfigure(io); /* replaced: no "down" in between, as Miredo */
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, addr, a, sizeof a);
	int r;
	/* The address with a /32, as Miredo sets it: all of 2001::/32 is on-link. */
	if ((r = nl_link_up(io->nl, io->ifindex, mtu)) < 0 ||
	    (r = nl_addr6(io->nl, true, io->ifindex, addr, 32)) < 0 ||
	    (r = nl_route6(io->nl, true, io->ifindex, &any6, 0, DEFAULT_ROUTE_METRIC)) < 0) {
		log_err("cannot configure %s on %s: %s", a, io->cfg->ifname, strerror(-r));
		return;
	}
	io->addr = *addr;
	io->addr_set = true;
	log_info("Teredo address %s, MTU %u, on %s", a, mtu, io->cfg->ifname);
	char st[INET6_ADDRSTRLEN + 16];
	snprintf(st, sizeof st, "qualified: %s", a);
	daemon_notify_ready(st); /* systemd: ready once there is an address */
	io->ready = true;
	snprintf(io->told_state, sizeof io->told_state, "%s", cio_state_name(io));
	run_hook(io, "up", &old);
}

/* The host's IPv4 subnets, for local discovery's on-link check (C-68) and the
 * CVE-2006-6264 rule (SEC-22); read at start and every NETS_REFRESH_MS. */
void cio_refresh_nets(struct client_io *io)
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
/* The tunnel taken down and up again (an operator's reset, an ifdown script): the kernel
 * dropped its address and route on the way down and brings neither back; the core still
 * counts itself qualified. Put them back once the link is up, and run the ClientHook
 * again; a link left down stays down (the operator's to lift). */
static void restore_tunnel(struct client_io *io)
{
	if (!io->addr_set)
		return;
	int flags = nl_link_flags(io->nl, io->ifindex);
	if (flags < 0 || !(flags & IFF_UP) || nl_has_addr6(io->nl, io->ifindex, &io->addr) != 0)
		return;
	int r;
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &io->addr, a, sizeof a);
	if ((r = nl_addr6(io->nl, true, io->ifindex, &io->addr, 32)) < 0 ||
	    (r = nl_route6(io->nl, true, io->ifindex, &any6, 0, DEFAULT_ROUTE_METRIC)) < 0)
		log_err("%s is up again without %s: cannot put it back: %s", io->cfg->ifname, a, strerror(-r));
	else {
		log_info("%s is up again: %s and the default route through it put back", io->cfg->ifname, a);
		/* What the hook added to the interface went down with it too: "up" again, as
		 * after a first qualification (no old address: it had none in between). */
		run_hook(io, "up", NULL);
	}
}

void cio_check_network(struct client_io *io, uint64_t now)
{
	restore_tunnel(io);
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
	cio_refresh_nets(io);
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
	cio_execute(io, client_network(&io->core, now, have, io->acts, ACTS));
}

/* The discovery socket (C-67): bound to the group, so that only datagrams sent to
 * 224.0.0.253 arrive on it (C-68 drops discovery bubbles sent to a unicast address). */
int cio_discovery_open(uint32_t ifaddr)
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
