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

#endif
