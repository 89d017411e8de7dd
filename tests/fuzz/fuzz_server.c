/* libFuzzer: the server's whole packet-handling entry point, state carried across
 * inputs. The first 7 bytes choose the socket and the UDP source; the rest is the
 * datagram. Checks that every action stays within its buffers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "core/server.h"
#include "wire/teredo_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server srv;
static int ready;
static uint64_t now = 1000000;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		struct server_config c = {
			.primary = htonl(0xc633640a), .secondary = htonl(0xc633640b),
			.prefix = TEREDO_PREFIX_DEFAULT, .mtu = 1280, .ipv6_egress = true,
			.max_icmp_payload = 88, .rs_rate = 3,
		};
		static const uint8_t key[16] = { 5 };
		server_init(&srv, &c, key);
		ready = 1;
	}
	if (size < 7)
		return 0;
	struct sw_endpoint src;
	memcpy(&src.ip, data + 1, 4);
	memcpy(&src.port, data + 5, 2);
	int sock = data[0] & 1;
	now += (uint64_t)(data[0] >> 1) * 10; /* the RA limit's clock */
	const uint8_t *pkt = data + 7;
	size_t len = size - 7;
	struct sw_action a;
	int n = server_handle(&srv, now, sock, src, pkt, len, &a);
	if (n < 0 || n > 1)
		__builtin_trap();
	if (n == 1) {
		if (a.hdr_len > sizeof a.hdr || a.sock > 1)
			__builtin_trap();
		if (a.body_len && (a.body < pkt || a.body + a.body_len > pkt + len))
			__builtin_trap();
	}
	return 0;
}
