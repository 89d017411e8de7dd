/* Interface set-up through rtnetlink (libmnl): no `ip` commands, no hook scripts. */
#ifndef SW_SYS_NETLINK_H
#define SW_SYS_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct nl;
struct nl *nl_open(void);
void nl_close(struct nl *n);

/* Each returns 0 or a negative errno. */
/* Bring a TUN up with its MTU (0: leave it) and a transmit queue of NL_TUN_TXQLEN. */
#define NL_TUN_TXQLEN 4096
int nl_link_up(struct nl *n, int ifindex, uint32_t mtu);
int nl_addr6(struct nl *n, bool add, int ifindex, const struct in6_addr *a, uint8_t plen);
int nl_route6(struct nl *n, bool add, int ifindex, const struct in6_addr *dst, uint8_t plen,
	      uint32_t metric);

/* Where the kernel would send to IPv4 `dst` (from `src` when non-zero): the source
 * address, gateway (0 when on-link) and interface. 0, or -ENETUNREACH (no route) or
 * another negative errno. */
struct nl_route4 {
	uint32_t src, gw;
	int oif;
};
int nl_route_get4(struct nl *n, uint32_t dst, uint32_t src, struct nl_route4 *r);

/* A socket that hears every IPv4 address, route and link change of the host (the
 * client follows its network, issue 11): its fd to poll, and a drain that reads what
 * is queued and returns how many messages came (a burst is one change to look at). */
struct nl *nl_monitor_open(void);
/* Mode auto (issue 11, RFC 4380 §5.5, C-70, H-02): does the host have native IPv6, a
 * global address (not tentative, deprecated or Teredo's 2001::/32) and a default route,
 * neither on interface skip_ifindex (the Teredo one)? 1, 0, or a negative errno.
 * `ipv6_too` also asks the monitor for IPv6 address and route changes. */
int nl_native_ipv6(struct nl *n, int skip_ifindex);
struct nl *nl_monitor_open6(void);
/* Link changes only (the relay watches its tunnel interface: a busy router's route
 * changes never wake it). */
struct nl *nl_monitor_open_link(void);
/* Read what a link monitor has queued: 1 when a message concerned ifindex (or some were
 * lost), else 0. */
int nl_drain_link(struct nl *n, int ifindex);
/* The kernel drops an interface's IPv6 addresses and routes when it goes down, and an
 * `ip link set up` brings none back: is the link up (its IFF_ flags, or -errno), does it
 * hold this address (1, 0, -errno), by which interface does the host route to dst (its
 * index, or -errno)? */
int nl_link_flags(struct nl *n, int ifindex);
/* The tunnel's link as `shipworm status` shows it: "up", "down" (taken down: nothing
 * crosses it) or "gone" (no such interface, or no answer). */
const char *nl_link_state(struct nl *n, int ifindex);
int nl_has_addr6(struct nl *n, int ifindex, const struct in6_addr *a);
int nl_route_oif6(struct nl *n, const struct in6_addr *dst);
int nl_fd(const struct nl *n);
int nl_drain(struct nl *n);

/* tc for the fast path (issue 10): add or remove the clsact qdisc (0, -EEXIST when the
 * interface has one), and attach (replacing ours) or remove a cls_bpf filter in
 * direct-action mode, by program descriptor, on ingress or egress, for the packets of
 * one protocol (ETH_P_IP, ETH_P_IPV6: host order). */
int nl_tc_clsact(struct nl *n, int ifindex, bool add);
int nl_tc_bpf_attach(struct nl *n, int ifindex, bool ingress, uint32_t handle, uint16_t prio, uint16_t proto,
		     int prog_fd, const char *name);
int nl_tc_bpf_detach(struct nl *n, int ifindex, bool ingress, uint32_t handle, uint16_t prio);
/* How many tc filters the interface's clsact qdisc holds, both ways (or -errno). */
int nl_tc_filters(struct nl *n, int ifindex);
/* Whether a tc filter on the hook runs the program with this id: 1, 0 (or -errno: no
 * clsact qdisc, for one). */
int nl_tc_prog_on(struct nl *n, int ifindex, bool ingress, uint32_t prog_id);
/* An interface's name by index (the sandbox refuses the ioctl if_indextoname uses). */
int nl_link_name(struct nl *n, int ifindex, char name[16]);
/* net.ipv6.conf.all.forwarding, the switch the kernel's IPv6 forwarding obeys: 1 on, 0
 * off, or -errno. */
int nl_ipv6_forwarding(struct nl *n);

#endif
