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
			.self = { htonl(0xc633641e), htons(3544) },
			.peer_capacity = 64, .queue_pool = 32, .queue_per_peer = 4,
		};
		relay_init(&rl, &c, rng, NULL);
		struct in6_addr local;
		inet_pton(AF_INET6, "2001:db8:1::40", &local);
		relay_set_local(&rl, &local, 1);
		ready = 1;
	}
	if (size < 9)
		return 0;
	struct sw_endpoint src;
	memcpy(&src.ip, data + 1, 4);
	memcpy(&src.port, data + 5, 2);
	now += (uint64_t)(data[7] << 8 | data[8]) * 4;
	const uint8_t *pkt = data + 9;
	size_t len = size - 9;
	int n;
	switch (data[0] % 3) {
	case 0: n = relay_udp(&rl, now, src, pkt, len, acts, 32); break;
	case 1: n = relay_tun(&rl, now, pkt, len, acts, 32); break;
	default: n = relay_tick(&rl, now, acts, 32); len = 0; break;
	}
	if (n < 0 || n > 32)
		__builtin_trap();
	const uint8_t *pool = (const uint8_t *)rl.peers.pool;
	size_t pool_len = rl.peers.pool_size * sizeof rl.peers.pool[0];
	for (int i = 0; i < n; i++) {
		const uint8_t *b = acts[i].body;
		if (acts[i].hdr_len > sizeof acts[i].hdr)
			__builtin_trap();
		if (acts[i].body_len && !((b >= pkt && b + acts[i].body_len <= pkt + len) ||
					  (b >= pool && b + acts[i].body_len <= pool + pool_len)))
			__builtin_trap();
	}
	return 0;
}
