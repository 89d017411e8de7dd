/* The server's decision table, RFC 4380 §5.3.1 and §5.3.2 with RFC 5991 §3.2, case by
 * case (S-03..S-24). */
#include "helpers.h"

#include "core/server.h"
#include "wire/wire_err.h"

#define PRIMARY "198.51.100.10"
#define SECONDARY "198.51.100.11"

static struct server srv;
static struct sw_action act;
static uint64_t now; /* ms */
static uint8_t buf[2048];
static const uint8_t nonce[8] = { 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18 };

static int setup(void **state)
{
	struct server_config c = {
		.primary = A4(PRIMARY), .secondary = A4(SECONDARY), .prefix = TEREDO_PREFIX_DEFAULT,
		.mtu = 1280, .ipv6_egress = true, .max_icmp_payload = 88, .rs_rate = 100,
	};
	static const uint8_t key[16] = { 7 };
	server_init(&srv, &c, key);
	now = 5000000;
	memset(&act, 0, sizeof act);
	return 0;
}

static int handle(int sock, struct sw_endpoint src, size_t len)
{
	return server_handle(&srv, now, sock, src, buf, len, &act);
}

static uint64_t total_drops(void)
{
	uint64_t n = 0;
	for (int i = 0; i < SRV_DROP__COUNT; i++)
		n += srv.stats.dropped[i];
	return n;
}

/* Expect exactly one drop, for `why`. */
static void expect_drop(int r, enum server_drop why)
{
	assert_int_equal(r, 0);
	assert_int_equal(srv.stats.dropped[why], 1);
	assert_int_equal(total_drops(), 1);
}

/* Check an RA action: parse what the server would send. */
static void check_ra(struct sw_endpoint client, const struct in6_addr *rs_src, bool with_nonce)
{
	struct teredo_pkt p;
	assert_int_equal(act.kind, SW_ACT_UDP);
	assert_true(endpoint_eq(act.dst, client));
	assert_int_equal(act.body_len, 0);
	assert_int_equal(teredo_parse(act.hdr, act.hdr_len, &p), WIRE_OK);
	assert_int_equal(p.has_auth, with_nonce);
	if (with_nonce) {
		/* S-19 (interop): the nonce comes back, confirmation 0, no ID or AU. */
		assert_memory_equal(p.nonce, nonce, 8);
		assert_int_equal(p.confirmation, 0);
		assert_int_equal(p.auth_id_len + p.auth_au_len, 0);
	}
	/* S-15: the origin indication carries the client's mapping. */
	assert_true(p.has_origin);
	assert_true(endpoint_eq(p.origin, client));
	struct ra_info ri;
	assert_int_equal(ra_parse(p.ip6, p.ip6_len, &ri), WIRE_OK);
	/* S-16: prefix on the primary address, destination = RS source, MTU 1280. */
	struct in6_addr want = A6("2001:0:c633:640a::"), ll = A6("fe80::8000:f227:39cc:9bf5");
	assert_memory_equal(&ri.prefix, &want, 16);
	assert_memory_equal(&ri.dst, rs_src, 16);
	assert_memory_equal(&ri.src, &ll, 16);
	assert_int_equal(ri.mtu, 1280);
}

static void rfc4380_s5_3_2_s15_rs_with_nonce_gets_ra(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	struct sw_endpoint c = EP("203.0.113.5", 40000);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, c, make_rs(buf, &ll, nonce)), 1);
	assert_int_equal(act.sock, SERVER_SOCK_PRIMARY);
	check_ra(c, &ll, true);
	assert_int_equal(srv.stats.rs_answered, 1);
	assert_int_equal(total_drops(), 0);
}

static void rfc4380_s5_3_2_rs_without_auth(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	struct sw_endpoint c = EP("203.0.113.5", 40000);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, c, make_rs(buf, &ll, NULL)), 1);
	check_ra(c, &ll, false);
}

/* S-16, S-17: C = 0 on the secondary address: answer from the secondary, prefix still
 * built on the primary. This is the symmetric-NAT check clients make (C-16). */
static void rfc4380_s5_3_2_s17_secondary_c0_same_address(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	struct sw_endpoint c = EP("203.0.113.5", 40001);
	assert_int_equal(handle(SERVER_SOCK_SECONDARY, c, make_rs(buf, &ll, nonce)), 1);
	assert_int_equal(act.sock, SERVER_SOCK_SECONDARY);
	check_ra(c, &ll, true);
}

/* S-17 and RFC 5991 §3.2: a legacy cone probe (C = 1) is answered from the other
 * address; servers must not ignore the bit. */
static void rfc5991_s3_2_s17_cone_bit_answers_from_other_address(void **state)
{
	struct in6_addr ll = A6("fe80::8000:ffff:ffff:fffe");
	struct sw_endpoint c = EP("203.0.113.5", 40000);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, c, make_rs(buf, &ll, nonce)), 1);
	assert_int_equal(act.sock, SERVER_SOCK_SECONDARY);
	check_ra(c, &ll, true);
	assert_int_equal(handle(SERVER_SOCK_SECONDARY, c, make_rs(buf, &ll, nonce)), 1);
	assert_int_equal(act.sock, SERVER_SOCK_PRIMARY);
}

static void rfc4861_s6_1_1_s20_invalid_rs_dropped(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	size_t len = make_rs(buf, &ll, nonce);
	buf[13 + 7] = 1; /* hop limit */
	expect_drop(handle(SERVER_SOCK_PRIMARY, EP("203.0.113.5", 40000), len), SRV_DROP_BAD_RS);
}

/* S-05 (3), S-18: never answer or forward for a non-global IPv4 source. */
static void rfc4380_s5_3_1_s05_private_source_dropped(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	expect_drop(handle(SERVER_SOCK_PRIMARY, EP("10.1.0.2", 40000), make_rs(buf, &ll, nonce)),
		    SRV_DROP_SRC_NOT_GLOBAL);
}

/* S-07 (5), S-13, S-14: client to client of this server: forwarded from the primary
 * address to the mapping, with an origin indication of the sender. */
static void rfc4380_s5_3_1_s14_bubble_between_clients(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000), b = EP("203.0.113.6", 50000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0x1234), sb = teredo_of(PRIMARY, b, 0x0042);
	size_t len = make_bubble(buf, &sa, &sb);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, len), 1);
	assert_int_equal(act.kind, SW_ACT_UDP);
	assert_int_equal(act.sock, SERVER_SOCK_PRIMARY);
	assert_true(endpoint_eq(act.dst, b));
	assert_int_equal(act.hdr_len, 8);
	struct teredo_pkt p;
	uint8_t out[128];
	memcpy(out, act.hdr, act.hdr_len);
	memcpy(out + act.hdr_len, act.body, act.body_len);
	assert_int_equal(teredo_parse(out, act.hdr_len + act.body_len, &p), WIRE_OK);
	assert_true(p.has_origin);
	assert_true(endpoint_eq(p.origin, a));
	assert_memory_equal(p.ip6, buf, 40);
	assert_int_equal(srv.stats.forwarded_udp, 1);
}

/* Also when the bubble reached the secondary address: forwarding is from the primary. */
static void rfc4380_s5_3_1_s13_forward_from_primary(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000), b = EP("203.0.113.6", 50000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), sb = teredo_of(PRIMARY, b, 0);
	assert_int_equal(handle(SERVER_SOCK_SECONDARY, a, make_bubble(buf, &sa, &sb)), 1);
	assert_int_equal(act.sock, SERVER_SOCK_PRIMARY);
}

/* RFC 6081 trailers after the bubble travel on unchanged. */
static void rfc6081_x06_trailers_forwarded(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000), b = EP("203.0.113.6", 50000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), sb = teredo_of(PRIMARY, b, 0);
	size_t len = make_bubble(buf, &sa, &sb);
	static const uint8_t trailer[6] = { 0x01, 0x04, 1, 2, 3, 4 };
	memcpy(buf + len, trailer, 6);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, len + 6), 1);
	assert_int_equal(act.body_len, 46);
	assert_memory_equal(act.body + 40, trailer, 6);
}

/* S-07 (5): a Teredo source that does not match the UDP source is spoofed. */
static void rfc4380_s5_3_1_s07_mismatch_dropped(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000), b = EP("203.0.113.6", 50000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), sb = teredo_of(PRIMARY, b, 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, EP("203.0.113.5", 40001), make_bubble(buf, &sa, &sb)),
		    SRV_DROP_SRC_MISMATCH);
}

/* S-08 (6): a relay's indirect bubble (native source) to one of our clients. */
static void rfc4380_s5_3_1_s08_relay_bubble_to_our_client(void **state)
{
	struct sw_endpoint relay = EP("198.51.100.30", 3544), b = EP("203.0.113.6", 50000);
	struct in6_addr s = A6("2001:db8:1::30"), d = teredo_of(PRIMARY, b, 0);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, relay, make_bubble(buf, &s, &d)), 1);
	assert_true(endpoint_eq(act.dst, b));
	assert_int_equal(act.hdr_len, 8);
}

/* Interop (Miredo): indirect bubbles from a random link-local source fall under rule
 * (6) too: a non-Teredo source to our client. */
static void rfc4380_s5_3_1_s08_link_local_bubble_to_our_client(void **state)
{
	struct sw_endpoint relay = EP("198.51.100.30", 3544), b = EP("203.0.113.6", 50000);
	struct in6_addr s = A6("fe80::30ba:d535:27cf:a9a2"), d = teredo_of(PRIMARY, b, 0);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, relay, make_bubble(buf, &s, &d)), 1);
	assert_true(endpoint_eq(act.dst, b));
}

/* S-09 (7): a native source to another server's client: we are no open relay. */
static void rfc4380_s5_3_1_s09_native_to_other_server_dropped(void **state)
{
	struct in6_addr s = A6("2001:db8:1::30"), d = teredo_of("203.0.113.99", EP("203.0.113.6", 1), 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, EP("198.51.100.30", 3544), make_bubble(buf, &s, &d)),
		    SRV_DROP_NOT_OURS);
}

/* S-13 without S-14: a client's bubble to another server's client goes straight to the
 * mapping, without an origin indication. */
static void rfc4380_s5_3_1_s13_client_to_other_server_client(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000), b = EP("203.0.113.6", 50000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), sb = teredo_of("203.0.113.99", b, 0);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, make_bubble(buf, &sa, &sb)), 1);
	assert_true(endpoint_eq(act.dst, b));
	assert_int_equal(act.hdr_len, 0);
}

/* S-04 (2): only bubbles and ICMPv6. */
static void rfc4380_s5_3_1_s04_other_protocols_dropped(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = A6("2001:db8:1::100");
	ip6_put_header(buf, 20, 6 /* TCP */, 64, &sa, &d);
	memset(buf + 40, 0, 20);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, 60), SRV_DROP_NOT_BUBBLE_ICMP);
}

/* S-12: the direct IPv6 connectivity test (C-65) goes out to native IPv6. */
static void rfc4380_s5_3_1_s12_echo_to_native(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = A6("2001:db8:1::100");
	size_t len = make_echo(buf, sizeof buf, &sa, &d, 8);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, len), 1);
	assert_int_equal(act.kind, SW_ACT_IPV6);
	assert_ptr_equal(act.body, buf);
	assert_int_equal(act.body_len, len);
	assert_int_equal(srv.stats.forwarded_ipv6, 1);
}

static void rfc4380_s5_3_1_s12_no_ipv6_egress(void **state)
{
	srv.cfg.ipv6_egress = false;
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = A6("2001:db8:1::100");
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &d, 8)), SRV_DROP_NO_IPV6);
}

static void server_native_bubble_dropped(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = A6("2001:db8:1::100");
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_bubble(buf, &sa, &d)), SRV_DROP_NATIVE_BUBBLE);
}

/* S-24, SEC-9: ICMPv6 with more than 88 bytes of payload is not forwarded. */
static void sec09_s24_large_icmpv6_dropped(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = A6("2001:db8:1::100");
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &d, 80)), 1);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &d, 81)), SRV_DROP_TOO_BIG);
}

/* S-23, SEC-11: nothing from our own service sockets, nothing towards them. */
static void sec11_s23_loops_dropped(void **state)
{
	struct sw_endpoint self = EP(SECONDARY, 3544), b = EP("203.0.113.6", 50000);
	struct in6_addr s = A6("2001:db8:1::30"), d = teredo_of(PRIMARY, b, 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, self, make_bubble(buf, &s, &d)), SRV_DROP_LOOP);

	setup(state);
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), toself = teredo_of(PRIMARY, EP(PRIMARY, 3544), 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_bubble(buf, &sa, &toself)), SRV_DROP_LOOP);
}

/* S-13, P-08, SEC-10: never towards a private or multicast mapping. */
static void sec10_s13_private_mapping_dropped(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), d = teredo_of(PRIMARY, EP("192.168.1.1", 5), 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_bubble(buf, &sa, &d)), SRV_DROP_DST_IPV4_NOT_GLOBAL);
	setup(state);
	d = teredo_of(PRIMARY, EP("224.0.0.253", 3544), 0);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_bubble(buf, &sa, &d)), SRV_DROP_DST_IPV4_NOT_GLOBAL);
}

/* S-10, S-11: link-local and non-global destinations are not forwarded; ND is never. */
static void rfc4380_s5_3_1_s11_scope_and_nd(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), ll = A6("fe80::1"), mc = A6("ff02::1");
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &ll, 8)), SRV_DROP_LINK_LOCAL);
	setup(state);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &mc, 8)), SRV_DROP_DST_NOT_GLOBAL);
	setup(state);
	/* An RS to a global destination, or a Neighbor Solicitation. */
	struct in6_addr g = A6("2001:db8:1::100");
	make_echo(buf, sizeof buf, &sa, &g, 16);
	buf[40] = 135;
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, 64), SRV_DROP_ND);
}

/* RFC 4380 §5.3.1 (S-10): an echo request to the server's link-local address is
 * answered with an echo reply from that address, same identifier, sequence and data,
 * on the socket it came in on; one larger than the ICMPv6 limit (S-24) is not. */
static void rfc4380_s5_3_1_s10_echo_to_link_local_answered(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	struct in6_addr sa = teredo_of(PRIMARY, a, 0), ll;
	teredo_server_link_local(A4(PRIMARY), &ll);
	uint8_t data[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	size_t len = icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REQ, 64, &sa, &ll, 0x1234, 7, data, sizeof data);
	assert_int_equal(handle(SERVER_SOCK_SECONDARY, a, len), 1);
	assert_int_equal(act.kind, SW_ACT_UDP);
	assert_int_equal(act.sock, SERVER_SOCK_SECONDARY);
	assert_true(endpoint_eq(act.dst, a));
	uint8_t out[128];
	memcpy(out, act.hdr, act.hdr_len);
	memcpy(out + act.hdr_len, act.body, act.body_len);
	size_t olen = act.hdr_len + act.body_len;
	assert_int_equal(olen, len);
	assert_int_equal(icmp6_type(out, olen), ICMP6_ECHO_REP);
	struct in6_addr s6, d6;
	ip6_src(out, &s6);
	ip6_dst(out, &d6);
	assert_memory_equal(&s6, &ll, 16);
	assert_memory_equal(&d6, &sa, 16);
	assert_int_equal(icmp6_checksum(&s6, &d6, out + 40, olen - 40), 0);
	assert_int_equal(get_be16(out + 44), 0x1234);
	assert_int_equal(get_be16(out + 46), 7);
	assert_memory_equal(out + 48, data, sizeof data);
	assert_int_equal(srv.stats.echo_answered, 1);
	setup(state);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, make_echo(buf, sizeof buf, &sa, &ll, 200)), SRV_DROP_TOO_BIG);
}

/* S-03 (1): malformed payloads of every kind are dropped and counted. */
static void rfc4380_s5_3_1_s03_malformed(void **state)
{
	struct sw_endpoint a = EP("203.0.113.5", 40000);
	memset(buf, 0, 64);
	expect_drop(handle(SERVER_SOCK_PRIMARY, a, 3), SRV_DROP_MALFORMED);
	buf[0] = 0x45;
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, a, 64), 0);
	assert_int_equal(srv.stats.dropped[SRV_DROP_MALFORMED], 2);
	assert_int_equal(srv.stats.received, 2);
}

/* RFC 4380 §7.3.5 (SEC-17, SEC-19): RAs to one IPv4 address are limited (burst and
 * rate of rs_rate per second) in fixed memory; other addresses are not affected. */
static void sec17_rs_rate_limited_per_source_address(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	struct sw_endpoint victim = EP("203.0.113.5", 40000), other = EP("203.0.113.77", 40000);
	for (int i = 0; i < 100; i++) {
		victim.port = htons((uint16_t)(1024 + i)); /* ports do not buy more answers */
		assert_int_equal(handle(SERVER_SOCK_PRIMARY, victim, make_rs(buf, &ll, nonce)), 1);
	}
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, victim, make_rs(buf, &ll, nonce)), 0);
	assert_int_equal(handle(SERVER_SOCK_SECONDARY, victim, make_rs(buf, &ll, nonce)), 0);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, other, make_rs(buf, &ll, nonce)), 1);
	now += 100; /* 100 ms at 100/s: ten more */
	for (int i = 0; i < 10; i++)
		assert_int_equal(handle(SERVER_SOCK_PRIMARY, victim, make_rs(buf, &ll, nonce)), 1);
	assert_int_equal(handle(SERVER_SOCK_PRIMARY, victim, make_rs(buf, &ll, nonce)), 0);
	assert_int_equal(srv.stats.rs_answered, 111);
	assert_int_equal(srv.stats.dropped[SRV_DROP_RS_RATE], 3);
	assert_int_equal(total_drops(), 3);
}

/* The RA limit's one-word bucket (shared with the XDP program, issue 10): the token
 * bucket of ratelimit_take, a clock that another CPU read later than ours refills
 * nothing, and a rate beyond the word's 24 bits counts as that much. */
static void sec17_word_bucket_as_the_token_bucket(void **state)
{
	uint64_t w = 0;
	struct ratelimit r = { 0 };
	uint64_t t = 5000;
	for (int i = 0; i < 12; i++)
		assert_int_equal(ratelimit_take_word(&w, t, 10), ratelimit_take(&r, t, 10));
	assert_false(ratelimit_take_word(&w, t, 10));
	assert_false(ratelimit_take_word(&w, t - 50, 10)); /* earlier than the refill */
	t += 250;
	for (int i = 0; i < 4; i++)
		assert_int_equal(ratelimit_take_word(&w, t, 10), ratelimit_take(&r, t, 10));
	assert_int_equal(w >> 24, t);
	w = 0;
	int n = 0;
	while (n < 0x1000000 + 10 && ratelimit_take_word(&w, t, 0xffffffff))
		n++;
	assert_int_equal(n, RATELIMIT_WORD_MAX_RATE);
}

static void rs_rate_zero_means_no_limit(void **state)
{
	struct in6_addr ll = A6("fe80::ffff:ffff:fffe");
	struct sw_endpoint c = EP("203.0.113.5", 40000);
	srv.cfg.rs_rate = 0;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(handle(SERVER_SOCK_PRIMARY, c, make_rs(buf, &ll, nonce)), 1);
}

static void server_drop_names_complete(void **state)
{
	for (int i = 0; i < SRV_DROP__COUNT; i++) {
		assert_non_null(server_drop_name((enum server_drop)i));
		assert_string_not_equal(server_drop_name((enum server_drop)i), "?");
	}
	assert_string_equal(server_drop_name(SRV_DROP__COUNT), "?");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(rfc4380_s5_3_2_s15_rs_with_nonce_gets_ra),
		T(rfc4380_s5_3_2_rs_without_auth),
		T(rfc4380_s5_3_1_s10_echo_to_link_local_answered),
		T(rfc4380_s5_3_2_s17_secondary_c0_same_address),
		T(rfc5991_s3_2_s17_cone_bit_answers_from_other_address),
		T(rfc4861_s6_1_1_s20_invalid_rs_dropped),
		T(rfc4380_s5_3_1_s05_private_source_dropped),
		T(rfc4380_s5_3_1_s14_bubble_between_clients),
		T(rfc4380_s5_3_1_s13_forward_from_primary),
		T(rfc6081_x06_trailers_forwarded),
		T(rfc4380_s5_3_1_s07_mismatch_dropped),
		T(rfc4380_s5_3_1_s08_relay_bubble_to_our_client),
		T(rfc4380_s5_3_1_s08_link_local_bubble_to_our_client),
		T(rfc4380_s5_3_1_s09_native_to_other_server_dropped),
		T(rfc4380_s5_3_1_s13_client_to_other_server_client),
		T(rfc4380_s5_3_1_s04_other_protocols_dropped),
		T(rfc4380_s5_3_1_s12_echo_to_native),
		T(rfc4380_s5_3_1_s12_no_ipv6_egress),
		T(server_native_bubble_dropped),
		T(sec09_s24_large_icmpv6_dropped),
		T(sec11_s23_loops_dropped),
		T(sec10_s13_private_mapping_dropped),
		T(rfc4380_s5_3_1_s11_scope_and_nd),
		T(rfc4380_s5_3_1_s03_malformed),
		T(sec17_rs_rate_limited_per_source_address),
		T(rs_rate_zero_means_no_limit),
		T(sec17_word_bucket_as_the_token_bucket),
		T(server_drop_names_complete),
	};
	return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
