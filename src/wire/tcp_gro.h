/* The other way round from tcp_gso.h: consecutive TCP/IPv6 segments of one flow joined
 * into one super-packet that a TUN with IFF_VNET_HDR takes whole (a write with
 * VIRTIO_NET_HDR_GSO_TCPV6 and a partial checksum), so that the kernel's stack handles
 * one packet where it would handle many — what its own GRO does for a NIC (the rules
 * below are tcp_gro_receive's), and what a NIC-less TUN never gets otherwise. Used by
 * the daemon's TUN writes (issue 10's "the fallback path gains too"). Pure: the caller
 * gives the room; no allocation.
 *
 * Segments join when they are plain data of the same flow, back to back: IPv6 with TCP
 * directly behind it (no extension headers), the same first word (version, traffic
 * class, flow label), hop limit, addresses, ports, acknowledgement, data offset, flags,
 * window and options, the next sequence number, each as long as the first but the last,
 * flags ACK (PSH ends a super-packet), a valid TCP checksum (a joined packet gets a new
 * one, which must not hide a corrupted segment). */
#ifndef SW_WIRE_TCP_GRO_H
#define SW_WIRE_TCP_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/tcp_gso.h"

/* The IPv6 payload length field bounds a super-packet. */
#define TCP_GRO_MAX (40 + 65535)

struct tcp6_gro {
	uint8_t *buf;      /* caller storage, at least TCP_GRO_MAX bytes */
	size_t len;        /* bytes held (headers of the first segment, then all payloads) */
	size_t hdr;        /* IPv6 + TCP header length */
	uint32_t next_seq; /* the sequence number the next segment must carry */
	uint16_t mss;      /* the first segment's payload length */
	uint16_t segs;
	bool closed;       /* a shorter segment or PSH came: nothing may follow */
	/* The candidate last refused as not the next, offered again once the caller has
	 * finished what was held: its checks (a checksum over all of it) are not redone. */
	const uint8_t *again;
	size_t again_len, again_hdr;
};

enum tcp_gro_verdict {
	TCP_GRO_TAKEN,    /* joined to what is held, or held as the start of a new one */
	TCP_GRO_NOT_NEXT, /* a candidate, but not the continuation: finish, then add again */
	TCP_GRO_NEVER,    /* not a candidate (finish what is held, then send it as it is) */
};

void tcp6_gro_init(struct tcp6_gro *g, uint8_t *buf);
/* Offer one IPv6 packet. Nothing is held on TCP_GRO_NOT_NEXT or TCP_GRO_NEVER; after
 * TCP_GRO_NOT_NEXT the caller finishes what is held and offers the same packet (same
 * bytes at the same address) next, which then starts a new super-packet. */
enum tcp_gro_verdict tcp6_gro_add(struct tcp6_gro *g, const uint8_t *pkt, size_t len);
/* Make what is held into one packet (g->buf, returned length; 0 if nothing is held) and
 * the header that goes before it: for one segment the packet unchanged and no offload;
 * for several the joined packet, its payload length, the pseudo-header sum in its
 * checksum field and a TCPv6 GSO header. g is empty afterwards. */
size_t tcp6_gro_finish(struct tcp6_gro *g, struct vnet_hdr *h);

#endif
