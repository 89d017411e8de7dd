#include "icmpv6.h"

#include <string.h>

#include "ipv6.h"
#include "wire_err.h"

int icmp6_type(const uint8_t *ip6, size_t ip6_len)
{
	if (ip6_len < IPV6_HDR_LEN + 4 || ip6_nh(ip6) != IPPROTO_ICMPV6_)
		return -1;
	return ip6[IPV6_HDR_LEN];
}

static bool checksum_ok(const uint8_t *ip6, size_t ip6_len)
{
	struct in6_addr s, d;
	ip6_src(ip6, &s);
	ip6_dst(ip6, &d);
	return icmp6_checksum(&s, &d, ip6 + IPV6_HDR_LEN, ip6_len - IPV6_HDR_LEN) == 0;
}

/* RFC 4861 §6.1: every included option has a length greater than zero and fits. */
static bool options_ok(const uint8_t *opt, size_t len)
{
	while (len > 0) {
		if (len < 2 || opt[1] == 0 || (size_t)opt[1] * 8 > len)
			return false;
		len -= (size_t)opt[1] * 8;
		opt += (size_t)opt[1] * 8;
	}
	return true;
}

int icmp6_check_rs(const uint8_t *ip6, size_t ip6_len)
{
	if (icmp6_type(ip6, ip6_len) != ICMP6_RS || ip6_len < IPV6_HDR_LEN + 8)
		return WIRE_EICMP;
	const uint8_t *m = ip6 + IPV6_HDR_LEN;
	if (ip6_hlim(ip6) != ND_HOP_LIMIT || m[1] != 0)
		return WIRE_EICMP;
	if (!checksum_ok(ip6, ip6_len))
		return WIRE_ECHECKSUM;
	if (!options_ok(m + 8, ip6_len - IPV6_HDR_LEN - 8))
		return WIRE_EICMP;
	return WIRE_OK;
}

size_t ra_build(uint8_t *out, const struct ra_params *p)
{
	uint8_t *m = out + IPV6_HDR_LEN;
	size_t mlen = TEREDO_RA_LEN - IPV6_HDR_LEN;

	ip6_put_header(out, (uint16_t)mlen, IPPROTO_ICMPV6_, ND_HOP_LIMIT, &p->src, &p->dst);
	memset(m, 0, mlen);
	m[0] = ICMP6_RA;
	/* m[4] cur hop limit 0 (unspecified), m[5] flags 0, router lifetime 0: the server
	 * is no default router (the client routes by itself); reachable time 0. */
	put_be32(m + 12, 2000); /* retrans timer, as Miredo and Windows servers send */
	uint8_t *pio = m + 16;
	pio[0] = 3;
	pio[1] = 4;
	pio[2] = 64;
	pio[3] = 0x40; /* A: autonomous configuration */
	put_be32(pio + 4, 0xffffffffu);
	put_be32(pio + 8, 0xffffffffu);
	memcpy(pio + 16, &p->prefix, 8);
	uint8_t *mtu = pio + 32;
	mtu[0] = 5;
	mtu[1] = 1;
	put_be32(mtu + 4, p->mtu);
	put_be16(m + 2, icmp6_checksum(&p->src, &p->dst, m, mlen));
	return TEREDO_RA_LEN;
}

int ra_parse(const uint8_t *ip6, size_t ip6_len, struct ra_info *out)
{
	if (icmp6_type(ip6, ip6_len) != ICMP6_RA || ip6_len < IPV6_HDR_LEN + 16)
		return WIRE_EICMP;
	const uint8_t *m = ip6 + IPV6_HDR_LEN;
	ip6_src(ip6, &out->src);
	ip6_dst(ip6, &out->dst);
	if (!in6_is_linklocal(&out->src) || ip6_hlim(ip6) != ND_HOP_LIMIT || m[1] != 0)
		return WIRE_EICMP;
	if (!checksum_ok(ip6, ip6_len))
		return WIRE_ECHECKSUM;
	const uint8_t *opt = m + 16;
	size_t left = ip6_len - IPV6_HDR_LEN - 16;
	if (!options_ok(opt, left))
		return WIRE_EICMP;
	int prefixes = 0;
	out->mtu = 0;
	while (left > 0) {
		size_t olen = (size_t)opt[1] * 8;
		if (opt[0] == 3) {
			if (olen != 32)
				return WIRE_EICMP;
			prefixes++;
			out->prefix_len = opt[2];
			memcpy(&out->prefix, opt + 16, 16);
		} else if (opt[0] == 5 && olen == 8) {
			out->mtu = get_be32(opt + 4);
		}
		opt += olen;
		left -= olen;
	}
	/* RFC 4380 §5.2.1 (C-14): exactly one Prefix Information option. */
	return prefixes == 1 ? WIRE_OK : WIRE_EICMP;
}

size_t icmp6_build_echo(uint8_t *out, size_t cap, uint8_t type, uint8_t hlim,
			const struct in6_addr *src, const struct in6_addr *dst,
			uint16_t id, uint16_t seq, const uint8_t *data, size_t data_len)
{
	size_t mlen = 8 + data_len;
	if (cap < IPV6_HDR_LEN + mlen || mlen > 0xffff)
		return 0;
	uint8_t *m = out + IPV6_HDR_LEN;
	ip6_put_header(out, (uint16_t)mlen, IPPROTO_ICMPV6_, hlim, src, dst);
	m[0] = type;
	m[1] = 0;
	m[2] = m[3] = 0;
	put_be16(m + 4, id);
	put_be16(m + 6, seq);
	if (data_len)
		memcpy(m + 8, data, data_len);
	put_be16(m + 2, icmp6_checksum(src, dst, m, mlen));
	return IPV6_HDR_LEN + mlen;
}

size_t bubble_build(uint8_t *out, const struct in6_addr *src, const struct in6_addr *dst)
{
	ip6_put_header(out, 0, IPV6_NH_NONE, 255, src, dst);
	return IPV6_HDR_LEN;
}

size_t icmp6_error_header(uint8_t *out, uint8_t type, uint8_t code, const struct in6_addr *src,
			  const struct in6_addr *dst, const uint8_t *invoking, size_t inv_len)
{
	uint8_t *m = out + IPV6_HDR_LEN;
	ip6_put_header(out, (uint16_t)(8 + inv_len), IPPROTO_ICMPV6_, 255, src, dst);
	memset(m, 0, 8);
	m[0] = type;
	m[1] = code;
	put_be16(m + 2, icmp6_checksum2(src, dst, m, 8, invoking, inv_len));
	return ICMP6_ERROR_HDR_LEN;
}
