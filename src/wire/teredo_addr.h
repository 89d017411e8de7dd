/* Teredo IPv6 addresses: RFC 4380 §4 layout with the RFC 5991 §3.1 flags (P-01, P-02). */
#ifndef SW_WIRE_TEREDO_ADDR_H
#define SW_WIRE_TEREDO_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"

#define TEREDO_PORT 3544
#define TEREDO_PREFIX_DEFAULT 0x20010000u /* 2001:0000::/32, host byte order */

/* Flag bits, RFC 5991 §3.1: C z R R R R U G R R R R R R R R (bit 0 = most significant). */
#define TEREDO_FLAG_CONE 0x8000u
#define TEREDO_FLAG_RESERVED 0x4000u
#define TEREDO_FLAG_UNIVERSAL 0x0200u
#define TEREDO_FLAG_GROUP 0x0100u
#define TEREDO_FLAG_RANDOM_MASK 0x3cffu /* Random1 (4 bits) and Random2 (8 bits) */

struct teredo_addr {
	uint32_t prefix;          /* host byte order, the top 32 bits */
	uint32_t server;          /* network byte order */
	uint16_t flags;           /* host byte order */
	struct sw_endpoint mapped; /* de-obfuscated, network byte order */
};

/* True when the top 32 bits of a equal prefix (host byte order). */
bool teredo_addr_has_prefix(const struct in6_addr *a, uint32_t prefix);
void teredo_addr_decode(const struct in6_addr *a, struct teredo_addr *out);
void teredo_addr_encode(const struct teredo_addr *in, struct in6_addr *out);

/* The random bits of RFC 5991 §3.1 (P-02) placed in otherwise-zero flags (C = 0, z = 0,
 * U = G = 0): rnd is 16 bits from a CSPRNG (P-05); only the mask is kept. */
static inline uint16_t teredo_flags_random(uint16_t rnd) { return rnd & TEREDO_FLAG_RANDOM_MASK; }

/* The server's link-local address, RFC 4380 §5.3.2 (P-07): fe80::/64 followed by the
 * Teredo interface identifier of its primary address and port 3544, with C = 1. */
void teredo_server_link_local(uint32_t server_ip, struct in6_addr *out);

#endif
