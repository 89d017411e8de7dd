/* The server's XDP program (issue 10, src/bpf/teredo_srv.bpf.c) run on crafted frames
 * through BPF_PROG_TEST_RUN, each answer compared byte for byte with what the core
 * (core/server.c) sends for the same datagram. The bubble cases need a route and a
 * neighbour: the test makes its own network namespace with a veth pair in it. Needs
 * root; `make check` runs as root. */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"
#include "helpers.h"
#include "core/server.h"
#include "core/siphash.h"
#include "sys/fastpath.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

#define PRIMARY "198.51.100.10"
#define SECONDARY "198.51.100.11"
#define NEIGH_MAC "\x02\x00\x00\x00\x00\x22"

static struct fastpath_srv *fs;
static int prog;
static struct server core;
static uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static uint8_t pkt[2048], out[2048];
static uint32_t out_len;
static int veth; /* ifindex of the test namespace's veth, 0 without one */

static void configure(uint32_t rs_rate)
{
	struct server_config sc = { .primary = A4(PRIMARY), .secondary = A4(SECONDARY),
				    .prefix = TEREDO_PREFIX_DEFAULT, .mtu = 1280, .rs_rate = rs_rate };
	server_init(&core, &sc, key);
	struct fps_config c = { .primary = sc.primary, .secondary = sc.secondary, .prefix = htonl(sc.prefix),
				.rs_rate = rs_rate, .key = { siphash_le64(key), siphash_le64(key + 8) }, .on = 1 };
	server_ra_template(&core, c.ra);
	assert_int_equal(fastpath_srv_configure(fs, &c), 0);
}

static int setup(void **state)
{
	char why[160];
	fs = fastpath_srv_open(0, NULL, why, sizeof why);
	if (!fs) {
		fprintf(stderr, "fastpath_srv_open: %s\n", why);
		return -1;
	}
	prog = fastpath_srv_prog_fd(fs);
	configure(0);
	return 0;
}

static int teardown(void **state)
{
	fastpath_srv_close(fs);
	return 0;
}

/* Ethernet (to us, from the router) + IPv4 + UDP from src to dst:3544 + body, with its
 * UDP checksum; returns the frame's length. */
static size_t frame(struct sw_endpoint src, const char *dst, const uint8_t *body, size_t blen)
{
	return udp4_frame(pkt, "\x02\x00\x00\x00\x00\x10", NEIGH_MAC, src, A4(dst), 3544, body, blen, true);
}

static int run(size_t len)
{
	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)veth };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof out, .repeat = 1);
	if (veth) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof ctx;
	}
	assert_int_equal(bpf_prog_test_run_opts(prog, &o), 0);
	out_len = o.data_size_out;
	return (int)o.retval;
}

static uint64_t counter(enum fps_counter k)
{
	uint64_t c[FPS__COUNT];
	fastpath_srv_counters(fs, c);
	return c[k];
}

/* The frame the program sent must be the core's answer to the same datagram: the
 * same source address, destination and UDP payload, with valid IPv4 and UDP checksums. */
static void expect_core_answer(int sock, struct sw_endpoint src, const uint8_t *body, size_t blen)
{
	struct sw_action a;
	assert_int_equal(server_handle(&core, 1000, sock, src, body, blen, &a), 1);
	uint8_t want[2048];
	memcpy(want, a.hdr, a.hdr_len);
	if (a.body_len)
		memcpy(want + a.hdr_len, a.body, a.body_len);
	size_t wlen = a.hdr_len + a.body_len;
	const uint8_t *ip = out + 14;
	assert_int_equal(out_len, 14 + 28 + wlen);
	assert_int_equal(get_be16(out + 12), 0x0800);
	assert_int_equal(ones_sum(ip, 20, 0), 0xffff);
	assert_int_equal(get_be16(ip + 2), 28 + wlen);
	uint32_t from = a.sock == SERVER_SOCK_PRIMARY ? A4(PRIMARY) : A4(SECONDARY);
	assert_memory_equal(ip + 12, &from, 4);
	assert_memory_equal(ip + 16, &a.dst.ip, 4);
	assert_int_equal(get_be16(ip + 20), 3544);
	assert_memory_equal(ip + 22, &a.dst.port, 2);
	assert_int_equal(get_be16(ip + 24), 8 + wlen);
	assert_int_equal(udp4_sum(ip), 0xffff);
	assert_memory_equal(ip + 28, want, wlen);
}

static void passed_untouched(size_t len)
{
	uint64_t before = counter(FPS_PASS);
	assert_int_equal(run(len), XDP_PASS);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(counter(FPS_PASS), before + 1);
}

/* RFC 4380 §5.3.2 (S-15, S-19): an RS with a nonce-only authentication header gets the
 * core's RA (nonce echoed, origin indication, prefix on the primary address) from the
 * address it came to, sent back out of the interface to the router it came from. */
static void s15_s19_rs_answered_as_the_core_answers(void **state)
{
	struct sw_endpoint c = EP("203.0.113.7", 40000);
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	uint8_t nonce[8] = { 9, 8, 7, 6, 5, 4, 3, 2 }, body[128];
	size_t blen = make_rs(body, &ll, nonce);
	size_t len = frame(c, PRIMARY, body, blen);
	assert_int_equal(run(len), XDP_TX);
	assert_memory_equal(out, NEIGH_MAC, 6);
	assert_memory_equal(out + 6, "\x02\x00\x00\x00\x00\x10", 6);
	expect_core_answer(SERVER_SOCK_PRIMARY, c, body, blen);
	assert_int_equal(counter(FPS_RS_ANSWERED), 1);
	/* The same RS to the secondary address is answered from there. */
	len = frame(c, SECONDARY, body, blen);
	assert_int_equal(run(len), XDP_TX);
	expect_core_answer(SERVER_SOCK_SECONDARY, c, body, blen);
}

/* S-17 (RFC 5991 §3.2): C = 1 in the source asks for the answer from the other address;
 * an RS without authentication is answered without it. */
static void s17_cone_flag_answer_from_the_other_address(void **state)
{
	struct sw_endpoint c = EP("203.0.113.8", 5555);
	struct in6_addr ll = A6("fe80::8000:ffff:ffff:fffe");
	uint8_t body[128];
	size_t blen = make_rs(body, &ll, NULL);
	assert_int_equal(run(frame(c, PRIMARY, body, blen)), XDP_TX);
	expect_core_answer(SERVER_SOCK_PRIMARY, c, body, blen);
	uint32_t sec = A4(SECONDARY);
	assert_memory_equal(out + 14 + 12, &sec, 4);
	assert_int_equal(run(frame(c, SECONDARY, body, blen)), XDP_TX);
	expect_core_answer(SERVER_SOCK_SECONDARY, c, body, blen);
}

/* S-20 (RFC 4861 §6.1.1), S-05, S-23 and the forms the program leaves to the core: each
 * goes up to the daemon's socket unchanged. */
static void s20_s05_s23_and_other_forms_go_to_the_daemon(void **state)
{
	struct sw_endpoint c = EP("203.0.113.7", 40000);
	struct in6_addr ll = A6("fe80::1"), g = A6("2001:db8::1");
	uint8_t nonce[8] = { 1 }, body[128];
	size_t blen = make_rs(body, &ll, nonce);
	uint8_t *ip6 = body + TEREDO_AUTH_MIN_LEN;

	body[TEREDO_AUTH_MIN_LEN + 42] ^= 1; /* ICMPv6 checksum */
	passed_untouched(frame(c, PRIMARY, body, blen));
	blen = make_rs(body, &ll, nonce);
	ip6[7] = 254; /* hop limit */
	passed_untouched(frame(c, PRIMARY, body, blen));
	blen = make_rs(body, &g, nonce); /* not link-local */
	passed_untouched(frame(c, PRIMARY, body, blen));
	blen = make_rs(body, &ll, nonce);
	ip6[24 + 15] = 1; /* to ff02::1 */
	passed_untouched(frame(c, PRIMARY, body, blen));
	blen = make_rs(body, &ll, nonce);
	body[2] = 1; /* an identifier: secure qualification is the core's to refuse */
	passed_untouched(frame(c, PRIMARY, body, blen));
	blen = make_rs(body, &ll, nonce);
	passed_untouched(frame(EP("10.1.2.3", 4000), PRIMARY, body, blen));      /* S-05 */
	passed_untouched(frame(EP(PRIMARY, 3544), SECONDARY, body, blen));       /* S-23 */
	passed_untouched(frame(c, PRIMARY, body, blen - 1));                      /* short */
	size_t len = frame(c, PRIMARY, body, blen);
	pkt[14 + 26] ^= 1; /* UDP checksum */
	passed_untouched(len);
	len = frame(c, PRIMARY, body, blen);
	pkt[14 + 6] = 0x20; /* MF: a fragment */
	passed_untouched(len);
	len = frame(c, PRIMARY, body, blen);
	pkt[14 + 8] = 63; /* the IPv4 header checksum no longer holds */
	passed_untouched(len);
	/* Not to a server address and port: untouched and not even counted. */
	uint64_t before = counter(FPS_PASS);
	len = frame(c, "198.51.100.12", body, blen);
	assert_int_equal(run(len), XDP_PASS);
	assert_memory_equal(out, pkt, len);
	len = frame(c, PRIMARY, body, blen);
	put_be16(pkt + 14 + 22, 3545);
	assert_int_equal(run(len), XDP_PASS);
	len = frame(c, PRIMARY, body, blen);
	pkt[0] = 0xff; /* broadcast frame */
	assert_int_equal(run(len), XDP_PASS);
	assert_int_equal(counter(FPS_PASS), before);
	assert_int_equal(counter(FPS_RS_ANSWERED), 0);
}

/* SEC-17 (RFC 4380 §7.3.5): the per-address RA limit in the core's buckets; an RS over
 * it is dropped as the core drops it, another address is still answered. */
static void sec17_ra_limit_per_address(void **state)
{
	configure(2);
	struct in6_addr ll = A6("fe80::1");
	uint8_t body[128];
	size_t blen = make_rs(body, &ll, NULL);
	struct sw_endpoint c = EP("203.0.113.7", 40000);
	assert_int_equal(run(frame(c, PRIMARY, body, blen)), XDP_TX);
	assert_int_equal(run(frame(c, PRIMARY, body, blen)), XDP_TX);
	assert_int_equal(run(frame(EP("203.0.113.7", 40001), PRIMARY, body, blen)), XDP_DROP);
	assert_int_equal(counter(FPS_RS_LIMITED), 1);
	assert_int_equal(run(frame(EP("203.0.113.9", 40000), PRIMARY, body, blen)), XDP_TX);
	/* One hash for both: the core's bucket function is the inline one the program uses. */
	uint32_t ip = A4("203.0.113.7");
	assert_int_equal(server_rs_bucket(&core, ip), siphash24(key, &ip, 4) % SERVER_RS_BUCKETS);
}

/* SEC-17 with issue 10: one RA limit whichever answers. The daemon maps the program's
 * buckets and its core takes from them (server_share_rs_buckets), so an address that
 * sends the forms only the daemon answers (an RS with options, say) and the forms the
 * program answers gets the rate once, not once from each. */
static void sec17_one_ra_limit_for_the_program_and_the_daemon(void **state)
{
	configure(3);
	uint64_t *buckets = fastpath_srv_rs_buckets(fs);
	assert_non_null(buckets);
	server_share_rs_buckets(&core, buckets);
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts); /* the program's clock, as the daemon's */
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	struct in6_addr ll = A6("fe80::1");
	uint8_t body[128];
	size_t blen = make_rs(body, &ll, NULL);
	struct sw_endpoint c = EP("203.0.113.7", 40000);
	struct sw_action a;
	/* The daemon answers two; the bucket they came from is the program's. */
	assert_int_equal(server_handle(&core, now, SERVER_SOCK_PRIMARY, c, body, blen, &a), 1);
	assert_int_equal(server_handle(&core, now, SERVER_SOCK_PRIMARY, c, body, blen, &a), 1);
	assert_int_not_equal(buckets[server_rs_bucket(&core, c.ip)], 0);
	/* The program answers the third and refuses the fourth ... */
	assert_int_equal(run(frame(c, PRIMARY, body, blen)), XDP_TX);
	assert_int_equal(run(frame(c, PRIMARY, body, blen)), XDP_DROP);
	assert_int_equal(counter(FPS_RS_LIMITED), 1);
	/* ... and so does the daemon now, in the same second. */
	assert_int_equal(server_handle(&core, now, SERVER_SOCK_PRIMARY, c, body, blen, &a), 0);
	assert_int_equal(core.stats.dropped[SRV_DROP_RS_RATE], 1);
	/* Another address has its own bucket. */
	assert_int_equal(server_handle(&core, now, SERVER_SOCK_PRIMARY, EP("203.0.113.9", 40000), body, blen, &a), 1);
}

/* A network namespace of the test's own with a veth whose IPv4 forwarding is on (the
 * kernel answers XDP's route lookups only then) and a neighbour for 198.51.100.0/24. */
static bool make_namespace(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return false;
	const char *cmds[] = {
		"ip link add swt0 type veth peer name swt1",
		"ip link set swt0 up",
		"ip link set swt1 up",
		"ip addr add " PRIMARY "/24 dev swt0",
		"ip addr add " SECONDARY "/24 dev swt0",
		"ip route add 203.0.113.0/24 via 198.51.100.1",
		"ip neigh replace 198.51.100.1 lladdr 02:00:00:00:00:22 dev swt0 nud permanent",
		"sysctl -qw net.ipv4.conf.swt0.forwarding=1",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (system(cmds[i]) != 0)
			return false;
	veth = (int)if_nametoindex("swt0");
	return veth > 0;
}

/* RFC 4380 §5.3.1 (S-07, S-13, S-14): a bubble from a client at its own mapping to one
 * of our clients is forwarded to that client's mapping from the primary address, with
 * an origin indication; to another server's client without one. */
static void s13_s14_bubbles_forwarded_as_the_core_forwards(void **state)
{
	struct sw_endpoint a = EP("203.0.113.7", 40000), b = EP("203.0.113.8", 50000);
	struct in6_addr ta = teredo_of(PRIMARY, a, 0), tb = teredo_of(PRIMARY, b, 0);
	struct in6_addr other = teredo_of("192.0.2.1", b, 0);
	uint8_t body[64];
	size_t blen = make_bubble(body, &ta, &tb);
	assert_int_equal(run(frame(a, PRIMARY, body, blen)), XDP_TX);
	assert_memory_equal(out, NEIGH_MAC, 6);
	expect_core_answer(SERVER_SOCK_PRIMARY, a, body, blen);
	assert_int_equal(out_len, 14 + 28 + 8 + 40); /* with the origin indication */
	blen = make_bubble(body, &ta, &other);
	assert_int_equal(run(frame(a, SECONDARY, body, blen)), XDP_TX);
	expect_core_answer(SERVER_SOCK_SECONDARY, a, body, blen);
	assert_int_equal(out_len, 14 + 28 + 40);
	/* A relay's indirect bubble: a native source to our client. */
	struct in6_addr relay = A6("fe80::1:2");
	blen = make_bubble(body, &relay, &tb);
	assert_int_equal(run(frame(EP("198.51.100.30", 3544), PRIMARY, body, blen)), XDP_TX);
	expect_core_answer(SERVER_SOCK_PRIMARY, EP("198.51.100.30", 3544), body, blen);
	assert_int_equal(counter(FPS_BUBBLE_FWD), 3);
}

/* S-07, S-08, S-13: what the core refuses is left to it; a bubble whose answer has no
 * neighbour yet too. */
static void s07_s08_s13_refused_bubbles_go_to_the_daemon(void **state)
{
	struct sw_endpoint a = EP("203.0.113.7", 40000), b = EP("203.0.113.8", 50000);
	struct in6_addr ta = teredo_of(PRIMARY, a, 0), tb = teredo_of(PRIMARY, b, 0);
	uint8_t body[64];
	size_t blen = make_bubble(body, &ta, &tb);
	passed_untouched(frame(EP("203.0.113.7", 40001), PRIMARY, body, blen)); /* S-07 */
	struct in6_addr native = A6("2001:db8::5"), other = teredo_of("192.0.2.1", b, 0);
	blen = make_bubble(body, &native, &other);
	passed_untouched(frame(a, PRIMARY, body, blen)); /* S-08: not our client */
	blen = make_bubble(body, &ta, &native);
	passed_untouched(frame(a, PRIMARY, body, blen)); /* to a native host */
	struct in6_addr priv = teredo_of(PRIMARY, EP("10.0.0.1", 1), 0), self = teredo_of(PRIMARY, EP(SECONDARY, 3544), 0);
	blen = make_bubble(body, &ta, &priv);
	passed_untouched(frame(a, PRIMARY, body, blen)); /* S-13: not global */
	blen = make_bubble(body, &ta, &self);
	passed_untouched(frame(a, PRIMARY, body, blen)); /* S-13: ourselves */
	/* RFC 6081 trailers after the bubble: the core's. */
	blen = make_bubble(body, &ta, &tb);
	memcpy(body + blen, "\x01\x04\x01\x02\x03\x04\x05\x06\x07\x08", 10);
	passed_untouched(frame(a, PRIMARY, body, blen + 10));
	/* No neighbour for the mapping's next hop. */
	assert_int_equal(system("ip route replace 203.0.113.0/24 via 198.51.100.2"), 0);
	blen = make_bubble(body, &ta, &tb);
	size_t len = frame(a, PRIMARY, body, blen);
	assert_int_equal(run(len), XDP_PASS);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(counter(FPS_NO_ROUTE), 1);
	assert_int_equal(system("ip route replace 203.0.113.0/24 via 198.51.100.1"), 0);
}

static void unconfigured_passes_everything(void **state)
{
	struct fps_config c = { 0 };
	assert_int_equal(fastpath_srv_configure(fs, &c), 0);
	struct in6_addr ll = A6("fe80::1");
	uint8_t body[128];
	size_t len = frame(EP("203.0.113.7", 1), PRIMARY, body, make_rs(body, &ll, NULL));
	assert_int_equal(run(len), XDP_PASS);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(counter(FPS_PASS), 0);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf_srv: needs root (BPF_PROG_TEST_RUN)\n");
		return 1;
	}
	if (!make_namespace()) {
		fprintf(stderr, "test_bpf_srv: cannot make the test's network namespace: %s\n", strerror(errno));
		return 1;
	}
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(s15_s19_rs_answered_as_the_core_answers),
		T(s17_cone_flag_answer_from_the_other_address),
		T(s20_s05_s23_and_other_forms_go_to_the_daemon),
		T(sec17_ra_limit_per_address),
		T(sec17_one_ra_limit_for_the_program_and_the_daemon),
		T(s13_s14_bubbles_forwarded_as_the_core_forwards),
		T(s07_s08_s13_refused_bubbles_go_to_the_daemon),
		T(unconfigured_passes_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
