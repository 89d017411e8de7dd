#include "ipv6.h"

#include "csum.h"

#include <string.h>

void ip6_put_header(uint8_t *out, uint16_t plen, uint8_t nh, uint8_t hlim,
		    const struct in6_addr *src, const struct in6_addr *dst)
{
	out[0] = 0x60;
	out[1] = out[2] = out[3] = 0;
	put_be16(out + 4, plen);
	out[6] = nh;
	out[7] = hlim;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
}

uint16_t icmp6_checksum2(const struct in6_addr *src, const struct in6_addr *dst,
			 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint64_t acc = csum_ip6_pseudo(src->s6_addr, dst->s6_addr, (uint32_t)(alen + blen), IPPROTO_ICMPV6_);
	return csum_fold(csum_add(csum_add(acc, a, alen), b, blen));
}

uint16_t icmp6_checksum(const struct in6_addr *src, const struct in6_addr *dst,
			const uint8_t *msg, size_t len)
{
	return icmp6_checksum2(src, dst, msg, len, NULL, 0);
}

bool in6_is_global_scope(const struct in6_addr *a)
{
	static const struct in6_addr zero, loop = { .s6_addr = { [15] = 1 } };
	if (!memcmp(a, &zero, 16) || !memcmp(a, &loop, 16))
		return false;
	if (in6_is_linklocal(a))
		return false;
	if (in6_is_multicast(a))
		return (a->s6_addr[1] & 0x0f) == 0x0e;
	/* fec0::/10 site-local, deprecated but not global. */
	if (a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0xc0)
		return false;
	return true;
}

bool in6_is_all_routers(const struct in6_addr *a)
{
	static const struct in6_addr ff02_2 = { .s6_addr = { 0xff, 0x02, [15] = 2 } };
	return !memcmp(a, &ff02_2, 16);
}
