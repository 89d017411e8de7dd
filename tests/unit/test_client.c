/* The client state machine, driven with a fake clock and a fake server: RFC 4380 §5.2
 * with RFC 5991 §3 (C-10..C-71). */
#include "helpers.h"

#include <stdio.h>

#include "core/client.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

#define SERVER "198.51.100.10"
#define SERVER2 "198.51.100.11"
#define ACTS 64

static struct client cl;
static struct sw_action acts[ACTS];
static int nacts;
static uint64_t now;
static uint8_t buf[2048];
static uint8_t buf2[2048];          /* a second packet, built while acts[] is read */
static struct sw_action acts2[ACTS]; /* the answers to it, not looked at */
static uint8_t rng_counter;

/* Deterministic "randomness": a counter, so that tests can predict nonces. */
static void fake_rng(void *ctx, void *out, size_t len)
{
	uint8_t *p = out;
	for (size_t i = 0; i < len; i++)
		p[i] = ++rng_counter;
}

static int setup(void **state)
{
	struct client_config c = {
		.server = A4(SERVER), .server2 = A4(SERVER2), .prefix = TEREDO_PREFIX_DEFAULT,
		.refresh_ms = 30000, .peer_capacity = 16, .queue_pool = 8, .queue_per_peer = 4,
		.symmetric_nat = true, .load_reduction = true, .hairpinning = true,
	};
	rng_counter = 0;
	now = 1000000;
	assert_int_equal(client_init(&cl, &c, fake_rng, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	client_free(&cl);
	return 0;
}

static const struct sw_action *find(enum sw_action_kind k)
{
	for (int i = 0; i < nacts; i++)
		if (acts[i].kind == k)
			return &acts[i];
	return NULL;
}

static int count_to(struct sw_endpoint ep)
{
	int n = 0;
	for (int i = 0; i < nacts; i++)
		n += acts[i].kind == SW_ACT_UDP && endpoint_eq(acts[i].dst, ep);
	return n;
}

/* The RS in acts[i]: check it (C-12) and return its nonce. */
static void expect_rs(int i, const char *server, uint8_t nonce[8])
{
	struct teredo_pkt p;
	assert_true(i < nacts);
	assert_int_equal(acts[i].kind, SW_ACT_UDP);
	assert_true(endpoint_eq(acts[i].dst, EP(server, 3544)));
	assert_int_equal(teredo_parse(acts[i].hdr, acts[i].hdr_len, &p), WIRE_OK);
	assert_true(p.has_auth);
	assert_int_equal(icmp6_check_rs(p.ip6, p.ip6_len), WIRE_OK);
	struct in6_addr src, ll = A6("fe80::ffff:ffff:ffff");
	ip6_src(p.ip6, &src);
	assert_memory_equal(&src, &ll, 16); /* C = 0 (RFC 5991 §3.2, C-11) */
	memcpy(nonce, p.nonce, 8);
}

/* What the server sends back: auth(nonce) + origin(mapping) + RA. */
static size_t make_ra(uint8_t *out, const uint8_t nonce[8], struct sw_endpoint mapping, const char *prefix_server)
{
	teredo_put_auth_nonce(out, nonce, 0);
	teredo_put_origin(out + 13, mapping);
	struct ra_params ra = { .dst = A6("fe80::ffff:ffff:ffff"), .mtu = 1280 };
	teredo_server_link_local(A4(SERVER), &ra.src);
	char pfx[64];
	struct in6_addr p = { 0 };
	put_be32(p.s6_addr, TEREDO_PREFIX_DEFAULT);
	uint32_t ip = A4(prefix_server);
	memcpy(p.s6_addr + 4, &ip, 4);
	(void)pfx;
	ra.prefix = p;
	return 21 + ra_build(out + 21, &ra);
}

static void udp_in(struct sw_endpoint from, size_t len)
{
	nacts = client_udp(&cl, now, from, buf, len, acts, ACTS);
}

/* Drive a full qualification: primary and secondary give `m1` and `m2`. */
static void qualify(struct sw_endpoint m1, struct sw_endpoint m2)
{
	uint8_t nonce[8];
	nacts = client_start(&cl, now, acts, ACTS);
	assert_int_equal(nacts, 1);
	expect_rs(0, SERVER, nonce);
	assert_int_equal(cl.state, CLIENT_PROBING);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m1, SERVER));
	assert_int_equal(cl.state, CLIENT_PROBING_SECONDARY);
	assert_int_equal(nacts, 1);
	expect_rs(0, SERVER2, nonce);
	udp_in(EP(SERVER2, 3544), make_ra(buf, nonce, m2, SERVER));
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
}

static struct in6_addr our_addr(void)
{
	return cl.addr;
}

/* C-12..C-18: answer, secondary check, address with random bits and C = 0. */
static void rfc4380_s5_2_1_c18_qualification(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	assert_int_equal(cl.nat, NAT_CONE_OR_RESTRICTED);
	const struct sw_action *a = find(SW_ACT_SET_ADDR);
	assert_non_null(a);
	struct teredo_addr t;
	teredo_addr_decode(&a->addr, &t);
	assert_int_equal(t.server, A4(SERVER));
	assert_true(endpoint_eq(t.mapped, m));
	assert_int_equal(t.flags & ~TEREDO_FLAG_RANDOM_MASK, 0); /* C = z = U = G = 0 */
	assert_int_equal(a->mtu, 1280);
}

/* C-17, X-10: a different mapping from the secondary: symmetric NAT, address kept. */
static void rfc6081_s3_1_x10_symmetric_nat_keeps_address(void **state)
{
	qualify(EP("203.0.113.7", 40000), EP("203.0.113.7", 40001));
	assert_int_equal(cl.nat, NAT_SYMMETRIC);
	assert_non_null(find(SW_ACT_SET_ADDR));
}

/* C-13: T = 4 s, N = 3, then off-line; retried later. */
static void rfc4380_s5_2_1_c13_timeout_and_retry(void **state)
{
	uint8_t nonce[8];
	nacts = client_start(&cl, now, acts, ACTS);
	for (int i = 0; i < 2; i++) {
		now += 3999;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(nacts, 0);
		now += 1;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(nacts, 1);
		expect_rs(0, SERVER, nonce);
	}
	now += 4000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.state, CLIENT_OFFLINE);
	assert_int_equal(cl.stats.rs_sent, 3);
	now += CLIENT_OFFLINE_RETRY_MS;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.state, CLIENT_PROBING);
	expect_rs(0, SERVER, nonce);
}

/* C-14: a wrong nonce, a wrong source, a wrong prefix: all dropped. */
static void rfc4380_s5_2_1_c14_ra_validation(void **state)
{
	uint8_t nonce[8], bad[8] = { 0 };
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	nacts = client_start(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, bad, m, SERVER));
	udp_in(EP("203.0.113.66", 3544), make_ra(buf, nonce, m, SERVER));
	udp_in(EP(SERVER, 3545), make_ra(buf, nonce, m, SERVER));
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, "203.0.113.66"));
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("10.0.0.1", 5), SERVER)); /* P-06 */
	assert_int_equal(cl.stats.dropped[CL_DROP_BAD_RA], 5);
	assert_int_equal(cl.state, CLIENT_PROBING);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
	assert_int_equal(cl.state, CLIENT_PROBING_SECONDARY);
	/* The same RA again: its nonce has been used. */
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
	assert_int_equal(cl.stats.dropped[CL_DROP_BAD_RA], 6);
}

/* The secondary address never answers: qualified with the NAT kind unknown. */
static void secondary_silent_still_qualifies(void **state)
{
	uint8_t nonce[8];
	nacts = client_start(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40000), SERVER));
	for (int i = 0; i < 3; i++) {
		now += 4000;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	assert_int_equal(cl.nat, NAT_UNKNOWN);
}

/* C-10: nothing passes before qualification. */
static void rfc4380_s5_2_c10_nothing_before_qualification(void **state)
{
	struct in6_addr s = A6("2001:db8::1"), d = A6("2001:0:c633:640a::1");
	nacts = client_start(&cl, now, acts, ACTS);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &d, &s, 8), acts, ACTS);
	/* Nothing goes to the network; the host hears "no route" at once. */
	assert_null(find(SW_ACT_UDP));
	assert_non_null(find(SW_ACT_TUN));
	assert_int_equal(find(SW_ACT_TUN)->hdr[41], ICMP6_UNREACH_NO_ROUTE);
	udp_in(EP("198.51.100.30", 3544), make_echo(buf, sizeof buf, &s, &d, 8));
	assert_int_equal(cl.stats.dropped[CL_DROP_NOT_QUALIFIED], 2);
}

/* No refresh RS `quiet` ms on, one by `by` ms: answered with mapping m, no new address. */
static void refresh_between(uint64_t quiet, uint64_t by, struct sw_endpoint m)
{
	uint8_t nonce[8];
	now += quiet;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(count_to(EP(SERVER, 3544)), 0);
	now += by - quiet;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
	assert_null(find(SW_ACT_SET_ADDR));
}

/* C-25, C-26: refresh within 75-100 % of 30 s (a new mapping's first one within 75-100 %
 * of 5 s: 2 s or more after the flow's start, before a Linux NAT's short timeout for a
 * young UDP flow runs out, so that it keeps the flow for its long one); same mapping
 * keeps the address; a new mapping gives a new address. */
static void rfc4380_s5_2_5_c26_refresh_and_mapping_change(void **state)
{
	uint8_t nonce[8];
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr first = our_addr();
	refresh_between(3749, 5000, m);
	assert_memory_equal(&cl.addr, &first, 16);
	refresh_between(22499, 30000, m); /* then C-27's 75-100 % */
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	struct sw_endpoint m2 = EP("203.0.113.7", 40002);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m2, SERVER));
	const struct sw_action *a = find(SW_ACT_SET_ADDR);
	assert_non_null(a);
	struct teredo_addr t;
	teredo_addr_decode(&a->addr, &t);
	assert_true(endpoint_eq(t.mapped, m2));
	assert_int_equal(cl.stats.address_changes, 2);
	assert_int_equal(cl.stats.mapping_jumps, 0);
	/* Issue 11: a mapping that moves at every refresh moves the address once a
	 * refresh, no more, and is counted from the second time in a row. */
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40009), SERVER));
	assert_null(find(SW_ACT_SET_ADDR)); /* the nonce answered once */
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40004), SERVER));
	assert_non_null(find(SW_ACT_SET_ADDR));
	assert_int_equal(cl.stats.mapping_jumps, 1);
}

/* A server that stops answering: address removed, then found again. */
static void server_loss_and_recovery(void **state)
{
	uint8_t nonce[8];
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	for (int i = 0; i < 3; i++) {
		now += 4000;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	assert_int_equal(cl.state, CLIENT_OFFLINE);
	assert_non_null(find(SW_ACT_CLEAR_ADDR));
	now += CLIENT_OFFLINE_RETRY_MS;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
	expect_rs(0, SERVER2, nonce);
	udp_in(EP(SERVER2, 3544), make_ra(buf, nonce, m, SERVER));
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	assert_non_null(find(SW_ACT_SET_ADDR));
}

/* C-45, C-51: to a Teredo peer: queue, direct bubble to its mapping, indirect bubble
 * through its server; C-35: its direct bubble makes it trusted and flushes the queue. */
static void rfc4380_s5_2_4_c45_bubbles_then_flush(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0x0102);
	size_t len = make_echo(buf, sizeof buf, &me, &peer, 8);
	nacts = client_tun(&cl, now, buf, len, acts, ACTS);
	assert_int_equal(nacts, 2);
	assert_int_equal(count_to(pm), 1);
	assert_int_equal(count_to(EP("203.0.113.99", 3544)), 1);
	assert_true(ip6_is_bubble(acts[0].hdr, acts[0].hdr_len));
	/* More data waits in the queue (C-47), no extra bubbles. */
	nacts = client_tun(&cl, now, buf, len, acts, ACTS);
	assert_int_equal(nacts, 0);
	/* The peer's direct bubble from its mapping: case 3 (C-35). */
	udp_in(pm, make_bubble(buf, &peer, &me));
	assert_int_equal(nacts, 2);
	assert_int_equal(count_to(pm), 2);
	assert_null(find(SW_ACT_TUN)); /* bubbles are not delivered */
	/* From now on, straight to the mapping (C-41). */
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(nacts, 1);
	assert_true(endpoint_eq(acts[0].dst, pm));
	assert_int_equal(acts[0].body_len, 56);
}

/* C-52, C-53, C-45: retries every 2 s, at most 3 repetitions, then give up. */
static void rfc4380_s5_2_6_c53_bubble_limits(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	int sent = count_to(pm);
	for (int i = 0; i < 10; i++) {
		now += 1000;
		nacts = client_tick(&cl, now, acts, ACTS);
		sent += count_to(pm);
	}
	/* 1 + 3 repetitions, 2 s apart, and never more than 4 per 300 s (C-53). */
	assert_int_equal(sent, 4);
	assert_int_equal(cl.stats.dropped[CL_DROP_UNREACHABLE], 1);
	assert_int_equal(cl.stats.icmp_errors, 1);
	/* New data for the same peer within 300 s: queued, but no fifth bubble. */
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(pm), 0);
}

/* C-42, C-65, C-34: native destination: echo test through the server with a nonce; the
 * reply through a relay makes that relay the peer's mapping. */
static void rfc4380_s5_2_9_c65_connectivity_test(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), host = A6("2001:db8:1::100");
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &host, 20), acts, ACTS);
	assert_int_equal(nacts, 1);
	assert_true(endpoint_eq(acts[0].dst, EP(SERVER, 3544)));
	assert_int_equal(icmp6_type(acts[0].hdr, acts[0].hdr_len), ICMP6_ECHO_REQ);
	uint8_t nonce[8];
	memcpy(nonce, acts[0].hdr + 48, 8);
	/* A reply with the wrong nonce from a would-be relay: dropped (SEC-02). */
	uint8_t wrong[8] = { 0 };
	size_t len = icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &host, &me, 0, 0, wrong, 8);
	udp_in(EP("198.51.100.66", 3544), len);
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
	/* The right nonce: the relay is learned and the queue goes to it. */
	len = icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &host, &me, 0, 0, nonce, 8);
	udp_in(relay, len);
	assert_int_equal(count_to(relay), 1);
	assert_null(find(SW_ACT_TUN));
	/* Data from the host through that relay is delivered (case 1, C-33). */
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 8));
	assert_non_null(find(SW_ACT_TUN));
	/* The same source through another relay is not (C-66). */
	udp_in(EP("198.51.100.31", 3544), make_echo(buf, sizeof buf, &host, &me, 8));
	assert_null(find(SW_ACT_TUN));
}

/* C-32: a packet relayed by our server with an origin indication gets a direct bubble to
 * the origin. */
static void rfc4380_s5_2_3_c32_bubble_to_origin(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), ll = A6("fe80::1234");
	teredo_put_origin(buf, relay);
	size_t len = 8 + make_bubble(buf + 8, &ll, &me);
	udp_in(EP(SERVER, 3544), len);
	assert_int_equal(nacts, 1);
	assert_true(endpoint_eq(acts[0].dst, relay));
	assert_true(ip6_is_bubble(acts[0].hdr, acts[0].hdr_len));
}

/* C-38, C-71: spoofed or unknown sources and link-local sources are dropped. */
static void rfc4380_s5_2_3_c38_unknown_sources(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), spoof = teredo_of("203.0.113.99", EP("203.0.113.8", 50000), 0);
	udp_in(EP("203.0.113.9", 1234), make_echo(buf, sizeof buf, &spoof, &me, 8));
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
	struct in6_addr ll = A6("fe80::1");
	udp_in(EP("203.0.113.9", 1234), make_echo(buf, sizeof buf, &ll, &me, 8));
	assert_int_equal(cl.stats.dropped[CL_DROP_LINK_LOCAL], 1);
	struct in6_addr other = A6("2001:0:c633:640a::99");
	udp_in(EP("203.0.113.9", 1234), make_echo(buf, sizeof buf, &spoof, &other, 8));
	assert_int_equal(cl.stats.dropped[CL_DROP_NOT_FOR_US], 1);
	memset(buf, 0, 10);
	udp_in(EP("203.0.113.9", 1234), 10);
	assert_int_equal(cl.stats.dropped[CL_DROP_MALFORMED], 1);
}

/* The server introduces a relay (an indirect bubble with its origin, C-32) and the
 * client answers it with a direct bubble: what precedes a native peer's first packet. */
static void introduce(struct sw_endpoint relay)
{
	struct in6_addr me = our_addr(), ll = A6("fe80::8000:1");
	teredo_put_origin(buf, relay);
	udp_in(EP(SERVER, 3544), 8 + make_bubble(buf + 8, &ll, &me));
	assert_int_equal(count_to(relay), 1);
}

/* The echo test the client sent in acts: returns its nonce. */
static void echo_nonce(uint8_t nonce[8])
{
	for (int i = 0; i < nacts; i++)
		if (acts[i].kind == SW_ACT_UDP && icmp6_type(acts[i].hdr, acts[i].hdr_len) == ICMP6_ECHO_REQ) {
			assert_true(endpoint_eq(acts[i].dst, EP(SERVER, 3544)));
			memcpy(nonce, acts[i].hdr + 48, 8);
			return;
		}
	fail_msg("no echo test sent");
}

static int count_kind(enum sw_action_kind k)
{
	int n = 0;
	for (int i = 0; i < nacts; i++)
		n += acts[i].kind == k;
	return n;
}

/* RFC 4380 §5.2.3 case 6 (C-38) and §5.2.9 (C-65): a native host writes first through a
 * relay. Its packets are held while an echo test through our server finds the relay
 * nearest to it; the reply through that relay makes the peer trusted and the held
 * packets go to the host. */
static void rfc4380_s5_2_3_c38_native_peer_writes_first(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544);
	qualify(m, m);
	introduce(relay);
	struct in6_addr me = our_addr(), host = A6("2001:db8:1::100");
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 0);
	uint8_t nonce[8];
	echo_nonce(nonce);
	assert_int_equal(cl.stats.stranger_tests, 1);
	/* A second packet within 2 s is held, no second test (C-52). */
	now += 500;
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 16));
	assert_int_equal(nacts, 0);
	/* The reply: trusted through the relay, both packets delivered in order. */
	size_t len = icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &host, &me, 0, 0, nonce, 8);
	udp_in(relay, len);
	assert_int_equal(count_kind(SW_ACT_TUN), 2);
	assert_int_equal(acts[0].body_len, 48 + 8);
	assert_int_equal(acts[1].body_len, 48 + 16);
	assert_int_equal(cl.stats.stranger_delivered, 2);
	/* From now on the host's packets go straight in (case 1), our answers to the relay. */
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &host, 8), acts, ACTS);
	assert_int_equal(count_to(relay), 1);
}

/* Later in the client's life (C-40, C-38): a relay that still trusts us sends a new
 * native peer's packets without bubbling first; a relay that a trusted native peer's
 * packets already come through is vouched for too. */
static void rfc4380_s5_2_3_c38_known_relay_needs_no_introduction(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544);
	qualify(m, m);
	introduce(relay);
	struct in6_addr me = our_addr(), a = A6("2001:db8:1::100"), b = A6("2001:db8:1::101");
	uint8_t nonce[8];
	udp_in(relay, make_echo(buf, sizeof buf, &a, &me, 8));
	echo_nonce(nonce);
	udp_in(relay, icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &a, &me, 0, 0, nonce, 8));
	now += CLIENT_INTRO_VALID_MS + 1000; /* the introduction is old */
	udp_in(relay, make_echo(buf, sizeof buf, &a, &me, 8)); /* keeps a's entry warm */
	udp_in(relay, make_echo(buf, sizeof buf, &b, &me, 8));
	echo_nonce(nonce);
	udp_in(relay, icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &b, &me, 0, 0, nonce, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
}

/* CVE-2006-6266 (SEC-22), C-66: a stranger cannot make the client test on its behalf.
 * No test for a source no relay of ours brings, none beyond the global rate, at most
 * one echo per packet received and none by timer; held packets that came through
 * another relay than the one the test proved are never delivered. */
static void sec22_cve_2006_6266_stranger_tests_bounded(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544),
			   rogue = EP("198.51.100.66", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), host = A6("2001:db8:1::100");
	/* Nobody introduced rogue, and no trusted peer's packets come from it. */
	for (int i = 0; i < 20; i++) {
		udp_in(rogue, make_echo(buf, sizeof buf, &host, &me, 8));
		assert_int_equal(nacts, 0);
	}
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], CLIENT_STRANGER_RATE);
	assert_int_equal(cl.stats.dropped[CL_DROP_STRANGER_LIMITED], 20 - CLIENT_STRANGER_RATE);
	assert_int_equal(cl.stats.stranger_tests, 0);
	/* Through a relay the server introduced: one test, then nothing by timer. */
	now += 1000; /* the rogue spent the second's tokens */
	introduce(relay);
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 8));
	uint8_t nonce[8];
	echo_nonce(nonce);
	for (int i = 0; i < 20; i++) {
		now += 200;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(count_to(relay), 0); /* (the server gets the first refresh) */
	}
	/* The rogue cannot slip a packet into the held queue, even introduced: the reply
	 * proves only the relay, and only the relay's packet goes in. */
	introduce(rogue);
	udp_in(rogue, make_echo(buf, sizeof buf, &host, &me, 24));
	udp_in(relay, icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &host, &me, 0, 0, nonce, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	assert_int_equal(acts[0].body_len, 48 + 8);
	/* A new native peer: tests start at most CLIENT_STRANGER_RATE a second in all. */
	now += 1000;
	int started = 0;
	for (int i = 0; i < 3 * CLIENT_STRANGER_RATE; i++) {
		char a[64];
		snprintf(a, sizeof a, "2001:db8:7::%x", i + 1);
		struct in6_addr h = A6(a);
		udp_in(relay, make_echo(buf, sizeof buf, &h, &me, 8));
		started += count_kind(SW_ACT_UDP);
	}
	assert_int_equal(started, CLIENT_STRANGER_RATE);
	/* At most 4 tests per peer in 300 s (C-53), whatever arrives. */
	uint64_t before = cl.stats.stranger_tests;
	for (int i = 0; i < 20; i++) {
		now += 2500;
		introduce(relay);
		udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 8));
	}
	assert_true(cl.stats.stranger_tests - before <= 4);
}

/* C-66 again: held packets are delivered only when they came through the relay the
 * test proved. */
static void rfc4380_s5_2_9_c66_held_packets_only_from_proven_relay(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), relay = EP("198.51.100.30", 3544),
			   other = EP("198.51.100.31", 3544);
	qualify(m, m);
	introduce(relay);
	introduce(other);
	struct in6_addr me = our_addr(), host = A6("2001:db8:1::100");
	udp_in(other, make_echo(buf, sizeof buf, &host, &me, 8));
	uint8_t nonce[8];
	echo_nonce(nonce);
	udp_in(relay, make_echo(buf, sizeof buf, &host, &me, 16));
	udp_in(relay, icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REP, 64, &host, &me, 0, 0, nonce, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	assert_int_equal(acts[0].body_len, 48 + 16);
}

/* RFC 6081 §5.1.2: a packet with an unknown trailer of type 01xxxxxx is
 * discarded; one of type 00xxxxxx is skipped and the packet kept. */
static void rfc6081_s5_1_2_x04_client_trailer_discard(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), peer_ep = EP("203.0.113.40", 50000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", peer_ep, 0);
	size_t len = make_echo(buf, sizeof buf, &peer, &me, 8);
	buf[len] = 0x41; buf[len + 1] = 0;
	udp_in(peer_ep, len + 2);
	assert_int_equal(cl.stats.dropped[CL_DROP_TRAILER], 1);
	assert_int_equal(count_kind(SW_ACT_TUN), 0);
	buf[len] = 0x21;
	udp_in(peer_ep, len + 2);
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	assert_int_equal(acts[0].body_len, len); /* the trailer stays out of the host's packet */
}

/* The Nonce Trailer of the bubble in acts[i], or NULL. */
static const uint8_t *bubble_nonce(int i)
{
	struct teredo_pkt p;
	static struct teredo_trailers t;
	assert_int_equal(teredo_parse(acts[i].hdr, acts[i].hdr_len, &p), WIRE_OK);
	assert_true(ip6_is_bubble(p.ip6, p.ip6_len));
	assert_int_equal(teredo_trailers_parse(p.trailers, p.trailers_len, &t), WIRE_OK);
	return t.has_nonce ? t.nonce : NULL;
}

static int index_to(struct sw_endpoint ep)
{
	for (int i = 0; i < nacts; i++)
		if (acts[i].kind == SW_ACT_UDP && endpoint_eq(acts[i].dst, ep))
			return i;
	fail_msg("nothing sent there");
	return -1;
}

/* RFC 6081 §5.2: our indirect bubble carries a fresh nonce, our first
 * direct bubble none; the peer behind a symmetric NAT answers from another port with
 * that nonce: it is trusted at that port, the queue goes there, and it hears a bubble
 * from our own mapping. Without the nonce, or with another, such a bubble is dropped. */
static void rfc6081_s5_2_4_x15_symmetric_peer_proves_itself_with_nonce(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), embedded = EP("198.51.100.24", 40000),
			   actual = EP("198.51.100.24", 61234), psrv = EP("198.51.100.12", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_null(bubble_nonce(index_to(embedded)));          /* none received yet */
	const uint8_t *n = bubble_nonce(index_to(psrv));        /* */
	assert_non_null(n);
	uint8_t sent[4];
	memcpy(sent, n, 4);
	/* From another address without a nonce, from another port with a wrong one:
	 * dropped (X-15; a trailer-less bubble from the named address is the Miredo
	 * interop case, interop_moved_port_bubble_during_exchange). */
	size_t len = make_bubble(buf, &peer, &me);
	udp_in(EP("198.51.100.99", 61234), len);
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
	uint8_t wrong[4] = { sent[0] ^ 1, sent[1], sent[2], sent[3] };
	udp_in(actual, len + trailer_put_nonce(buf + len, wrong));
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 2);
	/* With our nonce: trusted there, the queued packet goes there, and a bubble. */
	udp_in(actual, len + trailer_put_nonce(buf + len, sent));
	assert_int_equal(count_to(actual), 2);
	assert_int_equal(cl.stats.nonce_accepted, 1);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(actual), 1);
}

/* Interop (Miredo has no RFC 6081): while we bubble a peer, its bubble from another port
 * of the address its Teredo address names is taken (a port-symmetric NAT, or a mapping
 * Linux's masquerade moved); from another address, or when we are not bubbling it, or
 * a data packet, it is not. */
static void interop_moved_port_bubble_during_exchange(void **state)
{
	cl.cfg.symmetric_nat = false; /* as with a peer that ignores our nonce */
	struct sw_endpoint m = EP("203.0.113.7", 40000), embedded = EP("198.51.100.24", 40000),
			   moved = EP("198.51.100.24", 51234), other_ip = EP("198.51.100.99", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0),
			stranger = teredo_of("198.51.100.12", EP("198.51.100.25", 40000), 0);
	/* Not bubbling this one: dropped. */
	udp_in(EP("198.51.100.25", 5555), make_bubble(buf, &stranger, &me));
	assert_int_equal(cl.stats.moved_port_accepted, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	/* From another address, or data: dropped. */
	udp_in(other_ip, make_bubble(buf, &peer, &me));
	udp_in(moved, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(cl.stats.moved_port_accepted, 0);
	assert_int_equal(count_kind(SW_ACT_TUN), 0);
	/* Its bubble from another port of its address: trusted there, the queue follows. */
	udp_in(moved, make_bubble(buf, &peer, &me));
	assert_int_equal(cl.stats.moved_port_accepted, 1);
	assert_int_equal(count_to(moved), 1);
}

/* RFC 6081 §5.2.4.3: a peer's indirect bubble with a nonce: our direct bubble
 * to its origin echoes it, and our own indirect bubble (fresh nonce) goes to its server;
 * one without a nonce forgets the old one and gets only the direct bubble. */
static void rfc6081_s5_2_4_3_x14_nonce_received_and_echoed(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), origin = EP("198.51.100.24", 61234),
			   psrv = EP("198.51.100.12", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", EP("198.51.100.24", 40000), 0);
	static const uint8_t theirs[4] = { 0xa, 0xb, 0xc, 0xd };
	teredo_put_origin(buf, origin);
	size_t len = 8 + make_bubble(buf + 8, &peer, &me);
	udp_in(EP(SERVER, 3544), len + trailer_put_nonce(buf + len, theirs));
	const uint8_t *n = bubble_nonce(index_to(origin));
	assert_non_null(n);
	assert_memory_equal(n, theirs, 4);
	assert_non_null(bubble_nonce(index_to(psrv)));
	now += 3000;
	udp_in(EP(SERVER, 3544), len);
	assert_int_equal(nacts, 1);
	assert_null(bubble_nonce(index_to(origin)));
}

/* SymmetricNATSupport no: no trailer on any bubble (every Miredo configuration keeps
 * working unchanged either way). */
static void rfc6081_s5_2_symmetric_nat_support_off(void **state)
{
	cl.cfg.symmetric_nat = false;
	struct sw_endpoint m = EP("203.0.113.7", 40000), embedded = EP("198.51.100.24", 40000),
			   psrv = EP("198.51.100.12", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_null(bubble_nonce(index_to(psrv)));
	assert_null(bubble_nonce(index_to(embedded)));
}

/* The probe's RS in acts (from socket 1, C = 1 source, to the primary): its nonce. */
static bool probe_rs(uint8_t nonce[8])
{
	for (int i = 0; i < nacts; i++) {
		struct teredo_pkt p;
		if (acts[i].kind != SW_ACT_UDP || acts[i].sock != 1 ||
		    teredo_parse(acts[i].hdr, acts[i].hdr_len, &p) != WIRE_OK || icmp6_type(p.ip6, p.ip6_len) != ICMP6_RS)
			continue;
		struct in6_addr s, cone = A6("fe80::8000:ffff:ffff:ffff");
		ip6_src(p.ip6, &s);
		assert_memory_equal(&s, &cone, 16);
		assert_true(endpoint_eq(acts[i].dst, EP(SERVER, 3544)));
		memcpy(nonce, p.nonce, 8);
		return true;
	}
	return false;
}

/* The server's answer to the probe, from its secondary address (S-17). */
static size_t make_probe_ra(uint8_t *out, const uint8_t nonce[8])
{
	size_t n = make_ra(out, nonce, EP("203.0.113.7", 50000), SERVER);
	struct in6_addr cone = A6("fe80::8000:ffff:ffff:ffff");
	/* make_ra addresses the RA to the C = 0 source: readdress it and fix the checksum. */
	uint8_t *ip6 = out + 21;
	memcpy(ip6 + 24, &cone, 16);
	struct in6_addr s;
	ip6_src(ip6, &s);
	put_be16(ip6 + 42, 0);
	put_be16(ip6 + 42, icmp6_checksum(&s, &cone, ip6 + 40, n - 21 - 40));
	return n;
}

/* RFC 6081 §3's NAT kinds: the filtering probe from a second socket tells a cone NAT
 * (the answer from the secondary address comes in at once), a restricted one (it comes
 * in once that socket sent to the secondary address) and a port-restricted one (never,
 * each step asked twice); the port-preserving flag comes from the mapping. */
static void rfc6081_s3_nat_kind_probe(void **state)
{
	for (int kind = 0; kind < 3; kind++) {
		client_free(&cl);
		setup(state);
		cl.cfg.nat_probe = true;
		cl.cfg.local_port = htons(40000);
		struct sw_endpoint m = EP("203.0.113.7", 40000);
		qualify(m, m);
		assert_true(cl.port_preserving);
		uint8_t nonce[8];
		assert_true(probe_rs(nonce));
		assert_int_equal(cl.nat, NAT_CONE_OR_RESTRICTED);
		if (kind == 0) {
			nacts = client_udp_on(&cl, now, 1, EP(SERVER2, 3544), buf, make_probe_ra(buf, nonce), acts, ACTS);
			assert_int_equal(cl.nat, NAT_CONE);
			continue;
		}
		/* No answer: the same question again, same nonce, then the next step. */
		uint8_t first[8];
		memcpy(first, nonce, 8);
		now += 2000;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_true(probe_rs(nonce));
		assert_memory_equal(nonce, first, 8);
		now += 2000;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_true(probe_rs(nonce)); /* asked again, after opening toward the secondary */
		assert_memory_not_equal(nonce, first, 8);
		int opened = 0;
		for (int i = 0; i < nacts; i++)
			opened += acts[i].sock == 1 && acts[i].dst.ip == A4(SERVER2) && acts[i].dst.port != htons(3544);
		assert_int_equal(opened, 1);
		if (kind == 1) {
			/* An answer with another nonce, or to socket 0, does not count. */
			uint8_t wrong[8] = { 0 };
			nacts = client_udp_on(&cl, now, 1, EP(SERVER2, 3544), buf, make_probe_ra(buf, wrong), acts, ACTS);
			assert_int_equal(cl.nat, NAT_CONE_OR_RESTRICTED);
			nacts = client_udp_on(&cl, now, 1, EP(SERVER2, 3544), buf, make_probe_ra(buf, nonce), acts, ACTS);
			assert_int_equal(cl.nat, NAT_RESTRICTED);
			continue;
		}
		now += 2000;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(cl.nat, NAT_CONE_OR_RESTRICTED); /* asked twice */
		assert_true(probe_rs(nonce));
		now += 2000;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(cl.nat, NAT_PORT_RESTRICTED);
	}
}

/* The ND option trailer's DiscoveryType of the bubble in acts[i], or -1. */
static int bubble_nd(int i)
{
	struct teredo_pkt p;
	struct teredo_trailers t;
	assert_int_equal(teredo_parse(acts[i].hdr, acts[i].hdr_len, &p), WIRE_OK);
	assert_int_equal(teredo_trailers_parse(p.trailers, p.trailers_len, &t), WIRE_OK);
	return t.has_nd ? t.nd_type : -1;
}

/* RFC 6081 §5.7: 30 s after the last exchange with a peer that speaks
 * RFC 6081, a packet for it makes a direct bubble with an ND Solicitation to its
 * mapping, not an indirect one through its server; its Advertisement lets the queue
 * go. Unanswered, it is sent again 2 s apart, and the third time the indirect bubble
 * starts over. We answer a Solicitation with an Advertisement. A peer that never sent a
 * trailer (Miredo) gets the indirect bubble at once, as before. */
static void rfc6081_s5_7_x62_x64_server_load_reduction(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), pe = EP("198.51.100.24", 40000),
			   psrv = EP("198.51.100.12", 3544);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", pe, 0);
	/* The peer's indirect bubble with a nonce: it speaks RFC 6081; its packet trusts it. */
	static const uint8_t n4[4] = { 1, 2, 3, 4 };
	teredo_put_origin(buf, pe);
	size_t len = 8 + make_bubble(buf + 8, &peer, &me);
	udp_in(EP(SERVER, 3544), len + trailer_put_nonce(buf + len, n4));
	udp_in(pe, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	/* 31 s of silence, then a packet for it. */
	now += 31000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(nacts, 1);
	assert_int_equal(bubble_nd(index_to(pe)), TRAILER_ND_SOLICITATION);
	assert_int_equal(count_to(psrv), 0);
	/* Unanswered: again at 2 s; at the third, the indirect bubble too. */
	now += 2000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(count_to(pe), 1);
	assert_int_equal(count_to(psrv), 0);
	now += 2000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(count_to(psrv), 1);
	/* Its Advertisement (any packet from its mapping) lets the queue go. */
	len = make_bubble(buf, &peer, &me);
	udp_in(pe, len + trailer_put_nd(buf + len, TRAILER_ND_ADVERTISEMENT));
	assert_int_equal(count_to(pe), 1);
	assert_int_equal(cl.stats.solicitations, 3);
	/* Its Solicitation gets our Advertisement. */
	udp_in(pe, len + trailer_put_nd(buf + len, TRAILER_ND_SOLICITATION));
	assert_int_equal(nacts, 1);
	assert_int_equal(bubble_nd(0), TRAILER_ND_ADVERTISEMENT);
	/* A peer that never sent a trailer: the indirect bubble at once. */
	struct sw_endpoint qe = EP("198.51.100.25", 40000);
	struct in6_addr old = teredo_of("198.51.100.12", qe, 0);
	udp_in(qe, make_echo(buf, sizeof buf, &old, &me, 8));
	now += 31000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &old, 8), acts, ACTS);
	assert_int_equal(count_to(psrv), 1);
	assert_int_equal(bubble_nd(index_to(qe)), -1);
}

/* ---- RFC 6081 §5.4, §5.5: random ports ---- */

/* Two random-port slots (sockets 2 and 3) ready at 50001 and 50002; our socket at
 * 40000; qualified behind a symmetric NAT whose first mapping kept (pp) or did not keep
 * our port. */
static void symmetric_with_random_ports(bool pp)
{
	cl.cfg.port_preserving_nat = true;
	cl.cfg.sequential_nat = true;
	cl.cfg.random_ports = 2;
	cl.cfg.local_port = htons(40000);
	client_random_port_ready(&cl, 0, htons(50001));
	client_random_port_ready(&cl, 1, htons(50002));
	qualify(EP("203.0.113.7", pp ? 40000 : 20000), EP("203.0.113.7", pp ? 31234 : 20001));
	assert_int_equal(cl.nat, NAT_SYMMETRIC);
	assert_int_equal(cl.port_preserving, pp); /* */
}

static void udp_on(uint8_t sock, struct sw_endpoint from, size_t len)
{
	nacts = client_udp_on(&cl, now, sock, from, buf, len, acts, ACTS);
}

/* The trailers of the bubble in acts[i]. */
static const struct teredo_trailers *trailers_of(int i)
{
	struct teredo_pkt p;
	static struct teredo_trailers t;
	memset(&t, 0, sizeof t);
	assert_int_equal(teredo_parse(acts[i].hdr, acts[i].hdr_len, &p), WIRE_OK);
	assert_int_equal(teredo_trailers_parse(p.trailers, p.trailers_len, &t), WIRE_OK);
	return &t;
}

/* The first UDP action to ep from local socket sock, or -1. */
static int index_from(uint8_t sock, struct sw_endpoint ep)
{
	for (int i = 0; i < nacts; i++)
		if (acts[i].kind == SW_ACT_UDP && acts[i].sock == sock && endpoint_eq(acts[i].dst, ep))
			return i;
	return -1;
}

/* An indirect bubble from `peer` through our server, from origin, with a nonce and, if
 * rport is not 0, a Random Port Trailer. */
static size_t indirect_from(const struct in6_addr *peer, struct sw_endpoint origin, uint16_t rport)
{
	static const uint8_t theirs[4] = { 0xa, 0xb, 0xc, 0xd };
	struct in6_addr me = our_addr();
	teredo_put_origin(buf, origin);
	size_t len = 8 + make_bubble(buf + 8, peer, &me);
	len += trailer_put_nonce(buf + len, theirs);
	if (rport)
		len += trailer_put_random_port(buf + len, htons(rport));
	return len;
}

/* RFC 6081 §5.4 (X-33, X-35..X-38 (d), (c), X-34): behind a port-preserving symmetric NAT
 * the first indirect bubble to a peer carries the random port lent to it; the peer's
 * Random Port gets a bubble from ours; its bubble on our random port makes it trusted
 * there, and data leaves from that port; once its bubble reaches the primary port, the
 * random port goes back to the shell. */
static void rfc6081_s5_4_x35_x38_port_preserving_random_port(void **state)
{
	symmetric_with_random_ports(true);
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), psrv = EP("198.51.100.12", 3544),
			   prand = EP("198.51.100.24", 60000);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_true(index_from(0, embedded) >= 0);          /* the usual direct bubble */
	int i = index_from(0, psrv);
	assert_true(i >= 0);
	assert_true(trailers_of(i)->has_random_port);     /* */
	assert_int_equal(trailers_of(i)->random_port, htons(50001));
	assert_int_equal(cl.stats.random_ports_taken, 1);
	/* its indirect bubble announces its own random port: a bubble from ours there
	 * with our Random Port Trailer. */
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 41000), 60000));
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_int_equal(p->peer_rand_port, htons(60000));
	i = index_from(2, prand);
	assert_true(i >= 0);
	assert_int_equal(trailers_of(i)->random_port, htons(50001));
	/* X-38 (d): its bubble on our random port, from its random port: trusted there;
	 * the queued packet and later data leave from socket 2 (X-34 counts data only). */
	udp_on(2, prand, make_bubble(buf, &peer, &me));
	assert_true(p->trusted && p->dr_random && !p->dr_primary);
	assert_int_equal(cl.stats.random_port_trusted, 1);
	assert_true(count_to(prand) >= 1);
	now += 5000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(nacts, 1);
	assert_int_equal(acts[0].sock, 2);
	assert_int_equal(cl.rport[p->rslot - 1].last_data_tx, now);
	/* Data back on the random port from its mapping: to the host. */
	udp_on(2, prand, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	/* From elsewhere on the random port: dropped. */
	udp_on(2, EP("198.51.100.99", 60000), make_bubble(buf, &peer, &me));
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
	/* X-38 (c): a bubble on the primary port from its embedded mapping: recorded there,
	 * the random port zeroed and given back. */
	udp_in(embedded, make_bubble(buf, &peer, &me));
	assert_true(p->dr_primary && !p->dr_random);
	assert_int_equal(p->rslot, 0); /* Random Port zeroed with it */
	assert_int_equal(p->sock, 0);
	const struct sw_action *r = find(SW_ACT_RENEW_SOCK);
	assert_non_null(r);
	assert_int_equal(r->sock, 2);
	/* The slot is not lent again until the shell says it is open on a new port. */
	assert_int_equal(cl.rport[0].port, 0);
	client_random_port_ready(&cl, 0, htons(50003));
	assert_int_equal(cl.rport[0].port, htons(50003));
}

/* The last record of the trust journal (issue 10). */
static const struct trust_event *last_trust(void)
{
	assert_true(cl.trust.n > 0);
	return &cl.trust.ev[cl.trust.n - 1];
}

/* Issue 10 with RFC 6081 §5.4: the kernel fast path mirrors a peer trusted on the
 * random port lent to it (X-38 (d)), naming that socket, whose port the kernel sends
 * from; when the random port is given back and the peer stays trusted, from the Teredo
 * socket (X-38 (c), and X-37 behind a port-preserving NAT: a new Random Port after 30 s
 * of silence), the journal says so before the shell reopens that port elsewhere. */
static void rfc6081_s5_4_fast_path_follows_the_random_port(void **state)
{
	symmetric_with_random_ports(true);
	client_fast_path(&cl);
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), prand = EP("198.51.100.24", 60000);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 41000), 60000));
	assert_int_equal(cl.trust.n, 0); /* not trusted yet */
	udp_on(2, prand, make_bubble(buf, &peer, &me));
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_true(p->trusted && p->sock == 2);
	assert_true(last_trust()->add);
	assert_int_equal(last_trust()->sock, 2);
	assert_true(endpoint_eq(last_trust()->mapping, prand));
	assert_memory_equal(&last_trust()->addr, &peer, 16);
	/* X-37 behind our port-preserving NAT: 30 s of silence, then another Random Port
	 * from the peer: ours goes back, the peer is reached from the Teredo socket. */
	cl.trust.n = 0;
	now += CLIENT_PEER_VALID_MS + 1;
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 41000), 60001));
	assert_int_equal(p->peer_rand_port, htons(60001));
	assert_int_equal(p->rslot, 0);
	assert_true(p->trusted && p->sock == 0);
	assert_non_null(find(SW_ACT_RENEW_SOCK));
	assert_true(cl.trust.n > 0);
	assert_true(last_trust()->add);
	assert_int_equal(last_trust()->sock, 0);
	assert_true(endpoint_eq(last_trust()->mapping, p->mapping));
	/* X-38 (c): its bubble on the primary port from its embedded mapping. */
	cl.trust.n = 0;
	udp_in(embedded, make_bubble(buf, &peer, &me));
	assert_true(last_trust()->add);
	assert_int_equal(last_trust()->sock, 0);
	assert_true(endpoint_eq(last_trust()->mapping, embedded));
}

/* RFC 6081 §3.3 and §3.4, the port-restricted side, and X-37: a peer's indirect bubble
 * announces its random port; we bubble it there from our primary port, and its bubble
 * from that port of its address is taken. A new port replaces the old one only after 30
 * s of silence. */
static void rfc6081_s5_4_4_4_x37_port_restricted_side(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), embedded = EP("198.51.100.24", 20000),
			   prand = EP("198.51.100.24", 20011);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 20005), 20011));
	assert_true(index_from(0, prand) >= 0);
	struct peer *p = peer_find(&cl.peers, &peer);
	/* Another port while we are bubbling it: ignored; after 30 s of silence: taken. */
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 20005), 20077));
	assert_int_equal(p->peer_rand_port, htons(20011));
	now += CLIENT_PEER_VALID_MS + 1;
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 20005), 20077));
	assert_int_equal(p->peer_rand_port, htons(20077));
	p->last_rx = now;
	udp_in(EP(SERVER, 3544), indirect_from(&peer, EP("198.51.100.24", 20005), 20011));
	assert_int_equal(p->peer_rand_port, htons(20077)); /* active: ignored */
	/* Its bubble from the announced port of its address: trusted there, answered. */
	prand.port = htons(20077);
	udp_in(prand, make_bubble(buf, &peer, &me));
	assert_true(p->trusted);
	assert_true(endpoint_eq(p->mapping, prand));
	assert_int_equal(cl.stats.peer_random_port_accepted, 1);
	assert_int_equal(count_to(prand), 1);
	/* Another port of that address is not. */
	udp_in(EP("198.51.100.24", 20078), make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
}

/* RFC 6081 §5.5 (X-41, X-44, X-45, X-47, X-48, E-01): behind a symmetric NAT that does not
 * keep ports, the indirect bubble waits for the Echo Test: from the random port an RS to
 * the primary address, a nonce-less bubble to the peer, an RS to the secondary address.
 * The two answers' ports bracket the prediction, (lower + upper) / 2, which the indirect
 * bubble then carries. */
static void rfc6081_s5_5_x44_x48_sequential_echo_test(void **state)
{
	symmetric_with_random_ports(false);
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), psrv = EP("198.51.100.12", 3544);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(index_from(0, psrv), -1);           /* not yet */
	int a = index_from(2, EP(SERVER, 3544)), b = index_from(2, embedded), c = index_from(2, EP(SERVER2, 3544));
	assert_true(a >= 0 && b > a && c > b);                /* X-45, in this order */
	assert_null(bubble_nonce(b));
	uint8_t n1[8], n2[8];
	expect_rs(a, SERVER, n1);
	expect_rs(c, SERVER2, n2);
	assert_int_equal(cl.stats.port_echo_tests, 1);
	/* A wrong nonce, or the right one from the wrong address: dropped. */
	uint8_t bad[8] = { 0 };
	udp_on(2, EP(SERVER, 3544), make_ra(buf, bad, EP("203.0.113.7", 20010), SERVER));
	udp_on(2, EP(SERVER2, 3544), make_ra(buf, n1, EP("203.0.113.7", 20010), SERVER));
	assert_int_equal(cl.stats.dropped[CL_DROP_BAD_RA], 2);
	udp_on(2, EP(SERVER2, 3544), make_ra(buf, n2, EP("203.0.113.7", 20012), SERVER));
	assert_int_equal(nacts, 0);
	udp_on(2, EP(SERVER, 3544), make_ra(buf, n1, EP("203.0.113.7", 20010), SERVER));
	int i = index_from(0, psrv);
	assert_true(i >= 0);                                  /* */
	assert_int_equal(trailers_of(i)->random_port, htons(20011)); /* X-48, E-01 */
	assert_int_equal(cl.stats.port_predictions, 1);
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_int_equal(cl.rport[p->rslot - 1].et_deadline, 0);
	/* a bubble on the primary port ends it all. */
	udp_in(embedded, make_bubble(buf, &peer, &me));
	assert_true(p->trusted && p->dr_primary);
	assert_int_equal(p->rslot, 0); /* Lower, Upper, RetryCounter went with the port */
	assert_non_null(find(SW_ACT_RENEW_SOCK));
}

/* RFC 6081 §5.5.2.2: no answer within RetryCounter seconds: a second Echo Test;
 * none again: the plain indirect bubble. */
static void rfc6081_s5_5_2_2_x46_echo_test_failover(void **state)
{
	symmetric_with_random_ports(false);
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), psrv = EP("198.51.100.12", 3544);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	now += 1000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.stats.port_echo_tests, 2);
	assert_int_equal(index_from(0, psrv), -1);
	now += 2000;
	nacts = client_tick(&cl, now, acts, ACTS);
	int i = index_from(0, psrv);
	assert_true(i >= 0);
	assert_false(trailers_of(i)->has_random_port);
	assert_int_equal(cl.stats.port_echo_tests, 2);
}

/* RFC 6081 §5.4 as rfc6081_s5_4_x35_x38_port_preserving_random_port walks it, up to
 * where the peer behind 198.51.100.24 (*peer) has been trusted on our random port
 * (socket 2) from its own random port (*prand); *me is our address. Its entry. */
static struct peer *peer_on_random_port(struct in6_addr *me, struct in6_addr *peer, struct sw_endpoint *prand)
{
	symmetric_with_random_ports(true);
	*prand = EP("198.51.100.24", 60000);
	*me = our_addr();
	*peer = teredo_of("198.51.100.12", EP("198.51.100.24", 40000), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, me, peer, 8), acts, ACTS);
	udp_in(EP(SERVER, 3544), indirect_from(peer, EP("198.51.100.24", 41000), 60000));
	udp_on(2, *prand, make_bubble(buf, peer, me));
	return peer_find(&cl.peers, peer);
}

/* RFC 6081 §5.4.2.1: every 30 s, a peer reached through a random port that
 * got no data for 30 s hears a direct bubble from that port, at most 20 in a row; data
 * resets the count. A peer that left the table gives its port back (rport_sweep). */
static void rfc6081_s5_4_2_1_x32_peer_refresh(void **state)
{
	struct sw_endpoint prand;
	struct in6_addr me, peer;
	struct peer *p = peer_on_random_port(&me, &peer, &prand);
	assert_true(p->trusted);
	unsigned sent = 0;
	for (int k = 0; k < 25; k++) {
		now += CLIENT_PEER_REFRESH_MS;
		p->last_rx = now; /* it keeps talking to us; we send it nothing */
		cl.next_refresh = now + 60000; /* (the fake server answers no refresh) */
		nacts = client_tick(&cl, now, acts, ACTS);
		sent += index_from(2, prand) >= 0;
	}
	assert_int_equal(sent, CLIENT_PEER_REFRESH_MAX);
	assert_int_equal(cl.stats.peer_refresh_bubbles, CLIENT_PEER_REFRESH_MAX);
	now += 1000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	now = cl.next_peer_refresh;
	p->last_rx = now;
	cl.next_refresh = now + 60000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.rport[p->rslot - 1].refresh_count, 0);
	/* The peer leaves the table: its port goes back to the shell. */
	peer_remove(&cl.peers, p);
	now += 200;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_non_null(find(SW_ACT_RENEW_SOCK));
	assert_int_equal(cl.rport[0].peer, PEER_NONE);
}

/* Issue 10 with RFC 6081 §5.4.4.1: data the kernel fast path sends through the
 * random port counts as the core's own does (client_peer_sent): the Peer Refresh Timer
 * sees a port in use, so no bubble, and its count never runs out during the exchange. */
static void rfc6081_s5_4_4_1_x34_fast_path_sends_count(void **state)
{
	struct sw_endpoint prand;
	struct in6_addr me, peer;
	struct peer *p = peer_on_random_port(&me, &peer, &prand);
	assert_true(p->trusted && p->sock == 2);
	unsigned sent = 0;
	for (int k = 0; k < 25; k++) {
		now += CLIENT_PEER_REFRESH_MS;
		p->last_rx = now;
		client_peer_sent(&cl, &peer, now - 1000); /* the kernel's report */
		assert_int_equal(p->last_tx, now - 1000);
		assert_int_equal(cl.last_use, now - 1000);
		cl.next_refresh = now + 60000;
		nacts = client_tick(&cl, now, acts, ACTS);
		sent += index_from(2, prand) >= 0;
		assert_int_equal(cl.rport[p->rslot - 1].refresh_count, 0);
	}
	assert_int_equal(sent, 0);
	/* A report older than what the core knows changes nothing; nor one for a peer it
	 * does not trust. */
	client_peer_sent(&cl, &peer, now - 5000);
	assert_int_equal(cl.rport[p->rslot - 1].last_data_tx, now - 1000);
	struct in6_addr other = teredo_of("198.51.100.12", EP("198.51.100.25", 1), 0);
	client_peer_sent(&cl, &other, now);
	assert_null(peer_find(&cl.peers, &other));
}

/* Each extension can be turned off: without random ports (PortPreservingNAT no) the
 * client behind a symmetric NAT bubbles as before, with no Random Port Trailer. */
static void rfc6081_s5_4_port_preserving_off(void **state)
{
	cl.cfg.random_ports = 0;
	cl.cfg.local_port = htons(40000);
	qualify(EP("203.0.113.7", 40000), EP("203.0.113.7", 31234));
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), psrv = EP("198.51.100.12", 3544);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	int i = index_from(0, psrv);
	assert_true(i >= 0);
	assert_false(trailers_of(i)->has_random_port);
	for (int k = 0; k < nacts; k++)
		assert_int_equal(acts[k].sock, 0);
}

/* RFC 6081 §5.6: hairpinning. Our indirect bubble to a peer we have
 * no contact with carries our own address and port (and a nonce); the peer behind the
 * same NAT answers there with our nonce and is trusted at its local address (the nonce is
 * SEC-22's proof). Its indirect bubble's alternate addresses get direct bubbles with its
 * nonce, only on our link or global, never a private address elsewhere; a malformed
 * Alternate Address Trailer drops the bubble. */
static void rfc6081_s5_6_x53_x56_hairpinning(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), bmap = EP("203.0.113.7", 40001),
			   bloc = EP("10.7.0.3", 5000), psrv = EP("198.51.100.10", 3544);
	qualify(m, m);
	struct ipv4_net net = { .addr = A4("10.7.0.2"), .mask = A4("255.255.255.0") };
	client_set_nets(&cl, &net, 1);
	client_set_local_ip(&cl, A4("10.7.0.2"));
	cl.cfg.local_port = htons(4000);
	struct in6_addr me = our_addr(), b = teredo_of(SERVER, bmap, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &b, 8), acts, ACTS);
	int i = index_to(psrv);
	struct teredo_pkt p;
	struct teredo_trailers t;
	assert_int_equal(teredo_parse(acts[i].hdr, acts[i].hdr_len, &p), WIRE_OK);
	assert_int_equal(teredo_trailers_parse(p.trailers, p.trailers_len, &t), WIRE_OK);
	assert_true(t.has_nonce && t.has_alt && t.nalt == 1);
	assert_true(endpoint_eq(t.alt[0], EP("10.7.0.2", 4000)));
	uint8_t sent[4];
	memcpy(sent, t.nonce, 4);
	/* B answers at our local address from its own, with our nonce: trusted there. */
	size_t len = make_bubble(buf, &b, &me);
	udp_in(bloc, len + trailer_put_nonce(buf + len, sent));
	assert_int_equal(count_to(bloc), 2); /* the queued packet and the answering bubble */
	/* A new peer's indirect bubble with alternate addresses: ours on the link gets a
	 * bubble with its nonce, a private one elsewhere does not. */
	struct sw_endpoint cmap = EP("203.0.113.7", 40002), cloc = EP("10.7.0.4", 6000);
	struct in6_addr cpeer = teredo_of(SERVER, cmap, 0);
	static const uint8_t theirs[4] = { 7, 7, 7, 7 };
	struct sw_endpoint alts[2] = { cloc, EP("192.168.9.9", 6000) };
	teredo_put_origin(buf, cmap);
	len = 8 + make_bubble(buf + 8, &cpeer, &me);
	len += trailer_put_nonce(buf + len, theirs);
	len += trailer_put_alt(buf + len, alts, 2);
	udp_in(EP(SERVER, 3544), len);
	assert_int_equal(count_to(cloc), 1);
	assert_memory_equal(bubble_nonce(index_to(cloc)), theirs, 4);
	assert_int_equal(count_to(EP("192.168.9.9", 6000)), 0);
	assert_int_equal(cl.stats.alt_bubbles, 1);
	/* A malformed Alternate Address Trailer (length 9) drops the bubble. */
	teredo_put_origin(buf, cmap);
	len = 8 + make_bubble(buf + 8, &cpeer, &me);
	buf[len] = TRAILER_ALT_ADDRESS;
	buf[len + 1] = 9;
	memset(buf + len + 2, 1, 9);
	udp_in(EP(SERVER, 3544), len + 11);
	assert_int_equal(nacts, 0);
	assert_int_equal(cl.stats.dropped[CL_DROP_TRAILER], 1);
}

/* Suspend and resume (issue 11; the shell's clock is CLOCK_BOOTTIME, so the sleep shows
 * as a jump of `now`): the first tick after it refreshes the mapping at once (C-25), and
 * a peer trusted before the sleep is not trusted on that old packet (C-40): a packet
 * for it starts bubbles again instead of going to the old mapping. */
static void suspend_resume_time_jump(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), pe = EP("198.51.100.24", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", pe, 0);
	udp_in(pe, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	now += 10 * 60 * 1000; /* ten minutes asleep */
	nacts = client_tick(&cl, now, acts, ACTS);
	uint8_t nonce[8];
	expect_rs(0, SERVER, nonce);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(EP("198.51.100.12", 3544)), 1); /* an indirect bubble */
	for (int i = 0; i < nacts; i++) /* and to the old mapping a bubble at most, no data */
		if (acts[i].kind == SW_ACT_UDP && endpoint_eq(acts[i].dst, pe))
			assert_true(ip6_is_bubble(acts[i].hdr, acts[i].hdr_len));
}

/* RFC 4380 §5.2.2 (C-19): a non-zero confirmation byte is reported; the RA stays valid. */
static void rfc4380_s5_2_2_c19_confirmation_byte(void **state)
{
	uint8_t nonce[8];
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	nacts = client_start(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	size_t len = make_ra(buf, nonce, m, SERVER);
	buf[12] = 1; /* the confirmation byte */
	udp_in(EP(SERVER, 3544), len);
	assert_int_equal(cl.state, CLIENT_PROBING_SECONDARY);
	assert_int_equal(cl.stats.ra_new_key, 1);
}

/* C-32 as Miredo does it: an indirect bubble the server forwards without an origin
 * indication is answered at the mapping embedded in its Teredo source. */
static void rfc4380_s5_2_3_c32_no_origin_uses_embedded_mapping(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), peer_ep = EP("203.0.113.40", 50000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", peer_ep, 0);
	udp_in(EP(SERVER, 3544), make_bubble(buf, &peer, &me));
	assert_int_equal(count_to(peer_ep), 1);
	assert_int_equal(cl.stats.origin_fallback, 1);
	/* Never to a private embedded mapping (P-08). */
	struct in6_addr priv = teredo_of("198.51.100.12", EP("10.0.0.5", 5), 0);
	udp_in(EP(SERVER, 3544), make_bubble(buf, &priv, &me));
	assert_int_equal(nacts, 0);
}

/* CVE-2006-6264 (SEC-22): a Teredo peer whose mapping lies in one of our own subnets is
 * neither trusted from its packets nor sent a direct bubble; local discovery is what
 * finds such peers. */
static void sec22_cve_2006_6264_mapping_in_own_subnet(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000), inside = EP("192.0.2.50", 4000);
	qualify(m, m);
	struct ipv4_net net = { .addr = A4("192.0.2.1"), .mask = A4("255.255.255.0") };
	client_set_nets(&cl, &net, 1);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", inside, 0);
	udp_in(inside, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 0);
	assert_int_equal(cl.stats.dropped[CL_DROP_LOCAL_SUBNET], 1);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(inside), 0);
	assert_int_equal(count_to(EP("198.51.100.12", 3544)), 1); /* the indirect bubble only */
}

/* C-46: never towards a private mapping; host packets with a wrong source or scope. */
static void rfc4380_s5_2_4_c46_host_packet_checks(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), priv = teredo_of("203.0.113.99", EP("192.168.1.5", 5), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &priv, 8), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_NOT_GLOBAL], 1);
	struct in6_addr other = A6("2001:db8::5"), mc = A6("ff02::16");
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &other, &other, 8), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_TUN_INVALID], 1);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &mc, 8), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_TUN_SCOPE], 1);
	nacts = client_tun(&cl, now, buf, 30, acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_TUN_INVALID], 2);
}

/* C-47, SEC-06: per-peer and global queue limits. */
static void sec06_c47_queue_limits(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), h1 = A6("2001:db8:1::1"), h2 = A6("2001:db8:1::2"), h3 = A6("2001:db8:1::3");
	for (int i = 0; i < 6; i++)
		nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &h1, 8), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_QUEUE_FULL], 2); /* 4 per peer */
	for (int i = 0; i < 4; i++)
		nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &h2, 8), acts, ACTS);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &h3, 8), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_QUEUE_FULL], 3); /* pool of 8 */
	assert_int_equal(cl.peers.pool_used, 8);
}

/* C-06, C-40, SEC-05: bounded peer table with expiry and eviction. */
static void sec05_c06_peer_expiry_and_eviction(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr();
	for (int i = 0; i < 40; i++) {
		struct in6_addr p = teredo_of("203.0.113.99", EP("203.0.113.8", (uint16_t)(1000 + i)), 0);
		udp_in(EP("203.0.113.8", (uint16_t)(1000 + i)), make_bubble(buf, &p, &me));
	}
	assert_int_equal(cl.peers.count, 16);
	assert_true(cl.peers.stats.evicted >= 24);
	now += 61000;
	for (int i = 0; i < 4; i++)
		nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.peers.count, 0);
}

/* RFC 4443 §3.1, §2.4 (f): the host hears "address unreachable" for what was given up,
 * at most 10 errors at once. */
static void rfc4443_s2_4_icmp_errors_rate_limited(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr();
	int errors = 0;
	for (int i = 0; i < 20; i++) {
		struct in6_addr priv = teredo_of("203.0.113.99", EP("10.0.0.1", (uint16_t)(1 + i)), 0);
		size_t len = make_echo(buf, sizeof buf, &me, &priv, 8);
		nacts = client_tun(&cl, now, buf, len, acts, ACTS);
		const struct sw_action *a = find(SW_ACT_TUN);
		if (a) {
			errors++;
			assert_int_equal(a->hdr[40], ICMP6_DST_UNREACH);
			assert_int_equal(a->hdr[41], ICMP6_UNREACH_ADDR);
			assert_int_equal(a->body_len, len);
			struct in6_addr s, d;
			ip6_src(a->hdr, &s);
			ip6_dst(a->hdr, &d);
			assert_int_equal(icmp6_checksum2(&s, &d, a->hdr + 40, 8, a->body, a->body_len), 0);
		}
	}
	assert_int_equal(errors, 10);
	assert_int_equal(cl.stats.icmp_errors_limited, 10);
	now += 1000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &me, 8), acts, ACTS);
	struct in6_addr priv = teredo_of("203.0.113.99", EP("10.0.0.1", 1), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &priv, 8), acts, ACTS);
	assert_non_null(find(SW_ACT_TUN));
}

/* RFC 4380 §5.2.8 (C-67): after qualifying, a discovery bubble to 224.0.0.253 with
 * hop limit 1 and destination ff02::1; the next one 200-300 s later. */
static void rfc4380_s5_2_8_c67_discovery_bubbles(void **state)
{
	cl.cfg.local_discovery = true;
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(count_to(EP("224.0.0.253", 3544)), 1);
	const struct sw_action *a = find(SW_ACT_UDP);
	assert_true(ip6_is_bubble(a->hdr, a->hdr_len));
	assert_int_equal(ip6_hlim(a->hdr), 1);
	struct in6_addr d, all = A6("ff02::1");
	ip6_dst(a->hdr, &d);
	assert_memory_equal(&d, &all, 16);
	now += CLIENT_DISCOVERY_MIN_MS - 1;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(count_to(EP("224.0.0.253", 3544)), 0);
	now += CLIENT_DISCOVERY_MAX_MS - CLIENT_DISCOVERY_MIN_MS + 1;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_int_equal(cl.stats.discovery_sent, 2);
}

/* C-68, C-69, C-36, C-37: a valid discovery bubble makes a local entry and gets a
 * unicast bubble; the peer's bubble from its local address then makes it trusted, and
 * data goes to the local address. Invalid ones are dropped. */
static void rfc4380_s5_2_8_c69_local_peer(void **state)
{
	cl.cfg.local_discovery = true;
	struct sw_endpoint m = EP("203.0.113.7", 40000), local = EP("10.1.0.3", 51000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of(SERVER, EP("203.0.113.7", 40001), 0x0011);
	struct in6_addr all = A6("ff02::1"), native = A6("2001:db8::7");
	size_t len;

	/* C-68: not from our link; not to ff02::1; not Teredo; not a bubble; ourselves. */
	len = make_bubble(buf, &peer, &all);
	nacts = client_discovery(&cl, now, local, false, buf, len, acts, ACTS);
	nacts = client_discovery(&cl, now, local, true, buf, make_bubble(buf, &peer, &me), acts, ACTS);
	nacts = client_discovery(&cl, now, local, true, buf, make_bubble(buf, &native, &all), acts, ACTS);
	nacts = client_discovery(&cl, now, local, true, buf, make_echo(buf, sizeof buf, &peer, &all, 8), acts, ACTS);
	nacts = client_discovery(&cl, now, local, true, buf, make_bubble(buf, &me, &all), acts, ACTS);
	assert_int_equal(cl.stats.dropped[CL_DROP_DISCOVERY], 5);
	assert_null(peer_find(&cl.peers, &peer));

	nacts = client_discovery(&cl, now, local, true, buf, make_bubble(buf, &peer, &all), acts, ACTS);
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_non_null(p);
	assert_true(p->local);
	assert_false(p->trusted);
	assert_int_equal(count_to(local), 1);                      /* C-36 */
	assert_int_equal(count_to(EP("224.0.0.253", 3544)), 1);    /* announce ourselves */
	/* Data for it: bubbles on the link too (C-43). */
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	/* Its bubble from the local address: case 5 (C-37), the queue goes there. */
	udp_in(local, make_bubble(buf, &peer, &me));
	assert_true(p->trusted);
	assert_true(endpoint_eq(p->mapping, local));
	assert_int_equal(count_to(local), 1);
	/* The same bubble from elsewhere would not have been accepted. */
	struct in6_addr other = teredo_of(SERVER, EP("203.0.113.7", 40002), 0);
	udp_in(EP("10.1.0.4", 51000), make_bubble(buf, &other, &me));
	assert_int_equal(cl.stats.dropped[CL_DROP_UNKNOWN_SOURCE], 1);
}

/* RFC 6081 §5.3.3: the IGD's mapping, when the server saw that very mapping,
 * means a single NAT: the UPnP-Mapped Address/Port reads zero and, behind a symmetric
 * NAT, X-26 may apply. Another mapping (a NAT above the IGD) keeps it; a failed
 * AddPortMapping (0) or UPnP off leaves the extension unused (X-22: continue without). */
static void rfc6081_s5_3_3_x22_x24_upnp_single_nat(void **state)
{
	cl.cfg.upnp = true;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000));
	assert_true(cl.upnp_enabled);
	qualify(EP("203.0.113.7", 40000), EP("203.0.113.7", 31234));
	assert_int_equal(client_upnp_mapped(&cl).ip, 0);      /* */
	assert_true(client_upnp_symmetric(&cl));
	/* The IGD is not the NAT the server sees. */
	client_upnp(&cl, A4("192.0.2.5"), htons(40000));
	assert_true(endpoint_eq(client_upnp_mapped(&cl), EP("192.0.2.5", 40000)));
	assert_false(client_upnp_symmetric(&cl));
	/* No mapping (X-22's failure paths), or the extension off. */
	client_upnp(&cl, 0, 0);
	assert_false(cl.upnp_enabled);
	assert_false(client_upnp_symmetric(&cl));
	cl.cfg.upnp = false;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000));
	assert_false(cl.upnp_enabled);
}

/* The walk both X-26 tests take: qualified behind our single UPnP-enabled symmetric NAT
 * (with the fast path's journal kept from then on if `fast_path`), the host writes to a
 * peer whose address names 198.51.100.24:40000; its direct bubble with the nonce of our
 * indirect one comes from :61234. The actions are those of that bubble. */
static struct in6_addr upnp_symmetric_peer(bool fast_path)
{
	cl.cfg.upnp = true;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000));
	qualify(EP("203.0.113.7", 40000), EP("203.0.113.7", 31234));
	if (fast_path)
		client_fast_path(&cl);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", EP("198.51.100.24", 40000), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	uint8_t sent[4];
	memcpy(sent, bubble_nonce(index_to(EP("198.51.100.12", 3544))), 4);
	size_t len = make_bubble(buf, &peer, &me);
	udp_in(EP("198.51.100.24", 61234), len + trailer_put_nonce(buf + len, sent));
	return peer;
}

/* RFC 6081 §5.3.4: behind a single UPnP-enabled symmetric NAT, a peer whose
 * direct bubble (with our nonce) comes from another mapping than its address names is a
 * Symmetric Peer: the answering bubble, the queued packet and later data go to the
 * mapping embedded in its address (its IGD forwards it); what it sends from its other
 * mapping is still taken (case 1). Without UPnP, the same peer is answered where it
 * wrote from (rfc6081_s5_2_4_x15_symmetric_peer_proves_itself_with_nonce). */
static void rfc6081_s5_3_4_x25_x26_symmetric_peer_reached_at_its_address(void **state)
{
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), actual = EP("198.51.100.24", 61234);
	struct in6_addr peer = upnp_symmetric_peer(false), me = our_addr();
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_true(p->trusted && p->symmetric_peer);        /* */
	assert_int_equal(count_to(actual), 0);
	assert_int_equal(count_to(embedded), 2);             /* queue and bubble */
	now += 1000;
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(embedded), 1);             /* data */
	assert_int_equal(cl.stats.upnp_embedded_sends, 3);
	udp_in(actual, make_echo(buf, sizeof buf, &peer, &me, 8));
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
}

/* RFC 6081 §5.3.4.3 on the kernel fast path (issue 10): the journal has the
 * kernel send a symmetric peer's data where the core sends it, to the mapping its
 * address names, and take the peer's data from where it writes from; when the UPnP
 * mapping goes or comes while the peer is trusted, the peer is journaled again to
 * match what the core then does, and only then. */
static void rfc6081_s5_3_4_x26_fast_path_sends_where_the_core_does(void **state)
{
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), actual = EP("198.51.100.24", 61234);
	struct in6_addr peer = upnp_symmetric_peer(true), me = our_addr();
	assert_int_equal(cl.trust.n, 1);
	assert_true(cl.trust.ev[0].add && cl.trust.ev[0].at_address && cl.trust.ev[0].sock == 0);
	assert_true(endpoint_eq(cl.trust.ev[0].mapping, actual));
	cl.trust.n = 0;
	client_upnp(&cl, 0, 0); /* the IGD's mapping is gone: the core sends where it writes from */
	assert_int_equal(cl.trust.n, 1);
	assert_true(cl.trust.ev[0].add && !cl.trust.ev[0].at_address);
	assert_true(endpoint_eq(cl.trust.ev[0].mapping, actual));
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(actual), 1);
	cl.trust.n = 0;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000)); /* and back */
	assert_int_equal(cl.trust.n, 1);
	assert_true(cl.trust.ev[0].add && cl.trust.ev[0].at_address);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(count_to(embedded), 1);
	cl.trust.n = 0;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000)); /* the same answer again */
	assert_int_equal(cl.trust.n, 0);
}

/* RFC 6081 §5.3 with §5.4 (client.c, symmetric_peer_flag): a peer we lent a random port
 * to is not marked symmetric by a bubble on the primary port from another port (Linux's
 * NAT rewrites the source port of what reaches the IGD's mapping while our own flow to
 * the peer is open): it is answered where it wrote from, not at its address. */
static void rfc6081_s5_3_s5_4_random_port_peer_not_marked_symmetric(void **state)
{
	cl.cfg.upnp = true;
	client_upnp(&cl, A4("203.0.113.7"), htons(40000));
	symmetric_with_random_ports(true);
	assert_true(client_upnp_symmetric(&cl));
	struct sw_endpoint embedded = EP("198.51.100.24", 40000), rewritten = EP("198.51.100.24", 8243),
			   psrv = EP("198.51.100.12", 3544);
	struct in6_addr me = our_addr(), peer = teredo_of("198.51.100.12", embedded, 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	int i = index_from(0, psrv);
	assert_true(trailers_of(i)->has_random_port);
	uint8_t sent[4];
	memcpy(sent, trailers_of(i)->nonce, 4);
	size_t len = make_bubble(buf, &peer, &me);
	udp_in(rewritten, len + trailer_put_nonce(buf + len, sent));
	struct peer *p = peer_find(&cl.peers, &peer);
	assert_true(p->trusted && !p->symmetric_peer);
	assert_int_equal(count_to(rewritten), 2);
	assert_int_equal(cl.stats.upnp_embedded_sends, 0);
}

/* RFC 6081 §5.6.3, §5.6.4.1: a UPnP mapping that is not the one in our
 * address (another NAT above the IGD) goes into the Alternate Address Trailer after our
 * local address. */
static void rfc6081_s5_6_x52_x53_upnp_mapping_as_alternate_address(void **state)
{
	cl.cfg.upnp = true;
	struct sw_endpoint m = EP("203.0.113.7", 40000), psrv = EP("198.51.100.10", 3544);
	qualify(m, m);
	client_upnp(&cl, A4("10.250.0.9"), htons(4000));
	struct ipv4_net net = { .addr = A4("10.7.0.2"), .mask = A4("255.255.255.0") };
	client_set_nets(&cl, &net, 1);
	client_set_local_ip(&cl, A4("10.7.0.2"));
	cl.cfg.local_port = htons(4000);
	struct in6_addr me = our_addr(), b = teredo_of(SERVER, EP("203.0.113.7", 40001), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &b, 8), acts, ACTS);
	const struct teredo_trailers *t = trailers_of(index_to(psrv));
	assert_true(t->has_nonce && t->has_alt && t->nalt == 2);
	assert_true(endpoint_eq(t->alt[0], EP("10.7.0.2", 4000)));
	assert_true(endpoint_eq(t->alt[1], EP("10.250.0.9", 4000)));
}

#define SERVER_B "198.51.100.20"
#define SERVER_B2 "198.51.100.21"

/* Issue 11 with RFC 4380 §5.2.5 (C-26) and §5.2.1 (C-13): the server in use stops
 * answering refreshes: the next candidate is asked at once (no 10 s wait), and the new
 * address names it; when every candidate has failed in a row, the client waits, starts
 * over with the first, and asks the shell to resolve the names again. */
static void issue11_server_failover(void **state)
{
	struct client_server two[2] = { { A4(SERVER), A4(SERVER2) }, { A4(SERVER_B), A4(SERVER_B2) } };
	nacts = client_set_servers(&cl, now, two, 2, acts, ACTS);
	assert_int_equal(nacts, 0);
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	for (int i = 0; i < 2; i++) {
		now += 4000;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	now += 4000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_non_null(find(SW_ACT_CLEAR_ADDR));
	assert_int_equal(cl.state, CLIENT_PROBING);
	assert_int_equal(cl.cause, CAUSE_SERVER_LOST);
	assert_int_equal(cl.stats.failovers, 1);
	assert_int_equal(cl.stats.server_losses, 1);
	uint8_t nonce[8];
	expect_rs(nacts - 1, SERVER_B, nonce);
	udp_in(EP(SERVER_B, 3544), make_ra(buf, nonce, m, SERVER_B));
	expect_rs(0, SERVER_B2, nonce);
	udp_in(EP(SERVER_B2, 3544), make_ra(buf, nonce, m, SERVER_B));
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	struct teredo_addr t;
	teredo_addr_decode(&cl.addr, &t);
	assert_int_equal(t.server, A4(SERVER_B));
	assert_int_equal(cl.cause, CAUSE_QUALIFIED);
	/* B goes too, and A does not come back: both failed in a row. */
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	for (int i = 0; i < 3; i++) {
		now += 4000;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	assert_int_equal(cl.state, CLIENT_PROBING); /* on A again, at once */
	for (int i = 0; i < 3; i++) {
		now += 4000;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	assert_int_equal(cl.state, CLIENT_OFFLINE);
	assert_int_equal(cl.cause, CAUSE_NO_ANSWER);
	assert_non_null(find(SW_ACT_RESOLVE));
	assert_int_equal(cl.cfg.server, A4(SERVER)); /* the first, after the wait */
	now += CLIENT_OFFLINE_RETRY_MS;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
}

/* Issue 11: new candidates from the resolver. The server in use, still listed, stays
 * in use; once it is gone from the list the client qualifies with the first at once. */
static void issue11_servers_change(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct client_server two[2] = { { A4(SERVER_B), A4(SERVER_B2) }, { A4(SERVER), A4(SERVER2) } };
	nacts = client_set_servers(&cl, now, two, 2, acts, ACTS);
	assert_int_equal(nacts, 0);
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	assert_int_equal(cl.server_idx, 1);
	nacts = client_set_servers(&cl, now, two, 1, acts, ACTS);
	assert_non_null(find(SW_ACT_CLEAR_ADDR));
	assert_int_equal(cl.state, CLIENT_PROBING);
	assert_int_equal(cl.cause, CAUSE_SERVERS_CHANGED);
	uint8_t nonce[8];
	expect_rs(nacts - 1, SERVER_B, nonce);
}

/* Issue 11: the shell saw the route to the server change: qualify again at once, peers
 * forgotten (our address will change). No route: offline quietly (no RS, no retry)
 * until one comes back. */
static void issue11_network_changes(void **state)
{
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of(SERVER, EP("198.51.100.24", 4000), 0);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(cl.peers.count, 1);
	nacts = client_network(&cl, now, true, acts, ACTS);
	assert_non_null(find(SW_ACT_CLEAR_ADDR));
	assert_int_equal(cl.state, CLIENT_PROBING);
	assert_int_equal(cl.cause, CAUSE_NETWORK_CHANGED);
	assert_int_equal(cl.peers.count, 0);
	uint8_t nonce[8];
	expect_rs(nacts - 1, SERVER, nonce);
	nacts = client_network(&cl, now, false, acts, ACTS);
	assert_int_equal(cl.state, CLIENT_OFFLINE);
	assert_true(cl.no_network);
	for (int i = 0; i < 10; i++) {
		now += CLIENT_OFFLINE_RETRY_MS;
		nacts = client_tick(&cl, now, acts, ACTS);
		assert_int_equal(nacts, 0);
	}
	nacts = client_network(&cl, now, true, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.9", 5000), SERVER));
	expect_rs(0, SERVER2, nonce);
	udp_in(EP(SERVER2, 3544), make_ra(buf, nonce, EP("203.0.113.9", 5000), SERVER));
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	assert_int_equal(cl.stats.network_changes, 3);
}

/* RFC 4380 §5.2.7 (C-60..C-62) against a simulated NAT that forgets an idle mapping
 * after nat_ms, and, as Linux's conntrack does, a young one (no packet yet 2 s or more
 * after its first) after young_ms: every RS is answered, and the test bubble our server
 * forwards to the secondary mapping gets in only if that mapping is still kept.
 * Returns the refresh interval the search settled on. */
static uint32_t refresh_search_with_nats(uint32_t young_ms, uint32_t nat_ms)
{
	cl.cfg.nat_probe = true;
	cl.cfg.refresh_discovery = true;
	cl.cfg.refresh_min_ms = 10000;
	struct sw_endpoint m = EP("203.0.113.7", 40000), m1 = EP("203.0.113.7", 40001);
	qualify(m, m);
	uint64_t last1 = now, first1 = now; /* the secondary mapping's last and first packets */
	bool flow1 = young_ms == nat_ms, settled = false; /* none yet where the two differ */
#define KEPT1() (flow1 && now - last1 <= (settled ? nat_ms : young_ms))
	for (int step = 0; step < 5 * 60 * 5 && cl.ri_step != 4; step++) {
		for (int i = 0; i < nacts; i++) {
			struct teredo_pkt p;
			if (acts[i].kind != SW_ACT_UDP || teredo_parse(acts[i].hdr, acts[i].hdr_len, &p) != WIRE_OK)
				continue;
			if (p.has_auth) { /* an RS: the server answers where it came from */
				uint8_t nonce[8];
				memcpy(nonce, p.nonce, 8);
				bool probe = acts[i].sock == 1;
				struct in6_addr src;
				ip6_src(p.ip6, &src);
				struct in6_addr ll = A6("fe80::ffff:ffff:ffff");
				if (probe && memcmp(&src, &ll, 16))
					continue; /* the filtering probe's RS (C = 1): its NAT says nothing */
				size_t len = make_ra(buf2, nonce, probe ? m1 : m, SERVER);
				if (probe) {
					if (!KEPT1())
						first1 = now, settled = false, flow1 = true; /* a new flow */
					else if (now - first1 >= 2000)
						settled = true;
					last1 = now;
				}
				int n = client_udp_on(&cl, now, acts[i].sock, EP(SERVER, 3544), buf2, len, acts2, ACTS);
				(void)n;
			} else if (ip6_is_bubble(p.ip6, p.ip6_len) && endpoint_eq(acts[i].dst, EP(SERVER, 3544))) {
				struct in6_addr d;
				ip6_dst(p.ip6, &d);
				if (memcmp(&d, &cl.ri_addr, 16) || !KEPT1())
					continue;
				teredo_put_origin(buf2, m);
				memcpy(buf2 + 8, acts[i].hdr, acts[i].hdr_len);
				last1 = now;
				client_udp_on(&cl, now, 1, EP(SERVER, 3544), buf2, 8 + acts[i].hdr_len, acts2, ACTS);
			}
		}
		now += 200;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
#undef KEPT1
	assert_int_equal(cl.ri_step, 4);
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
	return cl.refresh_now_ms;
}

static uint32_t refresh_search_with_nat(uint32_t nat_ms)
{
	return refresh_search_with_nats(nat_ms, nat_ms);
}

/* A NAT that keeps idle UDP 25 s (less than the 30 s we refresh at): found; the refresh
 * drops to the floor at once, then settles at no more than 25 s. */
static void rfc4380_s5_2_7_c61_short_nat_timeout_found(void **state)
{
	uint32_t r = refresh_search_with_nat(25000);
	assert_true(r >= 10000 && r <= 25000);
	assert_true(cl.ri_found);
	assert_true(cl.stats.ri_tests >= 2);
}

/* A NAT like the lab's (Linux's rule, 10 s for a young flow, 40 s once it has had a
 * packet 2 s or more after its first): the secondary mapping is settled by a second
 * exchange before the silence, so the search measures the 40 s the mapping in use gets,
 * and keeps the refresh above the young flow's 10 s. */
static void rfc4380_s5_2_7_c60_settled_flow_measured(void **state)
{
	uint32_t r = refresh_search_with_nats(10000, 40000);
	assert_true(r >= 20000 && r <= 40000);
}

/* A NAT that keeps idle UDP 100 s: the RFC's loop upward, bounded by 120 s (C-60). */
static void rfc4380_s5_2_7_c60_long_nat_timeout(void **state)
{
	uint32_t r = refresh_search_with_nat(100000);
	assert_true(r > 30000 && r <= 100000);
	assert_true(r <= CLIENT_REFRESH_MAX_MS);
}


/* Issue 11, Dormant mode: after the idle time without a packet from the host, no
 * refresh leaves (C-25 paused, not the address); the host's next packet waits for the
 * wake-up's RS and leaves once the RA shows the same mapping (C-26: same address). */
static void dormant_idle_then_first_packet_waits_for_the_mapping(void **state)
{
	uint8_t nonce[8];
	cl.cfg.dormant_idle_ms = 60000;
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0x0102);
	uint64_t rs_before = 0;
	/* Refreshes go on until 60 s without the host's traffic, then stop. */
	for (int i = 0; i < 40; i++) { /* 200 s, 5 s steps */
		now += 5000;
		nacts = client_tick(&cl, now, acts, ACTS);
		for (int k = 0; k < nacts; k++)
			if (acts[k].kind == SW_ACT_UDP && endpoint_eq(acts[k].dst, EP(SERVER, 3544))) {
				expect_rs(k, SERVER, nonce);
				udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
			}
		if (i == 12)
			rs_before = cl.stats.rs_sent;
	}
	assert_true(cl.dormant);
	assert_int_equal(cl.stats.dormant_entered, 1);
	assert_int_equal(cl.stats.rs_sent, rs_before); /* nothing after 65 s */
	assert_int_equal(cl.cause, CAUSE_IDLE);
	assert_true(cl.have_addr);
	/* The host writes: the packet is queued, one RS goes out, nothing else. */
	size_t len = make_echo(buf2, sizeof buf2, &me, &peer, 8);
	nacts = client_tun(&cl, now, buf2, len, acts, ACTS);
	assert_int_equal(nacts, 1);
	expect_rs(0, SERVER, nonce);
	assert_false(cl.dormant);
	assert_true(cl.waking);
	/* A second packet meanwhile: queued too, no second RS. */
	nacts = client_tun(&cl, now, buf2, len, acts, ACTS);
	assert_int_equal(nacts, 0);
	now += 50;
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, m, SERVER));
	assert_false(cl.waking);
	assert_null(find(SW_ACT_SET_ADDR));
	assert_memory_equal(&cl.addr, &me, 16);
	/* The exchange for the queued packets starts (C-45): direct and indirect bubbles. */
	assert_int_equal(count_to(pm), 1);
	assert_int_equal(count_to(EP("203.0.113.99", 3544)), 1);
	udp_in(pm, make_bubble(buf, &peer, &me));
	assert_int_equal(count_to(pm), 2); /* both queued packets, not dropped */
	assert_int_equal(cl.stats.wakeups, 1);
	assert_int_equal(cl.stats.dormant_lost, 0);
}

/* Dormant mode: the NAT gave a new mapping while we slept: a new address (C-26), and the
 * packets written from the old one are counted, not sent. */
static void dormant_wake_to_a_new_mapping(void **state)
{
	uint8_t nonce[8];
	cl.cfg.dormant_idle_ms = 10000;
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	now += 11000;
	nacts = client_tick(&cl, now, acts, ACTS);
	assert_true(cl.dormant);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0x0102);
	nacts = client_tun(&cl, now, buf2, make_echo(buf2, sizeof buf2, &me, &peer, 8), acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40100), SERVER));
	assert_non_null(find(SW_ACT_SET_ADDR));
	assert_int_equal(count_to(pm), 0);
	assert_int_equal(cl.stats.dormant_lost, 1);
	assert_false(cl.waking);
	assert_int_equal(cl.state, CLIENT_QUALIFIED);
}

/* Dormant mode: the server does not answer the wake-up (RFC 4380 §5.2.5): qualify again,
 * as for a failed refresh. */
static void dormant_wake_server_silent(void **state)
{
	cl.cfg.dormant_idle_ms = 10000;
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	now += 11000;
	nacts = client_tick(&cl, now, acts, ACTS);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0x0102);
	nacts = client_tun(&cl, now, buf2, make_echo(buf2, sizeof buf2, &me, &peer, 8), acts, ACTS);
	for (int i = 0; i < 3; i++) {
		now += CLIENT_RS_TIMEOUT_MS;
		nacts = client_tick(&cl, now, acts, ACTS);
	}
	assert_false(cl.waking);
	assert_false(cl.dormant);
	assert_int_equal(cl.cause, CAUSE_SERVER_LOST);
	assert_int_not_equal(cl.state, CLIENT_QUALIFIED);
}


/* Issue 10: the trust journal the kernel fast path mirrors. A peer trusted from the
 * Teredo socket is recorded with its mapping (C-35); one that leaves the table (here:
 * every peer, on a new mapping, C-26) is recorded as gone. */
static void fast_path_trust_journal(void **state)
{
	uint8_t nonce[8];
	struct sw_endpoint m = EP("203.0.113.7", 40000), pm = EP("203.0.113.8", 50000);
	qualify(m, m);
	client_fast_path(&cl);
	struct in6_addr me = our_addr(), peer = teredo_of("203.0.113.99", pm, 0x0102);
	nacts = client_tun(&cl, now, buf, make_echo(buf, sizeof buf, &me, &peer, 8), acts, ACTS);
	assert_int_equal(cl.trust.n, 0); /* not trusted yet */
	udp_in(pm, make_bubble(buf, &peer, &me));
	assert_int_equal(cl.trust.n, 1);
	assert_true(cl.trust.ev[0].add);
	assert_memory_equal(&cl.trust.ev[0].addr, &peer, 16);
	assert_true(endpoint_eq(cl.trust.ev[0].mapping, pm));
	cl.trust.n = 0;
	/* The fast path reports the peer active: the core's entry is refreshed. */
	client_peer_seen(&cl, &peer, now + 20000, 1);
	assert_int_equal(peer_find(&cl.peers, &peer)->last_rx, now + 20000);
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40002), SERVER));
	assert_true(cl.trust.reset); /* the whole table went: one reset, no record each */
	assert_int_equal(cl.trust.n, 0);
	assert_int_equal(cl.trust.lost, 0);
}

/* Issue 10 with RFC 4380 §5.2.5 (C-26): a client trusting more peers than the journal
 * holds forgets them all at once on a new mapping; one reset record has the shell empty
 * the kernel's map, where a record per peer would have overflowed and left the kernel
 * carrying peers the core no longer knows. */
static void c26_forgetting_every_peer_resets_the_fast_path(void **state)
{
	client_free(&cl);
	struct client_config c = { .server = A4(SERVER), .server2 = A4(SERVER2), .prefix = TEREDO_PREFIX_DEFAULT,
				   .refresh_ms = 30000, .peer_capacity = 2 * TRUST_LOG_MAX, .queue_pool = 8,
				   .queue_per_peer = 4 };
	assert_int_equal(client_init(&cl, &c, fake_rng, NULL), 0);
	struct sw_endpoint m = EP("203.0.113.7", 40000);
	qualify(m, m);
	client_fast_path(&cl);
	struct in6_addr me = our_addr();
	unsigned trusted = 0;
	for (unsigned i = 0; i < TRUST_LOG_MAX + 100; i++) {
		struct sw_endpoint pm = { A4("203.0.113.8"), htons((uint16_t)(10000 + i)) };
		struct in6_addr peer = teredo_of("203.0.113.99", pm, 0);
		udp_in(pm, make_bubble(buf, &peer, &me)); /* case 3 (C-35): trusted */
		trusted += cl.trust.n;
		cl.trust.n = 0; /* as the shell empties it after each call */
	}
	assert_int_equal(trusted, TRUST_LOG_MAX + 100);
	uint8_t nonce[8];
	now += 30000;
	nacts = client_tick(&cl, now, acts, ACTS);
	expect_rs(0, SERVER, nonce);
	udp_in(EP(SERVER, 3544), make_ra(buf, nonce, EP("203.0.113.7", 40002), SERVER));
	assert_true(cl.trust.reset);
	assert_int_equal(cl.trust.n, 0);
	assert_int_equal(cl.trust.lost, 0);
	assert_int_equal(cl.peers.count, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(rfc4380_s5_2_1_c18_qualification),
		T(rfc6081_s3_1_x10_symmetric_nat_keeps_address),
		T(rfc4380_s5_2_1_c13_timeout_and_retry),
		T(rfc4380_s5_2_1_c14_ra_validation),
		T(secondary_silent_still_qualifies),
		T(rfc4380_s5_2_c10_nothing_before_qualification),
		T(rfc4380_s5_2_5_c26_refresh_and_mapping_change),
		T(server_loss_and_recovery),
		T(issue11_server_failover),
		T(issue11_servers_change),
		T(issue11_network_changes),
		T(rfc4380_s5_2_7_c61_short_nat_timeout_found),
		T(rfc4380_s5_2_7_c60_long_nat_timeout),
		T(rfc4380_s5_2_7_c60_settled_flow_measured),
		T(dormant_idle_then_first_packet_waits_for_the_mapping),
		T(dormant_wake_to_a_new_mapping),
		T(dormant_wake_server_silent),
		T(fast_path_trust_journal),
		T(c26_forgetting_every_peer_resets_the_fast_path),
		T(rfc4380_s5_2_4_c45_bubbles_then_flush),
		T(rfc4380_s5_2_6_c53_bubble_limits),
		T(rfc4380_s5_2_9_c65_connectivity_test),
		T(rfc4380_s5_2_3_c32_bubble_to_origin),
		T(rfc4380_s5_2_3_c38_unknown_sources),
		T(rfc4380_s5_2_3_c38_native_peer_writes_first),
		T(rfc4380_s5_2_3_c38_known_relay_needs_no_introduction),
		T(sec22_cve_2006_6266_stranger_tests_bounded),
		T(rfc4380_s5_2_9_c66_held_packets_only_from_proven_relay),
		T(rfc4380_s5_2_2_c19_confirmation_byte),
		T(rfc6081_s5_1_2_x04_client_trailer_discard),
		T(rfc6081_s5_2_4_x15_symmetric_peer_proves_itself_with_nonce),
		T(rfc6081_s5_2_4_3_x14_nonce_received_and_echoed),
		T(rfc6081_s5_2_symmetric_nat_support_off),
		T(interop_moved_port_bubble_during_exchange),
		T(rfc6081_s3_nat_kind_probe),
		T(rfc6081_s5_7_x62_x64_server_load_reduction),
		T(rfc6081_s5_6_x53_x56_hairpinning),
		T(rfc6081_s5_4_x35_x38_port_preserving_random_port),
		T(rfc6081_s5_4_fast_path_follows_the_random_port),
		T(rfc6081_s5_4_4_4_x37_port_restricted_side),
		T(rfc6081_s5_5_x44_x48_sequential_echo_test),
		T(rfc6081_s5_5_2_2_x46_echo_test_failover),
		T(rfc6081_s5_4_2_1_x32_peer_refresh),
		T(rfc6081_s5_4_4_1_x34_fast_path_sends_count),
		T(rfc6081_s5_4_port_preserving_off),
		T(rfc6081_s5_3_3_x22_x24_upnp_single_nat),
		T(rfc6081_s5_3_4_x25_x26_symmetric_peer_reached_at_its_address),
		T(rfc6081_s5_3_4_x26_fast_path_sends_where_the_core_does),
		T(rfc6081_s5_3_s5_4_random_port_peer_not_marked_symmetric),
		T(rfc6081_s5_6_x52_x53_upnp_mapping_as_alternate_address),
		T(suspend_resume_time_jump),
		T(rfc4380_s5_2_3_c32_no_origin_uses_embedded_mapping),
		T(sec22_cve_2006_6264_mapping_in_own_subnet),
		T(rfc4380_s5_2_4_c46_host_packet_checks),
		T(sec06_c47_queue_limits),
		T(sec05_c06_peer_expiry_and_eviction),
		T(rfc4443_s2_4_icmp_errors_rate_limited),
		T(rfc4380_s5_2_8_c67_discovery_bubbles),
		T(rfc4380_s5_2_8_c69_local_peer),
	};
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
