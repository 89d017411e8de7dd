/* Teredo -> IPv6 in the kernel (issue 10): tc ingress on the IPv4 interface.
 *
 * A plain data packet to our Teredo port (or to the other socket the core reaches the
 * peer from) whose inner source is a peer the core trusts, arriving from the very
 * mapping the core recorded for it (RFC 4380 §5.4.2 R-11 for a
 * relay, §5.2.3 C-34 for a client), is decapsulated here and enters the Teredo
 * interface as if the daemon had written it there, so the host's firewall rules and
 * counters for that interface still apply. Everything else goes up to the daemon's
 * socket untouched: bubbles, packets with an authentication or origin header or a
 * trailer (RFC 6081), unknown peers, hop limit <= 1, IPv4 options and fragments,
 * coalesced GRO packets. Rules are mirrored from core/relay.c and core/client_*.c, never
 * invented here.
 *
 * tc rather than XDP: XDP could only pass the packet up on the interface it came in by
 * (or redirect it as a frame to another driver's transmit path); entering the Teredo
 * interface's receive path needs an skb, which is what tc has. */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include "bpf/maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The destination rule of each role (core/relay.c served() and SEC-11 (b); client C-31). */
static __always_inline int dst_ok(const struct fp_config *c, const __u8 *dst)
{
	switch (c->role) {
	case FP_ROLE_RELAY:
		return !has_prefix(dst, c->prefix) && global_unicast6(dst);
	case FP_ROLE_HOST_RELAY:
		return !has_prefix(dst, c->prefix) && host_address(dst);
	case FP_ROLE_CLIENT:
		return same16(dst, c->self6);
	}
	return 0;
}

/* The socket would verify the UDP checksum; so does the fast path, unless there is none
 * (zero) or the device already did (CHECKSUM_UNNECESSARY). A packet that fails goes to
 * the socket, which drops it if it is corrupt; so does one whose checksum a local
 * sender left to offload (CHECKSUM_PARTIAL over veth: its checksum field holds only the
 * pseudo-header's sum), which the socket accepts and the fast path cannot tell apart. */
static __always_inline int udp_sum_ok(struct __sk_buff *skb, const struct iphdr *ip, __u16 check, __u32 ulen)
{
	if (!check || bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0)
		return 1;
	__s64 sum = udp4_pseudo_sum(ip->saddr, ip->daddr, ulen);
	if (sum < 0)
		return 0;
	sum = sum_bytes(skb, ETH_HLEN + sizeof(struct iphdr), ulen, sum);
	return sum_is_valid(sum);
}

SEC("tc")
int teredo_in(struct __sk_buff *skb)
{
	__u32 zero = 0;
	const struct fp_config *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c || !c->role || skb->protocol != bpf_htons(ETH_P_IP))
		return TC_NEXT;
	struct iphdr ip;
	struct udphdr udp;
	if (READ_HDR(skb, ETH_HLEN, &ip) < 0 || ip.protocol != IPPROTO_UDP ||
	    READ_HDR(skb, ETH_HLEN + ip.ihl * 4, &udp) < 0 || (c->self_ip && ip.daddr != c->self_ip))
		return TC_NEXT; /* not Teredo traffic of ours: not even counted */
	/* To our Teredo port: a datagram for the daemon's socket, counted from here on. To
	 * another port: one of the host's other UDP traffic, passed uncounted, unless it
	 * turns out below to come from a peer the core trusts on another of our sockets
	 * (a random port of RFC 6081 §5.4, §5.5 lent to that peer, a host relay's second
	 * socket): the entry names that socket's port, and only the daemon's socket can
	 * have it. Such traffic meets the tests below only if it carries exactly one IPv6
	 * packet, which costs the host's other UDP a few comparisons. */
	int ours = udp.dest == c->port;
	__u16 tot = bpf_ntohs(ip.tot_len);
	if (ip.ihl != 5 || (ip.frag_off & bpf_htons(0x3fff)) || skb->gso_segs > 1 ||
	    bpf_ntohs(udp.len) != tot - sizeof ip || tot > skb->len - ETH_HLEN || tot < OUTER_LEN + sizeof(struct ipv6hdr))
		goto pass;
	struct ipv6hdr ip6;
	if (READ_HDR(skb, ETH_HLEN + OUTER_LEN, &ip6) < 0)
		goto pass;
	/* Version 6 in the first byte rules out both Teredo headers (0x00 0x01, 0x00 0x00);
	 * the exact length rules out trailers (RFC 6081 §4). */
	if (ip6.version != 6 || sizeof ip6 + bpf_ntohs(ip6.payload_len) != tot - OUTER_LEN)
		goto pass;
	if (ip6.payload_len == 0 && ip6.nexthdr == 59)
		goto pass; /* a bubble: trust is the core's business */
	if (ip6.hop_limit <= 1)
		goto pass; /* the daemon and the host's stack answer those */
	__u8 src[16];
	__builtin_memcpy(src, ip6.saddr.in6_u.u6_addr8, 16);
	/* a relay takes only Teredo sources. */
	if (c->role != FP_ROLE_CLIENT && !has_prefix(src, c->prefix))
		goto pass;
	struct fp_peer *p = bpf_map_lookup_elem(&peers, src);
	/* The core takes a trusted peer's data from its mapping on the Teredo socket
	 * whichever socket it reaches the peer from (C-33, R-11), and on a random port
	 * only from the peer that port is lent to (RFC 6081 §5.4.4.5, X-38 (d)). */
	if (!p || p->ip != ip.saddr || p->port != udp.source || !(ours || (p->sport && udp.dest == p->sport))) {
		if (ours)
			count(FP_IN_NO_PEER);
		return TC_NEXT;
	}
	if (!dst_ok(c, ip6.daddr.in6_u.u6_addr8))
		goto pass;
	if (!udp_sum_ok(skb, &ip, udp.check, tot - sizeof ip))
		goto pass;
	__u64 now = bpf_ktime_get_boot_ns();
	p->last_rx = now; /* peer_heard(): the core hears of it through `seen` */
	/* The core only needs to know "busy" (FP_BUSY_PACKETS): the count stops rather
	 * than wraps. */
	__u32 n = p->pkts + (p->pkts != 0xffff), units = (__u32)(now >> 20);
	p->pkts = (__u16)n;
	int due = report_due(p, units);
	if (due || n == FP_BUSY_PACKETS)
		report_peer(p, src, now, 0, n, units, due);
	/* The IPv4 and UDP headers out. Newer kernels do it in one step that also makes
	 * the skb IPv6 (cfg.decap_l3, probed at load); 6.1 has no decapsulation flags, so
	 * there the skb is turned into an IPv6 one first (20 more bytes after the Ethernet
	 * header) and the 48 bytes of room, IPv4 and UDP headers taken out after. The
	 * Ethernet header keeps its IPv4 type: the redirect into the Teredo interface,
	 * which has no link-layer header, takes it off. */
	if (c->decap_l3 ? bpf_skb_adjust_room(skb, -(__s32)OUTER_LEN, BPF_ADJ_ROOM_MAC, SW_ADJ_ROOM_DECAP_L3_IPV6) < 0
			: bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0) < 0 ||
				  bpf_skb_adjust_room(skb, -(__s32)(OUTER_LEN + 20), BPF_ADJ_ROOM_MAC, 0) < 0) {
		/* The packet may be half-changed: it cannot go to the socket any more. */
		count(FP_IN_ERR);
		return TC_ACT_SHOT;
	}
	count(FP_IN_DECAP);
	count_n(FP_IN_DECAP_BYTES, tot - OUTER_LEN);
	return bpf_redirect(c->tun_ifindex, BPF_F_INGRESS);
pass:
	if (ours)
		count(FP_IN_PASS);
	return TC_NEXT;
}

/* Run once by the loader through BPF_PROG_TEST_RUN on an Ethernet + IPv4 + UDP + IPv6
 * frame: 1 when this kernel's bpf_skb_adjust_room() takes the outer headers off and
 * makes the skb IPv6 in one step (cfg.decap_l3; 6.1 refuses the flag). */
SEC("tc")
int probe_decap_l3(struct __sk_buff *skb)
{
	if (bpf_skb_adjust_room(skb, -(__s32)OUTER_LEN, BPF_ADJ_ROOM_MAC, SW_ADJ_ROOM_DECAP_L3_IPV6) < 0)
		return 0;
	return skb->protocol == bpf_htons(ETH_P_IPV6);
}
