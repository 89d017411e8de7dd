/* No amplification (RFC 4380 §7.4, SEC-08, SEC-10, SEC-13): for every kind of packet an
 * unauthenticated sender can throw at each role, count what the role sends in answer.
 * Allowed: a server answers an RS with one RA (the RFC's answer; the ratio is the RA's
 * size over the smallest RS, about 2.2); forwarding adds at most an 8-byte origin
 * indication; everything else answers with at most one packet no larger than what came
 * in. */
#include "helpers.h"

#include <stdio.h>

#include "wire/ipv6.h"
#include "wire/trailer.h"

#include "core/client.h"
#include "core/relay.h"
#include "core/server.h"

#define ACTS 32
static struct sw_action acts[ACTS];
static uint8_t buf[2048];

static size_t out_bytes(int n, size_t *npkts)
{
	size_t b = 0;
	*npkts = 0;
	for (int i = 0; i < n; i++) {
		if (acts[i].kind != SW_ACT_UDP && acts[i].kind != SW_ACT_IPV6)
			continue; /* TUN writes and address changes stay on this host */
		b += acts[i].hdr_len + acts[i].body_len;
		(*npkts)++;
	}
	return b;
}

/* The figures for the report: make unit prints them. */
static void report(const char *what, size_t in, size_t out, size_t n)
{
	printf("amplification: %-52s in %5zu B, out %5zu B in %zu packet(s), ratio %.2f\n", what, in, out, n,
	       in ? (double)out / (double)in : 0.0);
}

static void rng(void *ctx, void *out, size_t len)
{
	memset(out, 0x33, len);
}

static void sec08_server(void **state)
{
	struct server s;
	struct server_config c = { .primary = A4("198.51.100.10"), .secondary = A4("198.51.100.11"),
				   .prefix = TEREDO_PREFIX_DEFAULT, .mtu = 1280, .ipv6_egress = true,
				   .max_icmp_payload = 88, .rs_rate = 100 };
	static const uint8_t key[16] = { 9 };
	server_init(&s, &c, key);
	struct sw_endpoint from = EP("203.0.113.5", 40000), peer = EP("203.0.113.6", 50000);
	struct in6_addr ll = A6("fe80::ffff:ffff:ffff"), me = teredo_of("198.51.100.10", from, 0),
			them = teredo_of("198.51.100.10", peer, 0), native = A6("2001:db8:1::100");
	static const uint8_t nonce[8] = { 1 };
	size_t in, out, n;

	/* RS without and with nonce: one RA, at most 2.2 times the RS. */
	in = make_rs(buf, &ll, NULL);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: RS without nonce -> RA", in, out, n);
	assert_int_equal(n, 1);
	assert_true(out * 10 <= in * 22);
	in = make_rs(buf, &ll, nonce);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: RS with nonce -> RA", in, out, n);
	assert_int_equal(n, 1);
	assert_true(out * 10 <= in * 22);
	/* Bubble and echo to a client: the same bytes plus the 8-byte origin indication. */
	in = make_bubble(buf, &me, &them);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: bubble to a client (S-14)", in, out, n);
	assert_int_equal(n, 1);
	assert_true(out <= in + 8);
	in = make_echo(buf, sizeof buf, &me, &them, 80);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: echo to a client (S-14)", in, out, n);
	assert_true(n == 1 && out <= in + 8);
	/* Echo to native: the same packet, no more. */
	in = make_echo(buf, sizeof buf, &me, &native, 80);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: echo to native IPv6 (S-12)", in, out, n);
	assert_true(n == 1 && out <= in);
	/* A spoofed source (mapping mismatch) gets nothing. */
	in = make_bubble(buf, &them, &me);
	out = out_bytes(server_handle(&s, 1000, 0, from, buf, in, acts), &n);
	report("server: bubble from a spoofed source", in, out, n);
	assert_int_equal(n, 0);
}

static void sec10_relay(void **state)
{
	struct relay r;
	struct relay_config c = { .prefix = TEREDO_PREFIX_DEFAULT, .peer_capacity = 16,
				  .queue_pool = 8, .queue_per_peer = 4 };
	assert_int_equal(relay_init(&r, &c, rng, NULL), 0);
	struct sw_endpoint from = EP("203.0.113.5", 40000);
	struct in6_addr cl = teredo_of("198.51.100.10", from, 0), native = A6("2001:db8:1::100");
	size_t in, out, n;
	/* From a client: at most one packet to the native side, never anything over UDP. */
	in = make_echo(buf, sizeof buf, &cl, &native, 500);
	out = out_bytes(relay_udp(&r, 1000000, from, buf, in, acts, ACTS), &n);
	report("relay: echo from a client to native (UDP answers)", in, out, n);
	assert_int_equal(n, 0);
	in = make_bubble(buf, &cl, &native);
	out = out_bytes(relay_udp(&r, 1000000, EP("203.0.113.9", 1), buf, in, acts, ACTS), &n);
	report("relay: bubble from a spoofed source", in, out, n);
	assert_int_equal(n, 0);
	/* From native IPv6 to an unknown client: 40-byte bubbles, one per packet at most,
	 * and at most 4 per client per 300 s (C-53) however much arrives. */
	struct in6_addr other = teredo_of("198.51.100.10", EP("203.0.113.77", 1), 0);
	size_t total = 0, tin = 0, tout = 0;
	for (int i = 0; i < 100; i++) {
		in = make_echo(buf, sizeof buf, &native, &other, 8);
		out = out_bytes(relay_tun(&r, 1000000 + (uint64_t)i * 1000, buf, in, acts, ACTS), &n);
		assert_true(n <= 1 && out <= in);
		total += n;
		tin += in;
		tout += out;
		tout += out_bytes(relay_tick(&r, 1000000 + (uint64_t)i * 1000, acts, ACTS), &n);
		total += n;
	}
	report("relay: 100 native packets to an unknown client", tin, tout, total);
	assert_true(total <= 4 * 2); /* an exchange gives up and may start once more */
	(void)out;
	relay_free(&r);
}

static void sec13_client(void **state)
{
	struct client c;
	struct client_config cc = { .server = A4("198.51.100.10"), .server2 = A4("198.51.100.11"),
				    .prefix = TEREDO_PREFIX_DEFAULT, .refresh_ms = 30000, .peer_capacity = 16,
				    .queue_pool = 8, .queue_per_peer = 4, .local_discovery = true,
				    .symmetric_nat = true };
	assert_int_equal(client_init(&c, &cc, rng, NULL), 0);
	/* Qualify by hand: an RA answering the client's RS. */
	int k = client_start(&c, 1000000, acts, ACTS);
	assert_int_equal(k, 1);
	for (int round = 0; round < 2; round++) {
		struct teredo_pkt p;
		assert_int_equal(teredo_parse(acts[0].hdr, acts[0].hdr_len, &p), 0);
		teredo_put_auth_nonce(buf, p.nonce, 0);
		teredo_put_origin(buf + 13, EP("203.0.113.7", 40000));
		struct ra_params ra = { .dst = A6("fe80::ffff:ffff:ffff"), .mtu = 1280, .prefix = A6("2001:0:c633:640a::") };
		teredo_server_link_local(A4("198.51.100.10"), &ra.src);
		size_t len = 21 + ra_build(buf + 21, &ra);
		client_udp(&c, 1000000, EP(round ? "198.51.100.11" : "198.51.100.10", 3544), buf, len, acts, ACTS);
	}
	assert_int_equal(c.state, CLIENT_QUALIFIED);
	struct in6_addr me = c.addr, stranger = teredo_of("198.51.100.10", EP("203.0.113.8", 1), 0);
	size_t in, out, n;
	/* Server-relayed bubbles with an origin: one 40-byte bubble each. */
	teredo_put_origin(buf, EP("203.0.113.8", 1));
	in = 8 + make_bubble(buf + 8, &stranger, &me);
	out = out_bytes(client_udp(&c, 1000100, EP("198.51.100.10", 3544), buf, in, acts, ACTS), &n);
	report("client: indirect bubble via the server", in, out, n);
	assert_true(n == 1 && out <= in);
	/* With a Nonce Trailer (RFC 6081 §5.2): the direct bubble echoes it and our own
	 * indirect bubble goes to the peer's server, within the bubble limits (C-53). */
	struct in6_addr sns = teredo_of("198.51.100.10", EP("203.0.113.9", 2), 0);
	static const uint8_t tn[4] = { 1, 2, 3, 4 };
	size_t sout = 0, stot = 0, sin = 0;
	for (int i = 0; i < 20; i++) {
		teredo_put_origin(buf, EP("203.0.113.9", 2));
		in = 8 + make_bubble(buf + 8, &sns, &me);
		in += trailer_put_nonce(buf + in, tn);
		sin += in;
		sout += out_bytes(client_udp(&c, 1000110 + (uint64_t)i * 100, EP("198.51.100.10", 3544), buf, in, acts, ACTS), &n);
		stot += n;
	}
	report("client: 20 indirect bubbles with a nonce (RFC 6081)", sin, sout, stot);
	assert_true(stot <= 20 + 1); /* a direct bubble each; one indirect in the 2 s */
	assert_true(sout <= 2 * sin);
	/* Discovery bubbles from the link: at most one unicast bubble plus one discovery. */
	struct in6_addr all = A6("ff02::1");
	in = make_bubble(buf, &stranger, &all);
	out = out_bytes(client_discovery(&c, 1000200, EP("10.1.0.9", 5000), true, buf, in, acts, ACTS), &n);
	report("client: discovery bubble", in, out, n);
	assert_true(n <= 2 && out <= 2 * in);
	/* The same again costs nothing more. */
	out = out_bytes(client_discovery(&c, 1000300, EP("10.1.0.9", 5000), true, buf, in, acts, ACTS), &n);
	report("client: the same discovery bubble again", in, out, n);
	assert_int_equal(n, 0);
	/* Unknown sources get nothing. */
	in = make_echo(buf, sizeof buf, &stranger, &me, 200);
	out = out_bytes(client_udp(&c, 1000400, EP("203.0.113.99", 7), buf, in, acts, ACTS), &n);
	report("client: echo from an unknown source", in, out, n);
	assert_int_equal(n, 0);
	/* A native peer writing first through a relay our server introduced (C-38,
	 * CVE-2006-6266 in SEC-22): the smallest packet it can send makes at most one echo
	 * test through our server, and a stream of such packets from 50 sources never
	 * makes more packets than came in. */
	struct sw_endpoint relay = EP("203.0.113.30", 3544);
	struct in6_addr ll = A6("fe80::8000:1");
	teredo_put_origin(buf, relay);
	in = 8 + make_bubble(buf + 8, &ll, &me);
	client_udp(&c, 1000500, EP("198.51.100.10", 3544), buf, in, acts, ACTS);
	size_t tin = 0, tout = 0, total = 0;
	for (int i = 0; i < 200; i++) {
		char src[64];
		snprintf(src, sizeof src, "2001:db8:5::%x", i % 50);
		struct in6_addr native = A6(src);
		/* 41 bytes: an IPv6 header and one byte of payload. */
		ip6_put_header(buf, 1, IPV6_NH_NONE, 64, &native, &me);
		buf[40] = 0;
		in = 41;
		out = out_bytes(client_udp(&c, 1000600 + (uint64_t)i * 50, relay, buf, in, acts, ACTS), &n);
		tin += in;
		tout += out;
		total += n;
		out = out_bytes(client_tick(&c, 1000600 + (uint64_t)i * 50, acts, ACTS), &n);
		tout += out;
		total += n;
	}
	report("client: 200 first packets from 50 native peers", tin, tout, total);
	assert_true(total <= 200);
	assert_true(tout <= 2 * tin);
	client_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sec08_server),
		cmocka_unit_test(sec10_relay),
		cmocka_unit_test(sec13_client),
	};
	return cmocka_run_group_tests_name("amplification", tests, NULL, NULL);
}
