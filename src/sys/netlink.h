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

#endif
