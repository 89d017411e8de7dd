/* IPv6 header view and helpers (RFC 8200 §3), over possibly unaligned bytes. */
#ifndef SW_WIRE_IPV6_H
#define SW_WIRE_IPV6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define IPV6_HDR_LEN 40
#define IPPROTO_ICMPV6_ 58
#define IPV6_NH_NONE 59

static inline uint16_t ip6_plen(const uint8_t *ip6) { return get_be16(ip6 + 4); }
static inline uint8_t ip6_nh(const uint8_t *ip6) { return ip6[6]; }
static inline uint8_t ip6_hlim(const uint8_t *ip6) { return ip6[7]; }
static inline void ip6_src(const uint8_t *ip6, struct in6_addr *a) { memcpy(a, ip6 + 8, 16); }
static inline void ip6_dst(const uint8_t *ip6, struct in6_addr *a) { memcpy(a, ip6 + 24, 16); }

/* Write a 40-byte header: version 6, traffic class and flow label 0. */
void ip6_put_header(uint8_t *out, uint16_t plen, uint8_t nh, uint8_t hlim,
		    const struct in6_addr *src, const struct in6_addr *dst);

/* RFC 4380 §2.8 (P-13): a bubble is an IPv6 header alone, next header 59, payload 0.
 * (RFC 6081 trailers travel after it in the UDP payload, not inside it.) */
static inline bool ip6_is_bubble(const uint8_t *ip6, size_t ip6_len)
{
	return ip6_len == IPV6_HDR_LEN && ip6_nh(ip6) == IPV6_NH_NONE;
}

/* The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header and msg; the checksum
 * field inside msg is included as it is, so a valid message sums to 0. */
uint16_t icmp6_checksum(const struct in6_addr *src, const struct in6_addr *dst,
			const uint8_t *msg, size_t len);

static inline bool in6_is_linklocal(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}
static inline bool in6_is_multicast(const struct in6_addr *a) { return a->s6_addr[0] == 0xff; }
/* Global scope as RFC 4380 §5.3.1 (S-11) needs it: not link-local, not multicast below
 * global scope, not unspecified or loopback. */
/* The same over a message in two pieces (header built here, payload borrowed); the
 * first piece must have an even length. */
uint16_t icmp6_checksum2(const struct in6_addr *src, const struct in6_addr *dst,
			 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
bool in6_is_global_scope(const struct in6_addr *a);
/* ff02::2, all-routers link-local (RFC 4861 §4.1, P-19). */
bool in6_is_all_routers(const struct in6_addr *a);

#endif
