/* peermem: the relay's memory per peer, measured. Fills a relay core with N distinct
 * Teredo clients (each sends one packet from the mapping in its address, which a relay
 * accepts) and reports the growth of the resident set per peer.
 *
 *   peermem [N]      (default 1000000) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/relay.h"
#include "wire/icmpv6.h"
#include "wire/teredo_addr.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

static void rng(void *ctx, void *out, size_t len)
{
	memset(out, 7, len);
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
	/* RelayAcceptUnknown: every client below makes an entry of its own. */
	struct relay_config c = { .prefix = TEREDO_PREFIX_DEFAULT, .unknown_rate = RELAY_UNKNOWN_ALL, .peer_capacity = n,
				  .queue_pool = 1024, .queue_per_peer = 16 };
	static struct relay r;
	long before = rss_kib();
	if (relay_init(&r, &c, rng, NULL) < 0)
		return 1;
	struct in6_addr host;
	inet_pton(AF_INET6, "2001:db8:1::100", &host);
	uint8_t pkt[128];
	struct sw_action acts[4];
	for (uint32_t i = 0; i < n; i++) {
		/* 198.51.100.x, one address per 65536 ports */
		struct sw_endpoint ep = { htonl(0xc6336400u + 1 + (i >> 16)), htons((uint16_t)(i & 0xffff)) };
		struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = htonl(0xc633640a), .mapped = ep };
		struct in6_addr src;
		teredo_addr_encode(&t, &src);
		size_t len = bubble_build(pkt, &src, &host);
		relay_udp(&r, 1000000, ep, pkt, len, acts, 4);
	}
	long after = rss_kib();
	double per = (double)(after - before) * 1024 / r.peers.count;
	printf("peers %u; resident set %ld KiB -> %ld KiB; %.0f bytes per peer "
	       "(struct peer %zu bytes + hash buckets); %.1f million peers per GiB\n",
	       r.peers.count, before, after, per, sizeof(struct peer), (1 << 30) / per / 1e6);
	relay_free(&r);
	return 0;
}
