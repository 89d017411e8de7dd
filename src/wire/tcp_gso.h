/* What a TUN device with offloads (IFF_VNET_HDR, TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO6)
 * hands over and a NIC would otherwise finish: a checksum left for "the hardware"
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) and a TCP/IPv6 super-packet to cut into segments
 * (VIRTIO_NET_HDR_GSO_TCPV6), as the kernel's own tcp_gso_segment does (RFC 9293 §3.1
 * header, RFC 8200 §8.1 pseudo-header). Pure: no allocation, the caller gives the room. */
#ifndef SW_WIRE_TCP_GSO_H
#define SW_WIRE_TCP_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The virtio_net_hdr a TUN with IFF_VNET_HDR puts before each packet (little-endian on
 * every host a TUN runs on today, TUNSETVNETLE aside). */
#define VNET_HDR_LEN 10
struct vnet_hdr {
	uint8_t flags;    /* VIRTIO_NET_HDR_F_NEEDS_CSUM = 1 */
	uint8_t gso_type; /* NONE 0, TCPV4 1, UDP 3, TCPV6 4; ECN 0x80 */
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
void vnet_hdr_get(const uint8_t *p, struct vnet_hdr *h);
/* The same, written for the TUN (VNET_HDR_LEN bytes). */
void vnet_hdr_put(uint8_t *p, const struct vnet_hdr *h);

/* Finish a checksum the sender left partial: the ones'-complement sum of everything
 * from `start` (the seeded pseudo-header sum in the field included) written at
 * start + offset. -1 if the positions do not fit in the packet. */
int csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset);

/* Cutting one super-packet: IPv6 header (extension headers allowed), TCP header at l4,
 * payload cut into mss-byte pieces. */
struct tcp6_gso {
	const uint8_t *pkt;
	size_t len, l4, hdr; /* hdr: the headers repeated in every segment */
	size_t off;          /* payload bytes cut so far */
	uint16_t mss;
};
/* Check the headers (IPv6, TCP at l4 with a sane data offset, lengths that agree, a
 * payload and mss > 0) and start; -1 if the packet cannot be cut. */
int tcp6_gso_init(struct tcp6_gso *g, const uint8_t *pkt, size_t len, size_t l4, uint16_t mss);
/* The next segment into out (at least hdr + mss bytes, else -1): headers copied, IPv6
 * payload length, sequence number and flags adjusted as the kernel's tcp_gso_segment
 * does (FIN and PSH only in the last, CWR only in the first), TCP checksum computed. Returns its length, 0 when none is left. */
long tcp6_gso_next(struct tcp6_gso *g, uint8_t *out, size_t cap);

#endif
