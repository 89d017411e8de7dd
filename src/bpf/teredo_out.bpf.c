/* IPv6 -> Teredo in the kernel (issue 10): tc egress on the Teredo interface.
 *
 * A packet the host routes into the tunnel, to a peer the core trusts and has heard
 * from within 30 s (RFC 4380 §5.4.1 R-05 for a relay, §5.2.4 C-41 for a client), is
 * encapsulated here (IPv4 + UDP from our Teredo port to the peer's mapping) and sent by
 * the IPv4 interface with bpf_redirect_neigh(), which does the route and neighbour
 * lookups. A miss goes on to the TUN and the daemon, exactly as without this program:
 * bubbles, queues and every first contact stay there.
 *
 * A GSO packet (a TCP super-packet of the host's own) is encapsulated whole, as a UDP
 * tunnel packet that the IPv4 interface (or its NIC) segments later, on kernels whose
 * bpf_skb_adjust_room() makes the skb IPv4 by itself (cfg.gso_encap, probed at load).
 * On 6.1 only bpf_skb_change_proto() does that, and it would turn the inner TCPv6
 * segmentation into TCPv4: there the TUN segments it for the daemon. */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include "bpf/maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define ENCAP_FLAGS (BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_FIXED_GSO)

/* The source rule of each role (core/relay.c relay_tun: SEC-11 (c), H-01; client: our
 * own address only). */
static __always_inline int src_ok(const struct fp_config *c, const __u8 *src)
{
	switch (c->role) {
	case FP_ROLE_RELAY:
		return !has_prefix(src, c->prefix) && !is_linklocal(src);
	case FP_ROLE_HOST_RELAY:
		return !has_prefix(src, c->prefix) && host_address(src);
	case FP_ROLE_CLIENT:
		return same16(src, c->self6);
	}
	return 0;
}

/* Checksums. The host's own TCP and UDP (a host relay's, a client's) leave the stack
 * with the checksum left to offload (CHECKSUM_PARTIAL): encapsulation keeps the inner
 * header where the kernel recorded it, so the IPv4 interface finishes it there, in
 * hardware or in software, as for any packet of the host. A forwarded packet (a relay's)
 * arrived from a NIC with its checksum complete, except one that a local sender passed
 * over veth (CHECKSUM_PARTIAL from namespace to namespace), which could leave here
 * unfinished by anyone. Such a packet's checksum field holds the folded sum of its
 * pseudo-header alone; so only a forwarded TCP or UDP packet whose field holds exactly
 * that is summed whole, and takes the fast path only if it verifies (the TUN path
 * finishes the rest: skb_checksum_help, as the daemon's path finishes NEEDS_CSUM). Any
 * other is passed on as it came, as the daemon's path and every router pass it: its
 * receiver checks it. (Summing every forwarded packet cost a 1,420-byte segment a third
 * of a microsecond here.) ICMPv6 is always summed in software; other next headers
 * (extension headers) take the daemon's path. */
static __always_inline int l4_sum_ok(struct __sk_buff *skb, __u32 off, const struct ipv6hdr *ip6, int gso)
{
	if (ip6->nexthdr == IPPROTO_ICMPV6)
		return 1;
	if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP)
		return 0;
	/* A TCP super-packet, the host's own or one that GRO joined on the receiving NIC
	 * (a relay's forwarded traffic: tcp_gro_complete leaves the pseudo-header's sum in
	 * the field and CHECKSUM_PARTIAL), is encapsulated whole, and segmentation finishes
	 * each segment's checksum from that sum, in the NIC or in software. Summing it here
	 * found it "unfinished" and sent every one of a relay's GRO'd flows to the daemon. */
	if (gso && ip6->nexthdr == IPPROTO_TCP)
		return 1;
	struct bpf_sock *sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk && sk->family == 10 /* AF_INET6 */ && sk->protocol == ip6->nexthdr)
		return 1; /* one of the host's own TCP or UDP sockets */
	struct {
		struct in6_addr s, d;
		__u32 len;
		__u8 zero[3], nh;
	} ph = { ip6->saddr, ip6->daddr, bpf_htonl(bpf_ntohs(ip6->payload_len)), { 0, 0, 0 }, ip6->nexthdr };
	__u16 pseudo = fold_fixed(sum_fixed(&ph, sizeof ph, 0)), field;
	if (READ_HDR(skb, off + sizeof *ip6 + (ip6->nexthdr == IPPROTO_TCP ? 16 : 6), &field) < 0)
		return 0;
	if (field != pseudo)
		return 1;
	return sum_is_valid(sum_bytes(skb, off + sizeof *ip6, bpf_ntohs(ip6->payload_len), pseudo));
}

SEC("tc")
int teredo_out(struct __sk_buff *skb)
{
	__u32 zero = 0;
	const struct fp_config *c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c || !c->role || !c->out_ifindex || skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_NEXT;
	__u32 off = c->tun_hlen & 0x3f;
	struct ipv6hdr ip6;
	if (READ_HDR(skb, off, &ip6) < 0 || ip6.version != 6)
		goto pass;
	__u8 dst[16];
	__builtin_memcpy(dst, ip6.daddr.in6_u.u6_addr8, 16);
	/* a relay sends only to Teredo destinations (the daemon drops the rest, and
	 * counts them); a client reaches native ones through their relay (C-42), whose
	 * mapping the entry holds. */
	if ((c->role != FP_ROLE_CLIENT && !has_prefix(dst, c->prefix)) || !src_ok(c, ip6.saddr.in6_u.u6_addr8))
		goto pass;
	int gso = skb->gso_segs > 1 || skb->gso_size;
	if ((gso && !c->gso_encap) || skb->len - off != sizeof ip6 + bpf_ntohs(ip6.payload_len) ||
	    skb->len - off + OUTER_LEN > 0xffff)
		goto pass;
	if (!l4_sum_ok(skb, off, &ip6, gso))
		goto pass;
	struct fp_peer *p = bpf_map_lookup_elem(&peers, dst);
	if (!p) {
		count(FP_OUT_MISS);
		return TC_NEXT;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	if (now - p->last_rx >= FP_PEER_VALID_NS) {
		count(FP_OUT_STALE); /* the daemon bubbles again */
		return TC_NEXT;
	}
	__u32 to_ip = p->ip;
	__u16 to_port = p->port;
	if (p->flags & FP_PEER_AT_ADDRESS) {
		/* to the mapping the destination's Teredo address names, obfuscated
		 * there (RFC 4380 §4); the core checked it before it wrote the flag. */
		__u32 a;
		__u16 pt;
		__builtin_memcpy(&pt, dst + 10, 2);
		__builtin_memcpy(&a, dst + 12, 4);
		to_ip = ~a;
		to_port = (__u16)~pt;
	}
	__u32 ip6_len = skb->len - off;
	/* TOS 0: Teredo has no ECN negotiation, so the outer ECN field stays Not-ECT
	 * whatever the inner traffic class (RFC 9601 §6.1.3, P-18), as the daemon's sockets
	 * send it. */
	struct iphdr ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
			    .tot_len = bpf_htons(ip6_len + OUTER_LEN), .saddr = c->self_ip, .daddr = to_ip };
	__u32 sum = 0;
	const __u16 *w = (const __u16 *)&ip;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	ip.check = (__u16)~csum_fold16(sum);
	/* A zero UDP checksum: none, which IPv4 allows (RFC 768) and every Teredo
	 * implementation accepts; the inner packet carries its own. */
	struct udphdr udp = { .source = p->sport ? p->sport : c->port, .dest = to_port,
			      .len = bpf_htons(ip6_len + sizeof(struct udphdr)) };
	/* bpf_redirect_neigh() takes off an Ethernet header before it puts the real one on
	 * (it refuses a packet without one): the TUN has none, so the frame gets a blank one,
	 * written with the outer headers. */
	struct ethhdr eth = { .h_proto = bpf_htons(ETH_P_IP) };
	if (gso) {
		/* The IPv6 packet stays where it is, marked as the inner one; segmentation
		 * copies the 28 outer bytes onto each segment and fixes their lengths. The
		 * MSS stays (FIXED_GSO): it was chosen for the tunnel's MTU. */
		struct {
			struct ethhdr eth;
			struct iphdr ip;
			struct udphdr udp;
		} __attribute__((packed)) h = { eth, ip, udp };
		if (bpf_skb_adjust_room(skb, OUTER_LEN, BPF_ADJ_ROOM_MAC, ENCAP_FLAGS) < 0) {
			count(FP_OUT_ERR);
			return TC_NEXT; /* refused before any change: the daemon has it */
		}
		if ((!off && bpf_skb_change_head(skb, ETH_HLEN, 0) < 0) || bpf_skb_store_bytes(skb, 0, &h, sizeof h, 0) < 0) {
			count(FP_OUT_ERR);
			return TC_ACT_SHOT;
		}
		count(FP_OUT_GSO);
	} else {
		/* An IPv6 skb becomes an IPv4 one by losing 20 bytes at the network header
		 * (the IPv6 header's first 20; the link-layer header, if any, moves up over
		 * them): 6.1 has no other way, and later kernels' encapsulation flags took no
		 * less time. Room at the head then makes the frame whole again: the
		 * Ethernet header, IPv4, UDP and the IPv6 header's first 20 bytes, written at
		 * once over the room and the old link-layer header. (Room after the
		 * link-layer header and an Ethernet header in front took a helper more.) */
		struct {
			struct ethhdr eth;
			struct iphdr ip;
			struct udphdr udp;
			__u8 ip6_head[20];
		} __attribute__((packed)) h = { .eth = eth, .ip = ip, .udp = udp };
		__builtin_memcpy(h.ip6_head, &ip6, sizeof h.ip6_head);
		if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0) < 0) {
			count(FP_OUT_ERR);
			return TC_NEXT; /* unchanged: the daemon has it */
		}
		if (bpf_skb_change_head(skb, sizeof h - off, 0) < 0 || bpf_skb_store_bytes(skb, 0, &h, sizeof h, 0) < 0) {
			count(FP_OUT_ERR);
			return TC_ACT_SHOT;
		}
	}
	/* RFC 6081 §5.4.4.1: a client's core must know when data last left by the
	 * random port lent to a peer (its Peer Refresh Timer bubbles a port that carried
	 * none for 30 s, X-32, and stops after 20): told at the ingress reports' pace. A
	 * host relay's peer on its second socket needs no such report (relays keep no
	 * state of what they send). */
	__u32 units = (__u32)(now >> 20);
	if (c->role == FP_ROLE_CLIENT && p->sport && p->sport != c->port && report_due(p, units))
		report_peer(p, dst, p->last_rx, now, p->pkts, units, 1);
	count(FP_OUT_ENCAP);
	count_n(FP_OUT_ENCAP_BYTES, ip6_len);
	return bpf_redirect_neigh(c->out_ifindex, 0, 0, 0);
pass:
	count(FP_OUT_PASS);
	return TC_NEXT;
}

/* Run once by the loader through BPF_PROG_TEST_RUN on an Ethernet + IPv6 frame: 1 when
 * this kernel's bpf_skb_adjust_room() makes an encapsulated skb IPv4 (cfg.gso_encap). */
SEC("tc")
int probe_gso_encap(struct __sk_buff *skb)
{
	if (bpf_skb_adjust_room(skb, OUTER_LEN, BPF_ADJ_ROOM_MAC, ENCAP_FLAGS) < 0)
		return 0;
	return skb->protocol == bpf_htons(ETH_P_IP);
}
