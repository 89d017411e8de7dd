/* What the client targets share (fuzz_client, fuzz_bpf): a fake server qualifies a
 * client at once, so that inputs reach a qualified one. */
#ifndef SW_FUZZ_QUALIFY_H
#define SW_FUZZ_QUALIFY_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "core/client.h"
#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/teredo_addr.h"

/* Answer the client's RS to c->server, then the one to c->server2 (RFC 4380 §5.2.1's
 * cone test), with RAs that put it at 203.0.113.7:40000 (:41000 the second time when
 * `symmetric`). The address it takes goes in *addr if not NULL; false without one. */
static inline bool fuzz_qualify(struct client *x, const struct client_config *c, uint64_t now, bool symmetric,
				struct in6_addr *addr)
{
	struct sw_action acts[32];
	bool got = false;
	for (int round = 0; round < 2; round++) {
		int n = round ? 0 : client_start(x, now, acts, 32);
		if (round)
			n = 1; /* the RS to the secondary is in acts[0] from the previous answer */
		struct teredo_pkt p;
		if (n < 1 || teredo_parse(acts[0].hdr, acts[0].hdr_len, &p))
			return got;
		uint8_t ra[256];
		teredo_put_auth_nonce(ra, p.nonce, 0);
		teredo_put_origin(ra + 13,
				  (struct sw_endpoint){ htonl(0xcb007107), htons(round && symmetric ? 41000 : 40000) });
		struct ra_params rp = { .mtu = 1280 };
		inet_pton(AF_INET6, "fe80::ffff:ffff:ffff", &rp.dst);
		teredo_server_link_local(c->server, &rp.src);
		inet_pton(AF_INET6, "2001:0:c633:640a::", &rp.prefix);
		size_t len = 21 + ra_build(ra + 21, &rp);
		struct sw_endpoint from = { round ? c->server2 : c->server, htons(3544) };
		n = client_udp(x, now, from, ra, len, acts, 32);
		for (int i = 0; i < n; i++)
			if (acts[i].kind == SW_ACT_SET_ADDR) {
				if (addr)
					*addr = acts[i].addr;
				got = true;
			}
	}
	return got;
}

#endif
