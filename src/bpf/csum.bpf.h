/* One's-complement sums (RFC 1071) as every program verifies and writes them, on top of
 * bpf_csum_diff()'s running 32-bit form. */
#ifndef SW_BPF_CSUM_H
#define SW_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The running sum folded to 16 bits (a valid packet's is 0xffff; a checksum field takes
 * its complement). */
static __always_inline __u16 csum_fold16(__s64 sum)
{
	__u32 s = (__u32)sum;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __always_inline int sum_is_valid(__s64 sum)
{
	return sum >= 0 && csum_fold16(sum) == 0xffff;
}

/* The UDP over IPv4 pseudo-header's sum (RFC 768): addresses in network byte order. */
static __always_inline __s64 udp4_pseudo_sum(__u32 saddr, __u32 daddr, __u32 ulen)
{
	struct {
		__u32 s, d;
		__u8 zero, proto;
		__u16 len;
	} ph = { saddr, daddr, 0, IPPROTO_UDP, bpf_htons((__u16)ulen) };
	return bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof ph, 0);
}

/* The sum of n bytes at p (n a constant after inlining, the bounds checked by the
 * caller) added to s, in the same running form as bpf_csum_diff() (32-bit words as they
 * lie in memory), but added in line: the server's program sums a few fixed-size
 * headers per packet, where a helper call each cost more than the adding. An odd tail
 * is padded with zeros, as RFC 1071 pads it. */
static __always_inline __u64 sum_fixed(const void *p, const __u32 n, __u64 s)
{
	const __u8 *b = p;
#pragma unroll
	for (__u32 i = 0; i < n / 4; i++)
		s += *(const __u32 *)(b + 4 * i);
	if (n & 3) {
		__u32 t = 0;
		__u8 *tb = (__u8 *)&t;
		tb[0] = b[n & ~3u];
		if ((n & 3) > 1)
			tb[1] = b[(n & ~3u) + 1];
		if ((n & 3) > 2)
			tb[2] = b[(n & ~3u) + 2];
		s += t;
	}
	return s;
}

/* sum_fixed()'s 64-bit sum folded to 16 bits (a valid packet's is 0xffff). */
static __always_inline __u16 fold_fixed(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold16((__s64)s);
}

/* The UDP over IPv4 pseudo-header (RFC 768) in sum_fixed()'s form: the addresses, then
 * zero, the protocol and the length as they lie in memory. */
static __always_inline __u64 udp4_pseudo_fixed(__u32 saddr, __u32 daddr, __u32 ulen)
{
	return (__u64)saddr + daddr + bpf_htonl((IPPROTO_UDP << 16) | (ulen & 0xffff));
}

#endif
