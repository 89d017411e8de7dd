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

#endif
