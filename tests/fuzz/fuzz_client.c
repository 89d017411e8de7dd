/* libFuzzer: the client's whole packet-handling entry points with state carried across
 * inputs. The first byte picks the input (UDP datagram, host packet, discovery datagram,
 * timer), the next
 * six the UDP source and the next two how far the clock moves. A fake server answers
 * the first RS so that most inputs reach a qualified client. Two clients: one behind a
 * cone NAT, one behind a port-preserving symmetric NAT with random ports (RFC 6081 §5.4,
 * §5.5), whose sockets 2 and 3 get inputs too; a fake shell reopens a returned port. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/client.h"
#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"

#include "fuzz_qualify.h"
#include "fuzz_step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct client cl, cs;
static int ready;
static uint16_t next_port = 50000;
static uint64_t now = 1000000;
static uint32_t rng_state = 1;

static void rng(void *ctx, void *out, size_t len)
{
	uint8_t *p = out;
	for (size_t i = 0; i < len; i++) {
		rng_state = rng_state * 1103515245u + 12345u;
		p[i] = (uint8_t)(rng_state >> 16);
	}
}

static void qualify(struct client *x, bool symmetric)
{
	struct client_config c = {
		.server = htonl(0xc633640a), .server2 = htonl(0xc633640b), .prefix = TEREDO_PREFIX_DEFAULT,
		.refresh_ms = 30000, .peer_capacity = 64, .queue_pool = 32, .queue_per_peer = 4,
		.local_discovery = true,
		.symmetric_nat = true,
		.nat_probe = true,
		.load_reduction = true,
		.hairpinning = true,
		.local_port = htons(40000),
		.port_preserving_nat = true, .sequential_nat = true,
		.random_ports = symmetric ? 2 : 0,
		.upnp = symmetric,
		.refresh_discovery = true, .refresh_min_ms = 10000, /* RFC 4380 §5.2.7 */
		.dormant_idle_ms = symmetric ? 0 : 10000, /* Dormant mode (issue 11) */
	};
	client_init(x, &c, rng, NULL);
	client_fast_path(x); /* the trust journal too (issue 10) */
	/* The symmetric one sits behind a single UPnP IGD (RFC 6081 §5.3, X-24, X-26). */
	if (symmetric)
		client_upnp(x, htonl(0xcb007107), htons(40000));
	for (unsigned i = 0; i < c.random_ports; i++)
		client_random_port_ready(x, i, htons(next_port++));
	fuzz_qualify(x, &c, now, symmetric, NULL);
}

/* The shell's part: a port the core gave back is open again on a new number. */
static void renew(struct client *x, const struct sw_action *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].kind == SW_ACT_RENEW_SOCK && a[i].sock >= CLIENT_SOCK_RANDOM)
			client_random_port_ready(x, a[i].sock - CLIENT_SOCK_RANDOM, htons(next_port++));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_action acts[32];
	if (!ready) {
		qualify(&cl, false);
		qualify(&cs, true);
		ready = 1;
	}
	struct fuzz_step st;
	if (!fuzz_step_decode(data, size, &now, &st))
		return 0;
	size_t len = st.len;
	int n;
	struct client *x = st.op & 32 ? &cs : &cl;
	switch (st.op % 4) {
	case 0:
		/* Socket 0 (Teredo) or, now and then, socket 1 (the NAT probe's); for the
		 * symmetric client also its random ports 2 and 3. */
		n = client_udp_on(x, now, x == &cs ? (st.op >> 3) & 3 : (st.op & 8) && (st.op & 16), st.src, st.pkt,
				  len, acts, 32);
		break;
	case 1:
		n = client_tun(x, now, st.pkt, len, acts, 32);
		break;
	case 2:
		n = client_discovery(x, now, st.src, st.op & 4, st.pkt, len, acts, 32);
		break;
	default:
		n = client_tick(x, now, acts, 32);
		len = 0;
		break;
	}
	fuzz_check_actions(acts, n, st.pkt, len, &x->peers);
	x->trust.n = 0; /* as the shell empties it */
	x->trust.reset = false;
	renew(x, acts, n);
	return 0;
}
