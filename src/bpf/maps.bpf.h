/* The maps both programs share (the loader gives the second program the first one's
 * descriptors), and the address rules they both mirror from src/wire/ipv6.c. */
#ifndef SW_BPF_MAPS_H
#define SW_BPF_MAPS_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/csum.bpf.h"
#include "bpf/fastpath.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* set by the loader to the core's peer table size */
	__type(key, __u8[16]);
	__type(value, struct fp_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_config);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_LOCAL_MAX);
	__type(key, __u8[16]);
	__type(value, __u8);
} locals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} seen SEC(".maps");

/* What a program returns for a packet it leaves alone (to the daemon, or not ours at
 * all): "no verdict", so that the next filter on the hook decides as if this one were
 * not there, and at the end of the hook the packet goes on as it came. TC_ACT_OK would
 * end the hook's classification: a filter the operator had on the interface at a later
 * priority (a policer, a drop rule, a counter) would never see a packet again. */
#define TC_NEXT TC_ACT_UNSPEC

/* IPv4 + UDP in front of a Teredo packet without headers. */
#define OUTER_LEN (sizeof(struct iphdr) + sizeof(struct udphdr)) /* 28 */

/* A header of the packet at `off` (below 128), copied to `*dst`: straight from the
 * skb's linear part, where drivers and veth put the headers (a helper call cost more
 * than all the checks of the header it reads), else through bpf_skb_load_bytes().
 * The mask only shows the verifier the bound every caller keeps. 0 or a negative errno. */
#define READ_HDR(skb, off, dst)                                                                    \
	({                                                                                         \
		__u32 o_ = (__u32)(off) & 0x7f;                                                    \
		void *d_ = (void *)(long)(skb)->data + o_, *e_ = (void *)(long)(skb)->data_end;    \
		int r_ = 0;                                                                        \
		if (d_ + sizeof *(dst) <= e_)                                                      \
			*(dst) = *(const __typeof__(*(dst)) *)d_;                                  \
		else                                                                               \
			r_ = bpf_skb_load_bytes(skb, o_, (dst), sizeof *(dst));                    \
		r_;                                                                                \
	})

/* Host relay (H-01, H-05): one of the host's own addresses. */
static __always_inline int host_address(const __u8 *a)
{
	__u8 key[16];
	__builtin_memcpy(key, a, 16);
	return bpf_map_lookup_elem(&locals, key) != 0;
}

static __always_inline void count_n(__u32 c, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &c);
	if (v)
		*v += n;
}

static __always_inline void count(__u32 c)
{
	count_n(c, 1);
}

/* A report of peer p (the record `seen`): `due` when one is due by FP_REPORT_NS, which
 * starts the count of packets heard from it again. The busy report's packets are counted
 * again by the next timed one (at most 32 too many, in a count that only ever needs to
 * reach 32). Counted without atomics: two CPUs may lose one; the core only needs "busy". */
static __always_inline void report_peer(struct fp_peer *p, const __u8 *addr, __u64 at, __u64 sent_at, __u32 pkts,
					__u32 units, int due)
{
	struct fp_seen *e = bpf_ringbuf_reserve(&seen, sizeof *e, 0);
	if (e) {
		__builtin_memcpy(e->addr, addr, 16);
		e->at = at;
		e->sent_at = sent_at;
		e->pkts = pkts;
		e->pad = 0;
		bpf_ringbuf_submit(e, 0);
	}
	if (due) {
		p->reported = units;
		p->pkts = 0;
	}
}

static __always_inline int report_due(const struct fp_peer *p, __u32 units)
{
	return (__u32)(units - p->reported) >= FP_REPORT_UNITS;
}

static __always_inline int has_prefix(const __u8 *a, __u32 prefix)
{
	return *(const __u32 *)a == prefix;
}

static __always_inline int is_linklocal(const __u8 *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* in6_is_global_scope() and not multicast (core/relay.c served()). */
static __always_inline int global_unicast6(const __u8 *a)
{
	const __u64 *w = (const __u64 *)a;
	if (w[0] == 0 && (w[1] == 0 || w[1] == bpf_cpu_to_be64(1)))
		return 0;
	if (a[0] == 0xff || is_linklocal(a))
		return 0;
	return !(a[0] == 0xfe && (a[1] & 0xc0) == 0xc0);
}

static __always_inline int same16(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	return x[0] == y[0] && x[1] == y[1];
}

/* The one's-complement sum of `len` bytes of the packet from `off`, added to `sum`
 * (bpf_csum_diff's running form); -1 when the packet is shorter or too long. */
#define SUM_CHUNK 256
static __always_inline __s64 sum_bytes(struct __sk_buff *skb, __u32 off, __u32 len, __s64 sum)
{
	__u8 buf[SUM_CHUNK];
	for (int i = 0; i < 7 && len; i++) { /* up to 1792 bytes: a Teredo MTU and more */
		if (len >= SUM_CHUNK) {
			if (bpf_skb_load_bytes(skb, off, buf, SUM_CHUNK) < 0)
				return -1;
			off += SUM_CHUNK;
			len -= SUM_CHUNK;
		} else {
			/* The tail, zero-padded: zeros add nothing, and an odd last byte is
			 * padded as RFC 1071 pads it. */
			__u64 n = len;
			/* 1..255 here, but the verifier must see the load's length within
			 * 1..SUM_CHUNK: 6.1's learns nothing from a test against zero (it
			 * refuses the load as a "zero-sized read"), so the bounds are made by
			 * arithmetic, where it sees them (clang would drop a plain mask it knows
			 * is redundant). The value is unchanged: ((len - 1) & 255) + 1 == len. */
			asm volatile("%[n] -= 1; %[n] &= 255; %[n] += 1" : [n] "+r"(n));
			__builtin_memset(buf, 0, sizeof buf);
			if (bpf_skb_load_bytes(skb, off, buf, n) < 0)
				return -1;
			len = 0;
		}
		sum = bpf_csum_diff(0, 0, (__be32 *)buf, SUM_CHUNK, (__wsum)sum);
		if (sum < 0)
			return -1;
	}
	return len ? -1 : sum;
}

#endif
