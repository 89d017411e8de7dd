/* IPv4 address classification for Teredo. */
#ifndef SW_WIRE_IPV4_H
#define SW_WIRE_IPV4_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 4380 §5.2.4 (P-08): the "global unicast" test that every role applies before it
 * sends to, or trusts, an IPv4 address taken from a packet. ip in network byte order.
 * Directed broadcasts of attached subnets are left to the kernel: Teredo sockets never
 * set SO_BROADCAST, so Linux refuses to send to them (I-09). */
static inline bool ipv4_is_global_unicast(uint32_t ip_net)
{
	/* Inline and free of libc: the server's XDP program (src/bpf/teredo_srv.bpf.c)
	 * applies this very test. */
	const uint8_t *b = (const uint8_t *)&ip_net;
	uint32_t ip = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return (ip & 0xff000000u) != 0x00000000u    /* 0.0.0.0/8 "this network" */
	       && (ip & 0xff000000u) != 0x0a000000u /* 10.0.0.0/8 private */
	       && (ip & 0xff000000u) != 0x7f000000u /* 127.0.0.0/8 loopback */
	       && (ip & 0xffff0000u) != 0xa9fe0000u /* 169.254.0.0/16 link-local */
	       && (ip & 0xfff00000u) != 0xac100000u /* 172.16.0.0/12 private */
	       && (ip & 0xffffff00u) != 0xc0586300u /* 192.88.99.0/24 6to4 anycast */
	       && (ip & 0xffff0000u) != 0xc0a80000u /* 192.168.0.0/16 private */
	       && (ip & 0xf0000000u) != 0xe0000000u /* 224.0.0.0/4 multicast */
	       && ip != 0xffffffffu;                /* limited broadcast */
}

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
