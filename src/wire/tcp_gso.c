#include "tcp_gso.h"

#include "bytes.h"
#include "csum.h"
#include "ipv6.h"

#include <string.h>

#define TCP_HDR_MIN 20
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

void vnet_hdr_get(const uint8_t *p, struct vnet_hdr *h)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = get_le16(p + 2);
	h->gso_size = get_le16(p + 4);
	h->csum_start = get_le16(p + 6);
	h->csum_offset = get_le16(p + 8);
}

void vnet_hdr_put(uint8_t *p, const struct vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	put_le16(p + 2, h->hdr_len);
	put_le16(p + 4, h->gso_size);
	put_le16(p + 6, h->csum_start);
	put_le16(p + 8, h->csum_offset);
}

int csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset)
{
	if (start > len || offset > len - start || len - start - offset < 2)
		return -1;
	put_be16(pkt + start + offset, csum_fold(csum_add(0, pkt + start, len - start)));
	return 0;
}

int tcp6_gso_init(struct tcp6_gso *g, const uint8_t *pkt, size_t len, size_t l4, uint16_t mss)
{
	if (len < IPV6_HDR_LEN || (pkt[0] >> 4) != 6 || ip6_plen(pkt) != len - IPV6_HDR_LEN)
		return -1;
	if (l4 < IPV6_HDR_LEN || l4 > len || len - l4 < TCP_HDR_MIN)
		return -1;
	size_t thl = (size_t)(pkt[l4 + 12] >> 4) * 4;
	if (thl < TCP_HDR_MIN || thl > len - l4 || len - l4 - thl == 0 || mss == 0)
		return -1;
	*g = (struct tcp6_gso){ .pkt = pkt, .len = len, .l4 = l4, .hdr = l4 + thl, .mss = mss };
	return 0;
}

long tcp6_gso_next(struct tcp6_gso *g, uint8_t *out, size_t cap)
{
	size_t left = g->len - g->hdr - g->off;
	if (!left)
		return 0;
	size_t n = left < g->mss ? left : g->mss;
	if (cap < g->hdr + n)
		return -1;
	bool first = g->off == 0, last = n == left;
	memcpy(out, g->pkt, g->hdr);
	memcpy(out + g->hdr, g->pkt + g->hdr + g->off, n);
	size_t seg = g->hdr + n;
	put_be16(out + 4, (uint16_t)(seg - IPV6_HDR_LEN));
	uint8_t *th = out + g->l4;
	put_be32(th + 4, get_be32(th + 4) + (uint32_t)g->off);
	if (!last)
		th[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (!first)
		th[13] &= (uint8_t)~TCP_CWR;
	put_be16(th + 16, 0);
	uint64_t acc = csum_ip6_pseudo(out + 8, out + 24, (uint32_t)(seg - g->l4), 6);
	put_be16(th + 16, csum_fold(csum_add(acc, th, seg - g->l4)));
	g->off += n;
	return (long)seg;
}
