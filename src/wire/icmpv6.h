/* ICMPv6 messages Teredo uses: Router Solicitation and Advertisement (RFC 4861 §4.1,
 * §4.2, §4.6; P-19..P-21) and echo (RFC 4443 §4; P-22). Builders write a whole IPv6
 * packet into a caller buffer; checkers validate a whole IPv6 packet. */
#ifndef SW_WIRE_ICMPV6_H
#define SW_WIRE_ICMPV6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ICMP6_RS 133
#define ICMP6_RA 134
#define ICMP6_ECHO_REQ 128
#define ICMP6_ECHO_REP 129
#define ND_HOP_LIMIT 255

/* Length of the RA that ra_build writes: IPv6 header, RA header, PIO and MTU option. */
#define TEREDO_RA_LEN (40 + 16 + 32 + 8)

/* Validate an RS per RFC 4861 §6.1.1 (P-19): ICMPv6, hop limit 255, valid checksum,
 * code 0, ICMP length >= 8, no zero-length option. Returns WIRE_OK or a wire_err. */
int icmp6_check_rs(const uint8_t *ip6, size_t ip6_len);

/* The ICMPv6 type of ip6 if it is a single ICMPv6 message (next header 58 with at least
 * a 4-byte ICMPv6 header), else -1. Does not check the checksum. */
int icmp6_type(const uint8_t *ip6, size_t ip6_len);

struct ra_params {
	struct in6_addr src, dst;
	struct in6_addr prefix; /* the /64 advertised in the one Prefix Information option */
	uint32_t mtu;           /* 0: no MTU option */
};

/* Build the Teredo server's RA (RFC 4380 §5.3.2, S-16; Miredo's field values, I-04):
 * hop limit 255, router lifetime 0, retrans timer 2000 ms, one PIO /64 with A and
 * infinite lifetimes, one MTU option. Returns the length written (TEREDO_RA_LEN). */
size_t ra_build(uint8_t *out, const struct ra_params *p);

struct ra_info {
	struct in6_addr src, dst;
	struct in6_addr prefix;
	uint8_t prefix_len;
	uint32_t mtu; /* 0 when absent */
};

/* Validate an RA the way a Teredo client must (RFC 4861 §6.1.2, P-20; RFC 4380 §5.2.1,
 * C-14): link-local source, hop limit 255, checksum, code 0, length >= 16, no zero-length
 * option, exactly one Prefix Information option. */
int ra_parse(const uint8_t *ip6, size_t ip6_len, struct ra_info *out);

/* Build an echo request or reply; data may be NULL when data_len is 0. Returns the total
 * length, or 0 when cap is too small. */
size_t icmp6_build_echo(uint8_t *out, size_t cap, uint8_t type, uint8_t hlim,
			const struct in6_addr *src, const struct in6_addr *dst,
			uint16_t id, uint16_t seq, const uint8_t *data, size_t data_len);

#define ICMP6_DST_UNREACH 1
#define ICMP6_UNREACH_NO_ROUTE 0
#define ICMP6_UNREACH_ADDR 3
#define ICMP6_ERROR_HDR_LEN 48
/* The largest part of an invoking packet an error carries: the error must fit the IPv6
 * minimum MTU (RFC 4443 §2.4 (c)). */
#define ICMP6_ERROR_MAX_INVOKING (1280 - ICMP6_ERROR_HDR_LEN)

/* Write the IPv6 and ICMPv6 headers (48 bytes) of an error about `invoking` (whose first
 * `inv_len` bytes follow as the error's payload). Returns 48. */
size_t icmp6_error_header(uint8_t *out, uint8_t type, uint8_t code, const struct in6_addr *src,
			  const struct in6_addr *dst, const uint8_t *invoking, size_t inv_len);

/* Build a bubble (RFC 4380 §2.8, P-13): 40 bytes. */
size_t bubble_build(uint8_t *out, const struct in6_addr *src, const struct in6_addr *dst);

#endif
