#include "tcp_gro.h"

#include "bytes.h"
#include "csum.h"
#include "ipv6.h"

#include <linux/virtio_net.h>
#include <string.h>

#define TCP_HDR_MIN 20
#define TCP_ACK 0x10
#define TCP_PSH 0x08
#define TCP_NEXT_HEADER 6

void tcp6_gro_init(struct tcp6_gro *g, uint8_t *buf)
{
	*g = (struct tcp6_gro){ .buf = buf };
}

/* A segment that may join or start a super-packet: its header length, else 0. */
static size_t candidate(const uint8_t *p, size_t len)
{
	if (len < IPV6_HDR_LEN + TCP_HDR_MIN || (p[0] >> 4) != 6 || p[6] != TCP_NEXT_HEADER ||
	    ip6_plen(p) != len - IPV6_HDR_LEN)
		return 0;
	const uint8_t *th = p + IPV6_HDR_LEN;
	size_t hdr = IPV6_HDR_LEN + (size_t)(th[12] >> 4) * 4;
	/* Data only (a bare ACK joins nothing), flags ACK or ACK|PSH, nothing in the
	 * reserved bits: SYN, FIN, RST, URG, ECE and CWR each go alone, as in GRO. */
	if (hdr < IPV6_HDR_LEN + TCP_HDR_MIN || hdr >= len || (th[12] & 0x0f) || (th[13] & ~TCP_PSH) != TCP_ACK)
		return 0;
	uint64_t sum = csum_ip6_pseudo(p + 8, p + 24, (uint32_t)(len - IPV6_HDR_LEN), TCP_NEXT_HEADER);
	if (csum_fold(csum_add(sum, th, len - IPV6_HDR_LEN)) != 0)
		return 0; /* corrupted: the kernel must see it as it is, and drop it */
	return hdr;
}

enum tcp_gro_verdict tcp6_gro_add(struct tcp6_gro *g, const uint8_t *pkt, size_t len)
{
	size_t hdr = pkt == g->again && len == g->again_len ? g->again_hdr : candidate(pkt, len);
	g->again = NULL;
	if (!hdr)
		return TCP_GRO_NEVER;
	size_t pay = len - hdr;
	const uint8_t *th = pkt + IPV6_HDR_LEN;
	if (g->segs) {
		const uint8_t *h0 = g->buf, *t0 = g->buf + IPV6_HDR_LEN;
		/* Same flow and shape: the IPv6 header but its payload length (bytes 0-3,
		 * 6-39), the ports, the acknowledgement, data offset, flags but PSH, window
		 * (bytes 12-15 but PSH), the options; then the next sequence number, a
		 * payload no longer than the first, room left. */
		if (g->closed || hdr != g->hdr || memcmp(pkt, h0, 4) || memcmp(pkt + 6, h0 + 6, 34) ||
		    memcmp(th, t0, 4) || memcmp(th + 8, t0 + 8, 5) || (th[13] & ~TCP_PSH) != (t0[13] & ~TCP_PSH) ||
		    memcmp(th + 14, t0 + 14, 2) || memcmp(th + TCP_HDR_MIN, t0 + TCP_HDR_MIN, hdr - IPV6_HDR_LEN - TCP_HDR_MIN) ||
		    get_be32(th + 4) != g->next_seq || pay > g->mss || g->len + pay > TCP_GRO_MAX) {
			g->again = pkt;
			g->again_len = len;
			g->again_hdr = hdr;
			return TCP_GRO_NOT_NEXT;
		}
		memcpy(g->buf + g->len, pkt + hdr, pay);
		g->len += pay;
		g->segs++;
		g->next_seq += (uint32_t)pay;
		g->buf[IPV6_HDR_LEN + 13] |= th[13] & TCP_PSH;
		g->closed = pay < g->mss || (th[13] & TCP_PSH);
		return TCP_GRO_TAKEN;
	}
	memcpy(g->buf, pkt, len);
	g->len = len;
	g->hdr = hdr;
	g->mss = (uint16_t)pay;
	g->segs = 1;
	g->next_seq = get_be32(th + 4) + (uint32_t)pay;
	g->closed = th[13] & TCP_PSH;
	return TCP_GRO_TAKEN;
}

size_t tcp6_gro_finish(struct tcp6_gro *g, struct vnet_hdr *h)
{
	size_t len = g->len;
	*h = (struct vnet_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	if (g->segs > 1) {
		uint8_t *p = g->buf;
		put_be16(p + 4, (uint16_t)(len - IPV6_HDR_LEN));
		/* The checksum "the hardware" finishes (VIRTIO_NET_HDR_F_NEEDS_CSUM): the
		 * pseudo-header's sum, uncomplemented, as the kernel leaves it for a NIC
		 * (tcp_v6_send_check); the segments' sums were checked on the way in. */
		uint64_t ps = csum_ip6_pseudo(p + 8, p + 24, (uint32_t)(len - IPV6_HDR_LEN), TCP_NEXT_HEADER);
		put_be16(p + IPV6_HDR_LEN + 16, (uint16_t)~csum_fold(ps));
		*h = (struct vnet_hdr){
			.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			.gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
			.hdr_len = (uint16_t)g->hdr,
			.gso_size = g->mss,
			.csum_start = IPV6_HDR_LEN,
			.csum_offset = 16,
		};
	}
	g->len = 0;
	g->segs = 0;
	g->closed = false;
	return len;
}
