/* IPv4 address classification for Teredo. */
#ifndef SW_WIRE_IPV4_H
#define SW_WIRE_IPV4_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 4380 §5.2.4 (P-08): the "global unicast" test that every role applies before it
 * sends to, or trusts, an IPv4 address taken from a packet. ip in network byte order.
 * Directed broadcasts of attached subnets are left to the kernel: Teredo sockets never
 * set SO_BROADCAST, so Linux refuses to send to them (I-09). */
bool ipv4_is_global_unicast(uint32_t ip);

/* An IPv4 subnet the host is attached to: one of its own addresses and its netmask,
 * both in network byte order. */
struct ipv4_net {
	uint32_t addr, mask;
};
#define IPV4_NETS_MAX 16

/* Is ip inside one of the n subnets (and not the host's own address there)? The test
 * behind local discovery's on-link check (RFC 4380 §5.2.8, C-68) and the CVE-2006-6264
 * rule (SEC-22): a Teredo peer claiming a mapping inside the host's own subnets has not
 * proven it, since packets to it would bypass the NAT and any perimeter firewall. */
bool ipv4_in_nets(const struct ipv4_net *nets, unsigned n, uint32_t ip);

#endif
