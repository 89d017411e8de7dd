/* The Teredo server's stateless answers in XDP (issue 10): the IPv4 interface that holds
 * the server's two addresses.
 *
 * Two things a server does need no state (RFC 4380 §5.3, SEC-19), so the NIC's receive
 * path can do them before the kernel builds a socket buffer:
 *  - a Router Solicitation gets its Router Advertisement (§5.3.2, S-15..S-20, with
 *    RFC 5991 §3.2), under the per-address RA limit of §7.3.5 (SEC-17);
 *  - a bubble to a Teredo client is forwarded to its mapping, with an origin indication
 *    for our own clients (§5.3.1, S-13, S-14).
 * Each accepts only the exact forms the core accepts and mirrors its checks in its
 * order (core/server.c server_handle). Anything else to a server address and port —
 * other sizes, authentication with an identifier, trailers, ICMPv6, bad checksums, no
 * neighbour for the answer yet — goes up to the daemon's socket untouched, where the
 * core decides and counts. The RA's bytes come from the core (ra_build, written into
 * the configuration map by the daemon); the RA limit's buckets and the address tests
 * are the core's inline functions, compiled here too. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/csum.bpf.h"
#include "bpf/fastpath.h"
#include "core/ratelimit.h"
#include "core/siphash.h"
#include "wire/ipv4.h"

char LICENSE[] SEC("license") = "GPL";

#define TEREDO_PORT 3544
#define AUTH_LEN 13   /* nonce-only authentication header (RFC 4380 §5.1.1) */
#define ORIGIN_LEN 8  /* origin indication */
#define IP6_LEN 40
#define RS_LEN 8      /* an RS without options */
#define AF_INET 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fps_config);
} srv_cfg SEC(".maps");

/* The RA limit's buckets, one word each (ratelimit_take_word), mapped into the daemon's
 * memory as well: the daemon answers the RS forms this program leaves to it under the
 * same limit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FPS_RS_BUCKETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, uint64_t);
} srv_limit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FPS__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} srv_stats SEC(".maps");

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&srv_stats, &c);
	if (v)
		*v += 1;
}

static __always_inline int pass(void)
{
	count(FPS_PASS);
	return XDP_PASS;
}

/* The UDP checksum of a datagram as the socket would check it: none (zero) is
 * accepted on IPv4. ulen is a constant on every path here, the bytes checked. */
static __always_inline int udp_ok(const struct iphdr *ip, const struct udphdr *udp, const __u32 ulen)
{
	if (!udp->check)
		return 1;
	return fold_fixed(sum_fixed(udp, ulen, udp4_pseudo_fixed(ip->saddr, ip->daddr, ulen))) == 0xffff;
}

static __always_inline int is_own(const struct fps_config *c, __u32 ip)
{
	return ip == c->primary || ip == c->secondary;
}

/* Where a forwarded bubble leaves: the route and neighbour the kernel would use for the
 * daemon's own datagram, restricted to the interface it came in by. The kernel answers
 * such a lookup only where IPv4 forwarding is on for the interface; elsewhere, or
 * without a route or a neighbour entry yet, the daemon forwards it instead. */
static __always_inline int route(struct xdp_md *ctx, __u32 src, __u32 dst, __u16 dport, __u16 tot,
				 struct bpf_fib_lookup *f)
{
	__builtin_memset(f, 0, sizeof *f);
	f->family = AF_INET;
	f->l4_protocol = IPPROTO_UDP;
	f->sport = bpf_htons(TEREDO_PORT);
	f->dport = dport;
	f->tot_len = tot; /* host byte order */
	f->ipv4_src = src;
	f->ipv4_dst = dst;
	f->ifindex = ctx->ingress_ifindex;
	return bpf_fib_lookup(ctx, f, sizeof *f, BPF_FIB_LOOKUP_OUTPUT) == BPF_FIB_LKUP_RET_SUCCESS;
}

/* Ethernet, IPv4 and UDP headers of an answer from src:3544, checksums included (the
 * UDP one over `ulen` bytes from the UDP header). */
static __always_inline void put_headers(void *data, const struct bpf_fib_lookup *f, __u32 src, __u32 dst,
					__u16 dport, __u16 ulen)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__builtin_memcpy(eth->h_dest, f->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, f->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0;
	ip->tot_len = bpf_htons(sizeof *ip + ulen);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* DF, as the daemon's sockets send */
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = ~fold_fixed(sum_fixed(ip, sizeof *ip, 0));
	udp->source = bpf_htons(TEREDO_PORT);
	udp->dest = dport;
	udp->len = bpf_htons(ulen);
	udp->check = 0;
	__u16 c = ~fold_fixed(sum_fixed(udp, ulen, udp4_pseudo_fixed(src, dst, ulen)));
	udp->check = c ? c : 0xffff;
}


static __always_inline void put_origin(__u8 *o, __u32 ip, __u16 port)
{
	o[0] = 0;
	o[1] = 0;
	*(__u16 *)(o + 2) = ~port;
	*(__u32 *)(o + 4) = ~ip;
}

/* RFC 4380 §5.3.2 (S-15..S-20): an RS, with or without a nonce-only authentication
 * header, gets the core's RA with the client's mapping in an origin indication. */
static __always_inline int answer_rs(struct xdp_md *ctx, const struct fps_config *c, const __u32 plen)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(ip + 1);
	__u8 *p = (void *)(udp + 1);
	__u32 auth = plen == AUTH_LEN + IP6_LEN + RS_LEN ? AUTH_LEN : 0;
	__u8 nonce[8] = { 0 };
	if (auth) {
		if ((void *)p + AUTH_LEN + IP6_LEN + RS_LEN > end)
			return pass();
		/* Only a nonce-only header (ID-len and AU-len 0) is answered here. */
		if (p[2] || p[3])
			return pass();
		__builtin_memcpy(nonce, p + 4, 8);
	}
	__u8 *ip6 = p + auth;
	if ((void *)ip6 + IP6_LEN + RS_LEN > end)
		return pass();
	__u8 *m = ip6 + IP6_LEN;
	/* S-06, S-20 (RFC 4861 §6.1.1): from a link-local source to ff02::2, hop limit 255,
	 * type 133 code 0, no options here, a valid checksum. */
	if (ip6[4] != 0 || ip6[5] != RS_LEN || ip6[6] != 58 || ip6[7] != 255)
		return pass();
	if (!(ip6[8] == 0xfe && (ip6[9] & 0xc0) == 0x80))
		return pass();
	const __u32 *d = (const __u32 *)(ip6 + 24);
	if (d[0] != bpf_htonl(0xff020000) || d[1] || d[2] || d[3] != bpf_htonl(2))
		return pass();
	if (m[0] != 133 || m[1] != 0)
		return pass();
	/* The pseudo-header (RFC 8200 §8.1): both addresses as they lie in the packet,
	 * then the length and next header. */
	__u64 s = sum_fixed(ip6 + 8, 32, (__u64)bpf_htonl(RS_LEN) + bpf_htonl(58));
	if (fold_fixed(sum_fixed(m, RS_LEN, s)) != 0xffff)
		return pass();
	if (!udp_ok(ip, udp, sizeof *udp + plen))
		return pass();

	__u32 cip = ip->saddr, to = ip->daddr;
	__u16 cport = udp->source;
	/* S-17: C = 1 in the RS source asks for the answer from the other address. */
	int cone = (ip6[16] & 0x80) != 0;
	__u32 from = cone ? (to == c->primary ? c->secondary : c->primary) : to;

	/* SEC-17: the per-address RA limit, in the core's buckets. */
	if (c->rs_rate) {
		__u32 b = (__u32)(siphash24_u32(c->key[0], c->key[1], cip) % FPS_RS_BUCKETS);
		uint64_t *k = bpf_map_lookup_elem(&srv_limit, &b);
		if (!k)
			return pass();
		/* The daemon's clock (CLOCK_BOOTTIME, in ms): the buckets are shared. */
		if (!ratelimit_take_word(k, bpf_ktime_get_boot_ns() / 1000000, c->rs_rate)) {
			count(FPS_RS_LIMITED);
			return XDP_DROP;
		}
	}

	__u32 ulen = sizeof(struct udphdr) + auth + ORIGIN_LEN + FPS_RA_LEN;
	/* The answer goes back to the IPv4 source by the neighbour the question came from
	 * (the frame's source), as every reflecting XDP program does: the route back to an
	 * address leads where its packets come from. */
	struct bpf_fib_lookup f;
	__builtin_memcpy(f.dmac, ((struct ethhdr *)data)->h_source, ETH_ALEN);
	__builtin_memcpy(f.smac, ((struct ethhdr *)data)->h_dest, ETH_ALEN);
	/* The client's link-local address is the RA's destination. */
	__u8 client[16];
	__builtin_memcpy(client, ip6 + 8, 16);

	/* The answer is 56 bytes longer than the question: grow at the front, where XDP
	 * guarantees room, and write every byte anew. */
	if (bpf_xdp_adjust_head(ctx, -(int)(ORIGIN_LEN + FPS_RA_LEN - IP6_LEN - RS_LEN)))
		return pass();
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) + ulen > end)
		return XDP_DROP; /* cannot be: the frame grew by exactly that */
	__u8 *o = data + sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	if (auth) {
		/* S-19: the nonce echoed, confirmation 0. */
		o[0] = 0;
		o[1] = 1;
		o[2] = 0;
		o[3] = 0;
		__builtin_memcpy(o + 4, nonce, 8);
		o[12] = 0;
		o += AUTH_LEN;
	}
	put_origin(o, cip, cport); /* S-15: the RS's UDP source is the client's mapping */
	__u8 *ra = o + ORIGIN_LEN;
	__builtin_memcpy(ra, c->ra, FPS_RA_LEN);
	__builtin_memcpy(ra + 24, client, 16);
	/* The template's checksum is for the destination ::; add the client's address. */
	__u16 sum0 = ~*(__u16 *)(ra + IP6_LEN + 2);
	*(__u16 *)(ra + IP6_LEN + 2) = ~fold_fixed(sum_fixed(client, 16, sum0));
	put_headers(data, &f, from, cip, cport, (__u16)ulen);
	count(FPS_RS_ANSWERED);
	return XDP_TX;
}

/* RFC 4380 §5.3.1: a bubble (an IPv6 header alone, next header 59) to a Teredo client,
 * forwarded from the primary address (S-13), with an origin indication for our own
 * clients (S-14). Bubbles with trailers (RFC 6081) go to the daemon. */
static __always_inline int forward_bubble(struct xdp_md *ctx, const struct fps_config *c)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(ip + 1);
	__u8 *ip6 = (void *)(udp + 1);
	if ((void *)ip6 + IP6_LEN > end)
		return pass();
	if (ip6[4] || ip6[5] || ip6[6] != 59)
		return pass();
	const __u8 *src6 = ip6 + 8, *dst6 = ip6 + 24;
	/* Only to a Teredo destination: a bubble to a native one is dropped by the core. */
	if (*(const __u32 *)dst6 != c->prefix)
		return pass();
	int ours = *(const __u32 *)(dst6 + 4) == c->primary;
	__u32 cip = ip->saddr;
	__u16 cport = udp->source;
	if (*(const __u32 *)src6 == c->prefix) {
		/* S-07: a Teredo source sends from its own mapping. */
		if ((__u16)~*(const __u16 *)(src6 + 10) != cport || ~*(const __u32 *)(src6 + 12) != cip)
			return pass();
	} else if (!ours) {
		return pass(); /* S-08, S-09: a native source reaches only our own clients */
	}
	/* S-13: only to a global unicast mapping, never to ourselves. */
	__u32 dip = ~*(const __u32 *)(dst6 + 12);
	__u16 dport = ~*(const __u16 *)(dst6 + 10);
	if (!ipv4_is_global_unicast(dip) || is_own(c, dip))
		return pass();
	if (!udp_ok(ip, udp, sizeof *udp + IP6_LEN))
		return pass();

	__u32 grow = ours ? ORIGIN_LEN : 0;
	__u32 ulen = sizeof(struct udphdr) + grow + IP6_LEN;
	struct bpf_fib_lookup f;
	if (!route(ctx, c->primary, dip, dport, sizeof(struct iphdr) + ulen, &f)) {
		count(FPS_NO_ROUTE);
		return XDP_PASS;
	}
	/* The IPv6 header stays where it is; the new headers (and the origin) go in front. */
	if (grow && bpf_xdp_adjust_head(ctx, -(int)ORIGIN_LEN))
		return pass();
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	/* Constant lengths on each branch, for the verifier. */
	const __u32 hdrs = sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	if (ours) {
		if (data + hdrs + ORIGIN_LEN + IP6_LEN > end)
			return XDP_DROP; /* cannot be: checked above, then grown */
		put_origin(data + hdrs, cip, cport);
		put_headers(data, &f, c->primary, dip, dport, sizeof(struct udphdr) + ORIGIN_LEN + IP6_LEN);
	} else {
		if (data + hdrs + IP6_LEN > end)
			return XDP_DROP; /* cannot be: checked above */
		put_headers(data, &f, c->primary, dip, dport, sizeof(struct udphdr) + IP6_LEN);
	}
	count(FPS_BUBBLE_FWD);
	return XDP_TX;
}

SEC("xdp")
int teredo_srv(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	const struct fps_config *c = bpf_map_lookup_elem(&srv_cfg, &zero);
	if (!c || !c->on)
		return XDP_PASS;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || (eth->h_dest[0] & 1))
		return XDP_PASS;
	if (ip->version != 4 || ip->protocol != IPPROTO_UDP || !is_own(c, ip->daddr))
		return XDP_PASS;
	if (ip->ihl != 5 || udp->dest != bpf_htons(TEREDO_PORT))
		return XDP_PASS;
	/* Ours from here on. IPv4 options, fragments and bad header checksums: the daemon. */
	if (ip->frag_off & bpf_htons(0x3fff))
		return pass();
	if (fold_fixed(sum_fixed(ip, sizeof *ip, 0)) != 0xffff)
		return pass();
	__u32 tot = bpf_ntohs(ip->tot_len), ulen = bpf_ntohs(udp->len);
	/* A frame in XDP is one page at most, so a longer datagram fails the last test
	 * anyway; the first one gives 6.1's verifier the bound it loses across the byte
	 * swap (without it, it refuses the program). */
	if (tot > 0x3fff || ulen != tot - sizeof *ip || ulen < sizeof *udp || data + sizeof *eth + tot > end)
		return pass();
	/* S-23: from one of our own service sockets: a loop, for the core to drop. */
	if (is_own(c, ip->saddr) && udp->source == bpf_htons(TEREDO_PORT))
		return pass();
	/* S-05: the IPv4 source is global unicast (P-08). */
	if (!ipv4_is_global_unicast(ip->saddr))
		return pass();
	__u32 plen = ulen - sizeof *udp;
	const __u8 *p = (void *)(udp + 1);
	/* Each form with its length as a constant: the sums are unrolled for it. */
	if (plen == AUTH_LEN + IP6_LEN + RS_LEN) {
		if ((void *)p + 2 > end || p[0] != 0 || p[1] != 1)
			return pass();
		return answer_rs(ctx, c, AUTH_LEN + IP6_LEN + RS_LEN);
	}
	if (plen == IP6_LEN + RS_LEN) {
		if ((void *)p + 1 > end || (p[0] >> 4) != 6)
			return pass();
		return answer_rs(ctx, c, IP6_LEN + RS_LEN);
	}
	if (plen == IP6_LEN) {
		if ((void *)p + 1 > end || (p[0] >> 4) != 6)
			return pass();
		return forward_bubble(ctx, c);
	}
	return pass();
}
