/* libFuzzer: TCP segments joined before the TUN (issue 10, wire/tcp_gro.h), from packets
 * as hostile as can be: whatever is offered, a joined packet stays within the IPv6
 * payload length's bound, and the kernel's cut (here tcp6_gso) gives back exactly the
 * payload bytes that were taken, in order. The input is a run of packets, each behind a
 * two-byte length. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/tcp_gro.h"
#include "wire/tcp_gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t room[TCP_GRO_MAX], taken[TCP_GRO_MAX], seg[TCP_GRO_MAX];

static void check(struct tcp6_gro *g, size_t *ntaken)
{
	uint16_t segs = g->segs;
	size_t hdr = g->hdr;
	struct vnet_hdr h;
	size_t len = tcp6_gro_finish(g, &h);
	if (len > TCP_GRO_MAX || g->segs)
		__builtin_trap();
	if (segs > 1) {
		struct tcp6_gso c;
		if (tcp6_gso_init(&c, room, len, h.csum_start, h.gso_size) < 0 || c.hdr != hdr)
			__builtin_trap();
		size_t got = 0;
		long n;
		while ((n = tcp6_gso_next(&c, seg, sizeof seg)) > 0) {
			if (got + (size_t)n - hdr > *ntaken || memcmp(seg + hdr, taken + got, (size_t)n - hdr))
				__builtin_trap();
			got += (size_t)n - hdr;
		}
		if (n < 0 || got != *ntaken)
			__builtin_trap();
	}
	*ntaken = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcp6_gro g;
	tcp6_gro_init(&g, room);
	size_t ntaken = 0;
	while (size >= 2) {
		size_t len = (size_t)(data[0] | data[1] << 8);
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		enum tcp_gro_verdict r = tcp6_gro_add(&g, data, len);
		if (r == TCP_GRO_NOT_NEXT) {
			check(&g, &ntaken);
			r = tcp6_gro_add(&g, data, len);
			if (r != TCP_GRO_TAKEN)
				__builtin_trap(); /* a candidate always starts a new one */
		}
		if (r == TCP_GRO_TAKEN) {
			size_t hdr = g.hdr;
			if (g.segs == 1)
				ntaken = 0;
			memcpy(taken + ntaken, data + hdr, len - hdr);
			ntaken += len - hdr;
		} else if (g.segs) {
			check(&g, &ntaken);
		}
		data += len;
		size -= len;
	}
	check(&g, &ntaken);
	return 0;
}
