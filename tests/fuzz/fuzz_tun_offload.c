/* libFuzzer: what a TUN with offloads hands the daemon (issue 10, the fallback path) —
 * a virtio_net_hdr and a packet, both as hostile as can be: the partial checksum and
 * the TCP/IPv6 segmentation must stay inside the packet and the room given, and the
 * segments must carry every payload byte exactly once. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/tcp_gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pkt[70000], seg[70000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < VNET_HDR_LEN || size - VNET_HDR_LEN > sizeof pkt)
		return 0;
	struct vnet_hdr h;
	vnet_hdr_get(data, &h);
	size_t len = size - VNET_HDR_LEN;
	memcpy(pkt, data + VNET_HDR_LEN, len);
	(void)csum_complete(pkt, len, h.csum_start, h.csum_offset);
	struct tcp6_gso g;
	if (tcp6_gso_init(&g, pkt, len, h.csum_start, h.gso_size) < 0)
		return 0;
	size_t pay = 0, room = (size_t)(h.gso_size % 3 == 0 ? g.hdr + g.mss : sizeof seg);
	long n;
	while ((n = tcp6_gso_next(&g, seg, room)) > 0) {
		if ((size_t)n > g.hdr + g.mss || (size_t)n <= g.hdr ||
		    memcmp(seg + g.hdr, pkt + g.hdr + pay, (size_t)n - g.hdr))
			__builtin_trap();
		pay += (size_t)n - g.hdr;
	}
	if (n < 0 || pay != len - g.hdr)
		__builtin_trap();
	return 0;
}
