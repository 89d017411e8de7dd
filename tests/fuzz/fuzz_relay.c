/* libFuzzer: the relay's whole packet-handling entry points with state carried across
 * inputs. One relay lives for the whole run (a host relay when the first input's first
 * byte has its top bit set). Byte 0 picks UDP, TUN or timer; bytes 1-6 the UDP source;
 * bytes 7-8 how far the clock moves. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/relay.h"
#include "wire/teredo_addr.h"

#include "fuzz_step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct relay rl;
static int ready;
static uint64_t now = 1000000;

static void rng(void *ctx, void *out, size_t len)
{
	memset(out, 0x42, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_action acts[32];
	if (!ready) {
		struct relay_config c = {
			.prefix = TEREDO_PREFIX_DEFAULT, .host_only = size && (data[0] & 0x80),
			.unknown_rate = size && (data[0] & 0x40) ? RELAY_UNKNOWN_ALL : 3,
			.new_per_source = size && (data[0] & 0x20) ? 0 : 5, /* */
			.self = { htonl(0xc633641e), htons(3544) },
			.peer_capacity = 64, .queue_pool = 32, .queue_per_peer = 4,
		};
		relay_init(&rl, &c, rng, NULL);
		relay_fast_path(&rl); /* the trust journal too (issue 10) */
		struct in6_addr local;
		inet_pton(AF_INET6, "2001:db8:1::40", &local);
		relay_set_local(&rl, &local, 1);
		ready = 1;
	}
	struct fuzz_step st;
	if (!fuzz_step_decode(data, size, &now, &st))
		return 0;
	size_t len = st.len;
	int n;
	switch (st.op % 3) {
	case 0: n = relay_udp(&rl, now, st.src, st.pkt, len, acts, 32); break;
	case 1: n = relay_tun(&rl, now, st.pkt, len, acts, 32); break;
	default: n = relay_tick(&rl, now, acts, 32); len = 0; break;
	}
	fuzz_check_actions(acts, n, st.pkt, len, &rl.peers);
	rl.trust.n = 0; /* as the shell empties it */
	return 0;
}
