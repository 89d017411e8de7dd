/* The kernel fast path's shared layout (issue 10): the maps the daemon writes and the
 * eBPF programs read, and their counters. Included by the programs (the .bpf.c files here,
 * clang -target bpf) and by the daemon's loader (src/sys/fastpath.c); only fixed-width
 * kernel types, so that both sides agree byte for byte.
 *
 * The rules stay in the core: a peer is in `peers` only while the core trusts it (the
 * trust journal, core/trustlog.h), and the programs only re-check what the core decided
 * (freshness, the peer's mapping, the role's address rules), passing every other packet
 * to the daemon unchanged. */
#ifndef SW_BPF_FASTPATH_H
#define SW_BPF_FASTPATH_H

#include <linux/types.h>

/* RFC 4380 §5.2.4 (C-40), §5.4.1: a peer's entry is used for 30 s after the last
 * packet from it; the programs refuse an older one themselves. */
#define FP_PEER_VALID_NS 30000000000ULL
/* How often the ingress program tells the daemon that a peer is still active (the ring
 * buffer `seen`), so that the core's entry does not expire under a flow it never sees,
 * and how many packets it carried meanwhile, which the core counts as heard (its
 * eviction keeps busy peers: a flood must not push out a flow the kernel carries). */
#define FP_REPORT_NS 5000000000ULL
#define FP_REPORT_UNITS (FP_REPORT_NS >> 20) /* in fp_peer.reported's units */
/* PEER_BUSY_PACKETS (core/peer.h): a peer that reaches it within a report interval is
 * reported at once too, so that the core counts it busy without waiting. A flood of new
 * sources turns the core's table over in a fraction of a second, and its eviction
 * spares busy peers only: a flow the kernel carries must not wait 5 s to be one. */
#define FP_BUSY_PACKETS 32

/* BPF_F_ADJ_ROOM_DECAP_L3_IPV6 of kernels after 6.1 (linux/bpf.h there; Debian 12's
 * headers are 6.1's): probed at load, refused by 6.1. */
#define SW_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

enum fp_role { FP_ROLE_RELAY = 1, FP_ROLE_HOST_RELAY = 2, FP_ROLE_CLIENT = 3 };

/* peers: IPv6 address (16 bytes) -> how it is reached. */
struct fp_peer {
	__u32 ip;       /* the peer's mapping (network byte order): where it is sent to and */
	__u16 port;     /* the only source its packets are decapsulated from */
	__u16 sport;    /* our local UDP port the peer knows (network byte order) */
	__u64 last_rx;  /* ns, CLOCK_BOOTTIME: the last packet from it */
	__u32 reported; /* CLOCK_BOOTTIME ns >> 20 (about ms): when it was last reported */
	__u16 pkts;     /* packets decapsulated since that report (stops at 0xffff) */
	__u16 flags;    /* FP_PEER_*, written by the daemon only */
};

/* RFC 6081 §5.3.4.3: sent to the mapping the peer's address names (its IGD's),
 * while its packets still come from ip:port. Costs no room: the address is the key. */
#define FP_PEER_AT_ADDRESS 1

/* cfg: one entry, written by the daemon at start and when its addresses change. */
struct fp_config {
	__u32 prefix;      /* the Teredo prefix's first 4 bytes, network byte order */
	__u32 self_ip;     /* our IPv4 address (source of encapsulated packets), network order */
	__u16 port;        /* our Teredo UDP port, network byte order */
	__u8 role;         /* enum fp_role; 0: the programs pass everything */
	__u8 tun_hlen;     /* link-layer header length of the Teredo interface (TUN: 0) */
	__u32 tun_ifindex; /* the Teredo interface: decapsulated packets enter it */
	__u32 out_ifindex; /* the IPv4 interface encapsulated packets leave by */
	__u8 self6[16];    /* client: our Teredo address */
	/* Set by the loader, not the roles: this kernel makes an encapsulated skb IPv4 by
	 * itself (bpf_skb_adjust_room's encapsulation flags), so a GSO packet can be
	 * encapsulated whole and segmented later (probed at load, docs/fastpath.md). */
	__u8 gso_encap;
	/* Set by the loader too: this kernel's bpf_skb_adjust_room() takes the outer
	 * headers off and makes the skb IPv6 in one step (SW_ADJ_ROOM_DECAP_L3_IPV6). */
	__u8 decap_l3;
	__u8 pad[2];
};

/* seen: ring buffer records, programs -> daemon. teredo_in writes one for a packet it
 * takes from the peer; teredo_out, in a client, one for a packet it sends to a peer
 * reached from a random port of RFC 6081 §5.4, §5.5 (whose core must know when data last
 * left by it: X-34), at the same pace, sharing `reported`. */
struct fp_seen {
	__u8 addr[16];
	__u64 at;      /* ns, CLOCK_BOOTTIME: the last packet from the peer */
	__u64 sent_at; /* ns, CLOCK_BOOTTIME: a packet sent to it now (teredo_out), else 0 */
	__u32 pkts;    /* packets decapsulated since the previous report */
	__u32 pad;
};

enum fp_counter {
	FP_IN_DECAP,     /* Teredo -> IPv6 done in the kernel */
	FP_IN_PASS,      /* to our port, left to the daemon (bubble, header, trailer, ...) */
	FP_IN_NO_PEER,   /* data from a source without an entry or from another mapping */
	FP_IN_ERR,       /* a helper failed: passed to the daemon */
	FP_OUT_ENCAP,    /* IPv6 -> Teredo done in the kernel */
	FP_OUT_MISS,     /* no entry: to the daemon (bubbles, queues) */
	FP_OUT_STALE,    /* an entry older than 30 s: to the daemon */
	FP_OUT_PASS,     /* not for the fast path (GSO, source, ...): to the daemon */
	FP_OUT_ERR,      /* a helper failed: passed to the daemon */
	FP_OUT_GSO,      /* of FP_OUT_ENCAP: GSO super-packets, encapsulated whole */
	/* The IPv6 bytes of FP_IN_DECAP and FP_OUT_ENCAP (a super-packet's headers once):
	 * the redirects go around the TUN's driver, so the Teredo interface's own
	 * counters (ip -s link, /proc/net/dev) see only the daemon's share. */
	FP_IN_DECAP_BYTES,
	FP_OUT_ENCAP_BYTES,
	FP__COUNT
};

#define FP_LOCAL_MAX 32 /* host relay: the host's addresses (RELAY_LOCAL_MAX) */

/* The server's XDP program (teredo_srv.bpf.c). */
#define FPS_RS_BUCKETS 4096 /* SERVER_RS_BUCKETS: the RA limit's buckets */
#define FPS_RA_LEN 96       /* TEREDO_RA_LEN: IPv6 header + RA with its two options */

/* srv_cfg: one entry, written by the daemon at start. */
struct fps_config {
	__u32 primary;   /* network byte order */
	__u32 secondary; /* network byte order */
	__u32 prefix;    /* the Teredo prefix's first 4 bytes, network byte order */
	__u32 rs_rate;   /* RAs per second to one IPv4 address; 0: no limit */
	__u64 key[2];    /* the core's bucket key, as siphash24_u32() takes it */
	__u32 on;        /* 0: pass everything */
	__u32 pad;
	/* The core's RA (ra_build) for the destination ::, its checksum computed for that
	 * destination; the program puts the client's address in and corrects the sum. */
	__u8 ra[FPS_RA_LEN];
};

enum fps_counter {
	FPS_RS_ANSWERED,  /* RS -> RA sent back in XDP */
	FPS_RS_LIMITED,   /* RS over the per-address RA rate: dropped, as the core drops it */
	FPS_BUBBLE_FWD,   /* bubble forwarded (with origin indication to our own clients) */
	FPS_PASS,         /* to a server address and port, left to the daemon */
	FPS_NO_ROUTE,     /* no route or neighbour for the answer yet: left to the daemon */
	FPS__COUNT
};

#endif
