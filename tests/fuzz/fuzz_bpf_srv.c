/* libFuzzer, differential: the server's XDP program (src/bpf/teredo_srv.bpf.c) against
 * the core it mirrors (core/server.c server_handle), the server's lane beside
 * fuzz_bpf.c's three. Each input is one frame to the server's interface, run through the
 * program with BPF_PROG_TEST_RUN; the core lives as the daemon's does: every datagram the
 * program leaves to the daemon and its sockets would receive goes to it, and it takes
 * the RA limit's tokens from the program's own buckets (server_share_rs_buckets), at
 * 50 RAs a second per address so that the limit is met as often as not.
 *
 * What must hold, whatever the frame:
 * - a frame the program passes (XDP_PASS) is untouched, byte for byte;
 * - a frame it answers (XDP_TX) is a datagram the daemon's socket would receive (IPv4
 *   header checksum right, no fragment, UDP checksum right or none, to one of our two
 *   addresses and port 3544), and the answer is exactly the core's for that datagram:
 *   from the address of the core's socket, to its destination, the same UDP payload,
 *   both checksums right, DF set, to the neighbour the question came from (an RA) or to
 *   the route's neighbour (a forwarded bubble);
 * - a frame it drops (XDP_DROP) is an RS over the RA limit, and the core, asked at the
 *   time read before the program ran (no later than the program's clock), refuses it
 *   too; an answer is checked against the core at the time read after (no earlier).
 *   The bucket word is put back between the two, so that each RS costs one token, as in
 *   the daemon.
 * Leaving more to the daemon than the core would answer is allowed; answering what the
 * core would not, or otherwise, is the bug this target looks for.
 *
 * Byte 0 of an input: bit 0 the destination (primary, secondary); bits 1-2 the UDP
 * source (0: bytes 1-6; 1: the mapping inside the inner IPv6 packet's Teredo source, as
 * a client sending from its own mapping; 2: bytes 1-6 with the address made one of four
 * in 203.0.113.0/24, so that the RA limit's buckets fill; 3: one of our own addresses,
 * port from bytes 5-6); bits 3-4 the UDP checksum (none, right, wrong, right); bit 5
 * corrects the inner ICMPv6 checksum; bit 6 spoils the outer headers in the way byte
 * 1's low bits choose (a fragment, a bad IPv4 header checksum, another port, a
 * broadcast frame); bytes 7- are the UDP payload. The bubbles' routes need an interface:
 * the target makes its own network namespace with a veth pair, a default route and a
 * neighbour. Needs root (CAP_BPF, CAP_NET_ADMIN), as test_bpf_srv does. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/server.h"
#include "core/siphash.h"
#include "frames.h"
#include "sys/fastpath.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PRIMARY 0xc633640au   /* 198.51.100.10 */
#define SECONDARY 0xc633640bu /* 198.51.100.11 */
#define PORT 3544
#define RS_RATE 50
#define ROUTER_MAC "\x02\x00\x00\x00\x00\x10"
#define OUR_MAC "\x02\x00\x00\x00\x00\x11"
#define NEIGH_MAC "\x02\x00\x00\x00\x00\x22"

static struct fastpath_srv *fs;
static struct server core;
static uint64_t *buckets;
static int prog, veth, ready;
static uint8_t pkt[2048], out[2048];
static unsigned long n_run, n_tx_ra, n_tx_bubble, n_drop;

#define MUST(cond, ...)                                                                    \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_bpf_srv: %s: ", #cond);                      \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* The daemon's clock (CLOCK_BOOTTIME ms), which the program reads for the RA limit. */
static uint64_t boot_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void report(void)
{
	fprintf(stderr, "fuzz_bpf_srv: teredo_srv ran %lu times: answered %lu RSs, forwarded %lu bubbles, dropped %lu over the RA limit\n",
		n_run, n_tx_ra, n_tx_bubble, n_drop);
}

/* As test_bpf_srv: our two addresses on a veth with IPv4 forwarding on (the kernel
 * answers XDP's route lookups only then), every other address behind one neighbour. */
static void setup(void)
{
	MUST(unshare(CLONE_NEWNET) == 0, "unshare: needs root");
	const char *cmds[] = {
		"ip link add swf0 address 02:00:00:00:00:11 type veth peer name swf1",
		"ip link set swf0 up",
		"ip link set swf1 up",
		"ip addr add 198.51.100.10/24 dev swf0",
		"ip addr add 198.51.100.11/24 dev swf0",
		"ip route add default via 198.51.100.1",
		"ip neigh replace 198.51.100.1 lladdr 02:00:00:00:00:22 dev swf0 nud permanent",
		"sysctl -qw net.ipv4.conf.swf0.forwarding=1",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		MUST(system(cmds[i]) == 0, "%s", cmds[i]);
	veth = (int)if_nametoindex("swf0");
	MUST(veth > 0, "no swf0");
	char why[160];
	fs = fastpath_srv_open(0, NULL, why, sizeof why);
	MUST(fs, "fastpath_srv_open: %s", why);
	prog = fastpath_srv_prog_fd(fs);
	static const uint8_t key[16] = { 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	/* The daemon's configuration (server_io.c): what the core is told, the program is. */
	struct server_config sc = { .primary = htonl(PRIMARY), .secondary = htonl(SECONDARY),
				    .prefix = TEREDO_PREFIX_DEFAULT, .mtu = 1280, .ipv6_egress = true,
				    .max_icmp_payload = 88, .rs_rate = RS_RATE };
	server_init(&core, &sc, key);
	struct fps_config c = { .primary = sc.primary, .secondary = sc.secondary, .prefix = htonl(sc.prefix),
				.rs_rate = sc.rs_rate, .key = { siphash_le64(key), siphash_le64(key + 8) }, .on = 1 };
	server_ra_template(&core, c.ra);
	MUST(fastpath_srv_configure(fs, &c) == 0, "fastpath_srv_configure");
	buckets = fastpath_srv_rs_buckets(fs);
	MUST(buckets, "the RA limit's buckets are not mapped");
	server_share_rs_buckets(&core, buckets);
	atexit(report);
	ready = 1;
}

/* Where the IPv6 packet lies in a Teredo payload: after an authentication header and an
 * origin indication, each if present (RFC 4380 §5.1.1). */
static size_t inner_offset(const uint8_t *p, size_t n)
{
	size_t off = 0;
	if (n >= 13 && p[0] == 0 && p[1] == 1)
		off = 13 + (size_t)p[2] + p[3];
	if (n >= off + 8 && p[off] == 0 && p[off + 1] == 0)
		off += 8;
	return off;
}

/* Bit 5: the inner packet's ICMPv6 checksum made right, so that RSs reach the program's
 * deepest checks without the fuzzer guessing a sum. */
static void fix_icmp6(uint8_t *p, size_t n)
{
	size_t off = inner_offset(p, n);
	if (n < off + 40 + 4)
		return;
	uint8_t *ip6 = p + off;
	size_t l4 = get_be16(ip6 + 4);
	if ((ip6[0] >> 4) != 6 || ip6[6] != 58 || off + 40 + l4 > n || l4 < 4)
		return;
	struct in6_addr s, d;
	memcpy(&s, ip6 + 8, 16);
	memcpy(&d, ip6 + 24, 16);
	put_be16(ip6 + 42, 0);
	put_be16(ip6 + 42, icmp6_checksum(&s, &d, ip6 + 40, l4));
}

/* The frame for an input; its UDP payload is at pkt + 42. */
static size_t frame(const uint8_t *d, size_t n)
{
	uint8_t op = d[0];
	uint8_t pay[1500];
	size_t plen = n - 7 > sizeof pay ? sizeof pay : n - 7;
	memcpy(pay, d + 7, plen);
	if (op & 0x20)
		fix_icmp6(pay, plen);
	struct sw_endpoint src;
	memcpy(&src.ip, d + 1, 4);
	memcpy(&src.port, d + 5, 2);
	switch ((op >> 1) & 3) {
	case 1: {
		size_t off = inner_offset(pay, plen);
		if (plen >= off + 40) {
			struct in6_addr s6;
			struct teredo_addr t;
			memcpy(&s6, pay + off + 8, 16);
			teredo_addr_decode(&s6, &t);
			src = t.mapped;
		}
		break;
	}
	case 2: src.ip = htonl(0xcb007100u | (d[1] & 3)); break; /* 203.0.113.0-3 */
	case 3: src.ip = htonl(d[1] & 1 ? SECONDARY : PRIMARY); break;
	}
	int sum = (op >> 3) & 3;
	uint16_t dport = PORT;
	if ((op & 0x40) && (d[1] & 3) == 2)
		dport = PORT + 1;
	size_t len = udp4_frame(pkt, OUR_MAC, ROUTER_MAC, src, htonl(op & 1 ? SECONDARY : PRIMARY), dport, pay,
				plen, sum != 0);
	if (sum == 2)
		pkt[14 + 26] ^= 1;
	if (op & 0x40) {
		uint8_t *ip = pkt + 14;
		switch (d[1] & 3) {
		case 0: /* a first fragment: its header checksum stays right */
			put_be16(ip + 6, 0x2000);
			put_be16(ip + 10, 0);
			put_be16(ip + 10, (uint16_t)~ones_sum(ip, 20, 0));
			break;
		case 1: ip[10] ^= 0x40; break;
		case 3: memset(pkt, 0xff, 6); break;
		}
	}
	return len;
}

/* The datagram the daemon's socket for our address would receive for this frame, and on
 * which of the two sockets; false when neither would. */
static bool as_socket_sees(size_t len, int *sock, struct sw_endpoint *src, const uint8_t **pay, size_t *plen)
{
	struct sw_endpoint dst;
	if (!udp4_received(pkt, len, src, &dst, pay, plen) || dst.port != htons(PORT) ||
	    (dst.ip != htonl(PRIMARY) && dst.ip != htonl(SECONDARY)))
		return false;
	*sock = dst.ip == htonl(PRIMARY) ? SERVER_SOCK_PRIMARY : SERVER_SOCK_SECONDARY;
	return true;
}

static int run(size_t len, uint32_t *olen)
{
	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)veth };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof out, .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = 1);
	int r = bpf_prog_test_run_opts(prog, &o);
	MUST(r == 0, "test run failed (%d)", r);
	*olen = o.data_size_out;
	return (int)o.retval;
}

/* The program's answer against the core's action a for the same datagram. */
static void same_answer(const struct sw_action *a, uint32_t olen, bool ra)
{
	uint8_t want[2048];
	memcpy(want, a->hdr, a->hdr_len);
	if (a->body_len)
		memcpy(want + a->hdr_len, a->body, a->body_len);
	size_t wlen = a->hdr_len + a->body_len;
	const uint8_t *ip = out + 14;
	MUST(olen == 14 + 28 + wlen, "the answer is %u bytes, the core's %zu", olen, 14 + 28 + wlen);
	MUST(get_be16(out + 12) == 0x0800, "the answer is not IPv4");
	if (ra) /* back to the neighbour the RS came from */
		MUST(!memcmp(out, pkt + 6, 6) && !memcmp(out + 6, pkt, 6), "the RA goes to another neighbour");
	else
		MUST(!memcmp(out, NEIGH_MAC, 6) && !memcmp(out + 6, OUR_MAC, 6), "the bubble goes to another neighbour");
	MUST(ip[0] == 0x45 && ones_sum(ip, 20, 0) == 0xffff && get_be16(ip + 2) == 28 + wlen && ip[9] == 17 &&
		     get_be16(ip + 6) == 0x4000,
	     "the answer's IPv4 header is wrong");
	uint32_t from = htonl(a->sock == SERVER_SOCK_PRIMARY ? PRIMARY : SECONDARY);
	MUST(!memcmp(ip + 12, &from, 4) && !memcmp(ip + 16, &a->dst.ip, 4), "the answer's addresses are not the core's");
	MUST(get_be16(ip + 20) == PORT && !memcmp(ip + 22, &a->dst.port, 2) && get_be16(ip + 24) == 8 + wlen,
	     "the answer's ports or UDP length are not the core's");
	MUST(udp4_sum(ip) == 0xffff, "the answer's UDP checksum is wrong");
	MUST(!memcmp(ip + 28, want, wlen), "the answer's payload is not the core's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 7)
		return 0;
	size_t len = frame(data, size);
	int sock;
	struct sw_endpoint src;
	const uint8_t *pay;
	size_t plen;
	bool seen = as_socket_sees(len, &sock, &src, &pay, &plen);
	uint32_t bucket = seen ? server_rs_bucket(&core, src.ip) : 0;
	uint64_t word = buckets[bucket];
	uint64_t before = boot_ms();
	uint32_t olen;
	int r = run(len, &olen);
	uint64_t after = boot_ms();
	n_run++;
	struct sw_action a;
	switch (r) {
	case XDP_PASS:
		MUST(olen == len && !memcmp(out, pkt, len), "teredo_srv changed a frame it passed");
		if (seen)
			server_handle(&core, after, sock, src, pay, plen, &a);
		break;
	case XDP_TX: {
		MUST(seen, "teredo_srv answered what the socket would not receive");
		buckets[bucket] = word;
		MUST(server_handle(&core, after, sock, src, pay, plen, &a) == 1, "the core does not answer it");
		/* An RA is longer than a bubble with its origin indication. */
		bool is_ra = olen > 14 + 28 + 8 + 40;
		same_answer(&a, olen, is_ra);
		if (is_ra)
			n_tx_ra++;
		else
			n_tx_bubble++;
		break;
	}
	case XDP_DROP: {
		MUST(seen, "teredo_srv dropped what the socket would not receive");
		buckets[bucket] = word;
		uint64_t limited = core.stats.dropped[SRV_DROP_RS_RATE];
		MUST(server_handle(&core, before, sock, src, pay, plen, &a) == 0 &&
			     core.stats.dropped[SRV_DROP_RS_RATE] == limited + 1,
		     "the core does not refuse it over the RA limit");
		n_drop++;
		break;
	}
	default:
		MUST(0, "teredo_srv returned %d", r);
	}
	return 0;
}
