/* Packet builders shared by the unit tests. Each test file includes this once. */
#ifndef SW_TEST_HELPERS_H
#define SW_TEST_HELPERS_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"

static inline struct in6_addr A6(const char *s)
{
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static inline uint32_t A4(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static inline struct sw_endpoint EP(const char *ip, uint16_t port)
{
	return (struct sw_endpoint){ .ip = A4(ip), .port = htons(port) };
}

/* The Teredo address of a client of `server` mapped at ep, with flags. */
static inline struct in6_addr teredo_of(const char *server, struct sw_endpoint ep, uint16_t flags)
{
	struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = A4(server), .flags = flags, .mapped = ep };
	struct in6_addr a;
	teredo_addr_encode(&t, &a);
	return a;
}

/* An RS as a Teredo client sends it (RFC 4380 §5.2.1, C-12): optional nonce-only
 * authentication header, then the RS from src to ff02::2. Returns the length. */
static inline size_t make_rs(uint8_t *buf, const struct in6_addr *src, const uint8_t *nonce)
{
	size_t off = 0;
	if (nonce) {
		teredo_put_auth_nonce(buf, nonce, 0);
		off = TEREDO_AUTH_MIN_LEN;
	}
	struct in6_addr dst = A6("ff02::2");
	uint8_t *ip6 = buf + off;
	ip6_put_header(ip6, 8, 58, 255, src, &dst);
	uint8_t *m = ip6 + 40;
	memset(m, 0, 8);
	m[0] = ICMP6_RS;
	put_be16(m + 2, icmp6_checksum(src, &dst, m, 8));
	return off + 48;
}

static inline size_t make_bubble(uint8_t *buf, const struct in6_addr *src, const struct in6_addr *dst)
{
	return bubble_build(buf, src, dst);
}

static inline size_t make_echo(uint8_t *buf, size_t cap, const struct in6_addr *src,
			       const struct in6_addr *dst, size_t data_len)
{
	uint8_t data[2048] = { 0 };
	return icmp6_build_echo(buf, cap, ICMP6_ECHO_REQ, 64, src, dst, 1, 1, data, data_len);
}

#endif
