/* The relay and host-specific relay, with a fake clock: RFC 4380 §5.4.1 (R-03..R-09),
 * §5.4.2 (R-10..R-13), host relay §5.4 / §8.2 (H-01..H-05), SEC-11. */
#include "helpers.h"

#include "core/relay.h"
#include "wire/wire_err.h"

#define ACTS 32
static struct relay rl;
static struct sw_action acts[ACTS];
static int nacts;
static uint64_t now;
static uint8_t buf[2048];

static void fake_rng(void *ctx, void *out, size_t len)
{
	memset(out, 0x5a, len);
}

static int setup_with(bool host_only, bool direct, bool open)
{
	struct relay_config c = {
		.prefix = TEREDO_PREFIX_DEFAULT, .host_only = host_only, .direct_bubbles = direct,
		.unknown_rate = open ? RELAY_UNKNOWN_ALL : 0,
		.self = EP("198.51.100.30", 3544),
		.peer_capacity = 16, .queue_pool = 8, .queue_per_peer = 4,
	};
	now = 1000000;
	int r = relay_init(&rl, &c, fake_rng, NULL);
	struct in6_addr local = A6("2001:db8:1::40");
	relay_set_local(&rl, &local, 1);
	return r;
}
static int setup(void **state) { return setup_with(false, false, false); }
static int setup_restricted(void **state) { return setup_with(false, true, false); }
/* RelayAcceptUnknown yes: packets from clients with no entry are taken too. */
static int setup_open(void **state) { return setup_with(false, false, true); }
static int setup_host_open(void **state) { return setup_with(true, false, true); }
static int setup_host_restricted(void **state) { return setup_with(true, true, false); }
static int teardown(void **state) { relay_free(&rl); return 0; }

static int count_to(struct sw_endpoint ep)
{
	int n = 0;
	for (int i = 0; i < nacts; i++)
		n += acts[i].kind == SW_ACT_UDP && endpoint_eq(acts[i].dst, ep);
	return n;
}
static int count_kind(enum sw_action_kind k)
{
	int n = 0;
	for (int i = 0; i < nacts; i++)
		n += acts[i].kind == k;
	return n;
}

#define CLIENT_EP EP("203.0.113.7", 40000)
#define SERVER_EP EP("198.51.100.10", 3544)

static struct in6_addr client_addr(void) { return teredo_of("198.51.100.10", CLIENT_EP, 0x1234); }

static void tun_in(const struct in6_addr *src, const struct in6_addr *dst)
{
	nacts = relay_tun(&rl, now, buf, make_echo(buf, sizeof buf, src, dst, 8), acts, ACTS);
}

/* unknown client: queue, indirect bubble via its server (source = the native
 * address waiting); its bubble makes it trusted and flushes the queue. */
static void rfc4380_s5_4_1_r08_indirect_bubble_then_flush(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	tun_in(&host, &cl);
	assert_int_equal(nacts, 1);
	assert_true(endpoint_eq(acts[0].dst, SERVER_EP));
	assert_true(ip6_is_bubble(acts[0].hdr, acts[0].hdr_len));
	struct in6_addr s;
	ip6_src(acts[0].hdr, &s);
	assert_memory_equal(&s, &host, 16);
	tun_in(&host, &cl); /* queued, no new bubble */
	assert_int_equal(nacts, 0);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(count_to(CLIENT_EP), 2);
	assert_int_equal(count_kind(SW_ACT_TUN), 0); /* bubbles end here */
	/* trusted now, straight to the mapping. */
	tun_in(&host, &cl);
	assert_int_equal(nacts, 1);
	assert_true(endpoint_eq(acts[0].dst, CLIENT_EP));
	assert_int_equal(acts[0].body_len, 56);
}

/* R-08 with RelayType restricted: a direct bubble to the mapping as well. */
static void rfc4380_s5_4_1_r08_restricted_direct_bubble(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 1);
	assert_int_equal(count_to(CLIENT_EP), 1);
}

static int sock_of(struct sw_endpoint ep)
{
	for (int i = 0; i < nacts; i++)
		if (acts[i].kind == SW_ACT_UDP && endpoint_eq(acts[i].dst, ep))
			return acts[i].sock;
	return -1;
}

/* RFC 4380 §8.2 with the seed's host behind "a neighboring NAT": a host relay with two
 * sockets tries both orders of bubbles, each on its own mapping (see bubble_peer):
 * socket 0 with the indirect bubble first and the direct one after, then socket 1 with
 * both at once, the direct one first; the client's answer fixes the socket its traffic
 * uses from then on. */
static void rfc4380_s8_2_host_relay_behind_nat_bubble_orders(void **state)
{
	rl.cfg.nsocks = 2;
	struct in6_addr me = A6("2001:db8:1::40"), cl = client_addr();
	tun_in(&me, &cl);
	assert_int_equal(sock_of(SERVER_EP), 0);
	assert_int_equal(count_to(CLIENT_EP), 0);
	now += 2000;
	nacts = relay_tick(&rl, now, acts, ACTS);
	assert_int_equal(sock_of(SERVER_EP), 0);
	assert_int_equal(sock_of(CLIENT_EP), 0);
	now += 2000;
	nacts = relay_tick(&rl, now, acts, ACTS);
	assert_int_equal(sock_of(SERVER_EP), 1);
	assert_int_equal(sock_of(CLIENT_EP), 1);
	/* The direct bubble goes out before the indirect one, so that our NAT has its hole
	 * before the client's answer to the indirect one can arrive. */
	assert_int_equal(nacts, 2);
	assert_true(endpoint_eq(acts[0].dst, CLIENT_EP));
	assert_true(endpoint_eq(acts[1].dst, SERVER_EP));
	/* The client's answer on socket 1: trusted there; the queue leaves from it. */
	nacts = relay_udp_on(&rl, now, 1, CLIENT_EP, buf, make_bubble(buf, &cl, &me), acts, ACTS);
	assert_int_equal(sock_of(CLIENT_EP), 1);
	assert_int_equal(count_kind(SW_ACT_UDP), 1);
	tun_in(&me, &cl);
	assert_int_equal(sock_of(CLIENT_EP), 1);
}

/* no answer: 2 s retries, at most 3, then the queue goes and its senders hear
 * "address unreachable"; the entry stays to keep counting bubbles (C-53). */
static void rfc4380_s5_4_1_r08_give_up(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	tun_in(&host, &cl);
	int bubbles = nacts;
	for (int i = 0; i < 10; i++) {
		now += 1000;
		nacts = relay_tick(&rl, now, acts, ACTS);
		bubbles += count_to(SERVER_EP);
		if (count_kind(SW_ACT_TUN))
			assert_int_equal(acts[0].hdr[40], ICMP6_DST_UNREACH);
	}
	assert_int_equal(bubbles, 4);
	assert_int_equal(rl.stats.dropped[RL_DROP_UNREACHABLE], 1);
	assert_int_equal(rl.stats.icmp_errors, 1);
	struct peer *p = peer_find(&rl.peers, &cl);
	assert_non_null(p);
	assert_int_equal(p->q_count, 0);
	assert_int_equal(p->next_retry, 0);
	/* More native packets within 300 s: queued, but no fifth bubble. */
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 0);
}

/* SEC-11: only Teredo destinations with global IPv4s; no Teredo-to-Teredo;
 * never towards our own socket. */
static void rfc4380_s5_4_1_r03_r04_checks(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), native = A6("2001:db8:2::1");
	tun_in(&host, &native);
	assert_int_equal(rl.stats.dropped[RL_DROP_NOT_TEREDO_DST], 1);
	struct in6_addr priv = teredo_of("198.51.100.10", EP("192.168.0.1", 5), 0);
	tun_in(&host, &priv);
	assert_int_equal(rl.stats.dropped[RL_DROP_NOT_GLOBAL], 1);
	struct in6_addr cl = client_addr(), other = teredo_of("198.51.100.10", EP("203.0.113.8", 5), 0);
	tun_in(&other, &cl);
	assert_int_equal(rl.stats.dropped[RL_DROP_TEREDO_TO_TEREDO], 1);
	struct in6_addr self = teredo_of("198.51.100.10", EP("198.51.100.30", 3544), 0);
	tun_in(&host, &self);
	assert_int_equal(rl.stats.dropped[RL_DROP_LOOP], 1);
	nacts = relay_tun(&rl, now, buf, 20, acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_TUN_INVALID], 1);
}

/* R-10..R-13: from clients: valid IPv6, Teredo source matching its UDP source, to a
 * served non-Teredo destination. */
static void rfc4380_s5_4_2_r11_r13_reception(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr(), native = A6("2001:db8:9::1");
	/* A matching source is accepted and forwarded to native IPv6 (R-12, with
	 * RelayAcceptUnknown: new clients ok). */
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &host, 8), acts, ACTS);
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	/* A mismatching source, a non-Teredo source, a Teredo destination, malformed. */
	nacts = relay_udp(&rl, now, EP("203.0.113.9", 1), buf, make_echo(buf, sizeof buf, &cl, &host, 8), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_SRC_MISMATCH], 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &native, &host, 8), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_SRC_NOT_TEREDO], 1);
	struct in6_addr other = teredo_of("198.51.100.10", EP("203.0.113.8", 5), 0);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &other, 8), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_TEREDO_TO_TEREDO], 1);
	struct in6_addr ll = A6("fe80::1");
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &ll, 8), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_DST_NOT_SERVED], 1);
	memset(buf, 0, 8);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, 8, acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_MALFORMED], 1);
	nacts = relay_udp(&rl, now, EP("198.51.100.30", 3544), buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_LOOP], 1);
}

/* a client behind a symmetric NAT answers our bubble from another port; that
 * bubble is accepted (it answers ours) and its source becomes the mapping. Without a
 * bubble of ours pending, the same would be a mismatch. */
static void rfc4380_s5_4_1_r08_symmetric_client_answer(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	struct sw_endpoint other_port = EP("203.0.113.7", 40007);
	nacts = relay_udp(&rl, now, other_port, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(rl.stats.dropped[RL_DROP_SRC_MISMATCH], 1);
	tun_in(&host, &cl);
	nacts = relay_udp(&rl, now, other_port, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(count_to(other_port), 1);
	assert_true(peer_find(&rl.peers, &cl)->trusted);
}

/* C-40 for relays: a trusted entry older than 30 s bubbles again. */
static void stale_entry_bubbles_again(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	now += 31000;
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 1);
}

/* R-08 after C-40: a stale entry's answer from the mapping it already had sends what
 * waited at once. It used to refresh the entry only, so the first packet after an idle
 * spell stayed queued until the retries gave up and its sender got "address
 * unreachable" (a host relay's own TCP, in SYN_SENT, aborts on that). */
static void rfc4380_s5_4_1_r08_stale_entry_answer_flushes(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	now += 31000;
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(count_to(CLIENT_EP), 1);
	assert_int_equal(acts[0].body_len, 56);
	/* Nothing waits: no more bubbles, and no error when the retries would have ended. */
	for (int i = 0; i < 6; i++) {
		now += CLIENT_RETRY_MS;
		nacts = relay_tick(&rl, now, acts, ACTS);
		assert_int_equal(nacts, 0);
	}
	assert_int_equal(rl.stats.icmp_errors, 0);
	assert_int_equal(rl.stats.dropped[RL_DROP_UNREACHABLE], 0);
}

/* The same answer on the other socket of a host relay behind a NAT: its NAT hole now
 * leads there (the one the entry knew timed out while it was idle), so the traffic
 * leaves from it. */
static void rfc4380_s8_2_stale_entry_answer_moves_socket(void **state)
{
	rl.cfg.nsocks = 2;
	struct in6_addr me = A6("2001:db8:1::40"), cl = client_addr();
	nacts = relay_udp_on(&rl, now, 1, CLIENT_EP, buf, make_bubble(buf, &cl, &me), acts, ACTS);
	now += 70000;
	tun_in(&me, &cl);
	assert_int_equal(sock_of(SERVER_EP), 0);
	nacts = relay_udp_on(&rl, now, 0, CLIENT_EP, buf, make_bubble(buf, &cl, &me), acts, ACTS);
	assert_int_equal(sock_of(CLIENT_EP), 0);
	tun_in(&me, &cl);
	assert_int_equal(sock_of(CLIENT_EP), 0);
}

/* H-01, H-05: a host relay sends only the host's traffic and accepts only traffic for
 * the host. */
static void h05_host_relay_local_only(void **state)
{
	struct in6_addr me = A6("2001:db8:1::40"), other = A6("2001:db8:1::100"), cl = client_addr();
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &me, 8), acts, ACTS);
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &other, 8), acts, ACTS);
	assert_int_equal(count_kind(SW_ACT_TUN), 0);
	assert_int_equal(rl.stats.dropped[RL_DROP_DST_NOT_SERVED], 1);
	tun_in(&other, &cl);
	assert_int_equal(rl.stats.dropped[RL_DROP_TEREDO_TO_TEREDO], 1);
	tun_in(&me, &cl);
	assert_int_equal(nacts, 1);
}

/* R-12, R-14 (RFC 4380 §5.4.2, §7.3.5), the default: a client the relay never sent to
 * gets nothing through and no entry, however well its source matches; once the relay
 * has bubbled it for a native packet, its answer makes it trusted and its data flows. */
static void rfc4380_s5_4_2_r12_unknown_clients_dropped(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	for (int i = 0; i < 100; i++) {
		struct in6_addr spoofed = teredo_of("198.51.100.10", EP("203.0.113.50", (uint16_t)(1000 + i)), 0);
		nacts = relay_udp(&rl, now, EP("203.0.113.50", 1000 + i), buf,
				  make_echo(buf, sizeof buf, &spoofed, &host, 8), acts, ACTS);
		assert_int_equal(nacts, 0);
	}
	assert_int_equal(rl.stats.dropped[RL_DROP_UNKNOWN_PEER], 100);
	assert_int_equal(rl.peers.count, 0);
	tun_in(&host, &cl); /* native traffic for the client: an entry, a bubble */
	assert_int_equal(count_to(SERVER_EP), 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_true(peer_find(&rl.peers, &cl)->trusted);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &cl, &host, 8), acts, ACTS);
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	assert_int_equal(rl.stats.dropped[RL_DROP_UNKNOWN_PEER], 100);
}

/* SEC-06 with R-08: a full packet pool loses the packet, not the exchange: the new
 * client still gets its bubble, so that the sender's next packet goes through. */
static void sec06_full_pool_still_bubbles(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	for (int i = 0; i < 8; i++) { /* the pool holds 8 */
		struct in6_addr other = teredo_of("198.51.100.10", EP("203.0.113.60", (uint16_t)(2000 + i)), 0);
		tun_in(&host, &other);
	}
	assert_int_equal(rl.peers.pool_used, 8);
	tun_in(&host, &cl);
	assert_int_equal(rl.stats.dropped[RL_DROP_QUEUE_FULL], 1);
	assert_int_equal(count_to(SERVER_EP), 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_true(peer_find(&rl.peers, &cl)->trusted);
	tun_in(&host, &cl);
	assert_int_equal(count_to(CLIENT_EP), 1);
}

/* SEC-06, R-09: a pool kept full by a flood to clients that never answer gives their
 * oldest packet to a new exchange, so that a real client's first packet reaches it as
 * soon as its bubble comes back (the lab's native-side flood: a new client's first echo
 * reply was always lost, and its ping waited 2 s for the next one). */
static void sec06_full_pool_new_exchange_keeps_its_first_packet(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	for (int i = 0; i < 8; i++) {
		struct in6_addr other = teredo_of("198.51.100.10", EP("203.0.113.60", (uint16_t)(2000 + i)), 0);
		tun_in(&host, &other);
	}
	assert_int_equal(rl.peers.pool_used, 8);
	now += 50;
	tun_in(&host, &cl);
	assert_int_equal(rl.stats.dropped[RL_DROP_QUEUE_FULL], 0);
	assert_int_equal(rl.peers.stats.stolen, 1);
	assert_int_equal(rl.peers.pool_used, 8);
	assert_int_equal(count_to(SERVER_EP), 1);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(count_to(CLIENT_EP), 1); /* the first packet, flushed */
}

/* SEC-06 with R-08: a native-side flood fills the pending list; a real client's first
 * bubble still leaves, and if it is lost, the next packet for that client bubbles again
 * (2 s later, within C-53's limit) instead of waiting for a retry the full list never
 * gives it (the lab's native-side flood left a new client unreachable that way). */
static void sec06_full_pending_list_bubbles_again(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	rl.pending.n = PEER_PENDING_MAX; /* as the flood leaves it */
	memset(rl.pending.idx, 0xff, sizeof rl.pending.idx);
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 1);
	assert_int_equal(rl.pending.full, 1);
	now += 1000;
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 0); /* 2 s between bubbles (C-53) */
	now += 1000;
	tun_in(&host, &cl);
	assert_int_equal(count_to(SERVER_EP), 1);
	rl.pending.n = 0;
}

/* R-12 with a rate (RelayAcceptUnknown N, 1000 by default): that many new clients a
 * second get through, so that a restarted relay recovers; a flood gets no more. */
static void rfc4380_s5_4_2_r12_unknown_clients_rate(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100");
	rl.cfg.unknown_rate = 10;
	int fwd = 0;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			struct sw_endpoint ep = EP("203.0.113.50", (uint16_t)(1000 + round * 100 + i));
			struct in6_addr c = teredo_of("198.51.100.10", ep, 0);
			nacts = relay_udp(&rl, now, ep, buf, make_echo(buf, sizeof buf, &c, &host, 8), acts, ACTS);
			fwd += count_kind(SW_ACT_TUN);
		}
		now += 1000;
	}
	assert_int_equal(fwd, 20);
	assert_int_equal(rl.stats.dropped[RL_DROP_UNKNOWN_PEER], 180);
}

/* R-14 (RFC 4380 §7.3.5): one native source (its /64) makes at most new_per_source new
 * peers a second; its known peers, and other sources, are not held back. */
static void rfc4380_s7_3_5_r14_new_peers_per_source(void **state)
{
	struct in6_addr host = A6("2001:db8:1::100"), same64 = A6("2001:db8:1::101"), other = A6("2001:db8:2::7");
	rl.cfg.new_per_source = 5;
	int bubbles = 0;
	struct in6_addr first = teredo_of("198.51.100.10", EP("203.0.113.60", 2000), 0);
	for (int i = 0; i < 10; i++) {
		struct in6_addr d = teredo_of("198.51.100.10", EP("203.0.113.60", (uint16_t)(2000 + i)), 0);
		tun_in(i < 8 ? &host : &same64, &d);
		bubbles += count_to(SERVER_EP);
	}
	assert_int_equal(bubbles, 5);
	assert_int_equal(rl.stats.dropped[RL_DROP_SOURCE_LIMITED], 5);
	assert_int_equal(rl.peers.count, 5);
	/* A known peer still takes the source's packets (queued: it is not trusted yet). */
	tun_in(&host, &first);
	assert_int_equal(rl.stats.dropped[RL_DROP_SOURCE_LIMITED], 5);
	/* Another /64 has its own allowance. */
	struct in6_addr d = teredo_of("198.51.100.10", EP("203.0.113.61", 3000), 0);
	tun_in(&other, &d);
	assert_int_equal(count_to(SERVER_EP), 1);
	/* A second later, the source may start as many again. */
	now += 1000;
	for (int i = 0; i < 6; i++) {
		d = teredo_of("198.51.100.10", EP("203.0.113.62", (uint16_t)(4000 + i)), 0);
		tun_in(&host, &d);
	}
	assert_int_equal(rl.stats.dropped[RL_DROP_SOURCE_LIMITED], 6);
}

static void relay_drop_names_complete(void **state)
{
	for (int i = 0; i < RL_DROP__COUNT; i++)
		assert_string_not_equal(relay_drop_name((enum relay_drop)i), "?");
}


/* Issue 10: the trust journal the kernel fast path mirrors: a client trusted at its
 * mapping is recorded; the fast path's reports keep the core's entry alive;
 * an entry that expires is recorded as gone (its map entry must go too). */
static void fast_path_trust_journal(void **state)
{
	relay_fast_path(&rl);
	struct in6_addr host = A6("2001:db8:1::100"), cl = client_addr();
	tun_in(&host, &cl);
	assert_int_equal(rl.trust.n, 0);
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_bubble(buf, &cl, &host), acts, ACTS);
	assert_int_equal(rl.trust.n, 1);
	assert_true(rl.trust.ev[0].add);
	assert_memory_equal(&rl.trust.ev[0].addr, &cl, 16);
	assert_true(endpoint_eq(rl.trust.ev[0].mapping, CLIENT_EP));
	rl.trust.n = 0;
	/* Seen by the kernel 50 s later, 40 packets carried: still there at 100 s, when it
	 * would have gone, and they count as heard (busy: eviction keeps it before others). */
	uint8_t heard = peer_find(&rl.peers, &cl)->heard;
	relay_peer_seen(&rl, &cl, now + 50000, 40);
	assert_int_equal(peer_find(&rl.peers, &cl)->heard, heard + 40);
	for (int i = 0; i < 100; i++) {
		now += 1000;
		nacts = relay_tick(&rl, now, acts, ACTS);
	}
	assert_non_null(peer_find(&rl.peers, &cl));
	assert_int_equal(rl.trust.n, 0);
	for (int i = 0; i < 100; i++) {
		now += 1000;
		nacts = relay_tick(&rl, now, acts, ACTS);
	}
	assert_null(peer_find(&rl.peers, &cl));
	assert_int_equal(rl.trust.n, 1);
	assert_false(rl.trust.ev[0].add);
	assert_memory_equal(&rl.trust.ev[0].addr, &cl, 16);
}

/* RFC 4380 §5.4.1 (R-04, P-08) with issue 10: a client whose address holds a private
 * mapping, sending from it, passes R-11 and its data is forwarded; but the core never
 * sends to it, so the kernel fast path must not learn it either: its programs
 * send to a journaled peer without asking again. Found by fuzz_bpf. */
static void rfc4380_s5_4_1_r04_private_mapping_not_journaled(void **state)
{
	relay_fast_path(&rl);
	struct sw_endpoint lan = EP("10.1.2.3", 40000);
	struct in6_addr host = A6("2001:db8:1::100"), cl = teredo_of("198.51.100.10", lan, 0);
	nacts = relay_udp(&rl, now, lan, buf, make_echo(buf, sizeof buf, &cl, &host, 8), acts, ACTS);
	assert_int_equal(count_kind(SW_ACT_TUN), 1);
	assert_int_equal(rl.trust.n, 0);
	tun_in(&host, &cl);
	assert_int_equal(count_kind(SW_ACT_UDP), 0);
	assert_int_equal(rl.stats.dropped[RL_DROP_NOT_GLOBAL], 1);
	/* A global one is journaled as before. */
	struct in6_addr ok = client_addr();
	nacts = relay_udp(&rl, now, CLIENT_EP, buf, make_echo(buf, sizeof buf, &ok, &host, 8), acts, ACTS);
	assert_int_equal(rl.trust.n, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(rfc4380_s5_4_1_r08_indirect_bubble_then_flush),
		T(fast_path_trust_journal),
		cmocka_unit_test_setup_teardown(rfc4380_s5_4_1_r08_restricted_direct_bubble, setup_restricted, teardown),
		cmocka_unit_test_setup_teardown(rfc4380_s8_2_host_relay_behind_nat_bubble_orders, setup_host_restricted, teardown),
		T(rfc4380_s5_4_1_r08_give_up),
		T(rfc4380_s5_4_1_r03_r04_checks),
		cmocka_unit_test_setup_teardown(rfc4380_s5_4_2_r11_r13_reception, setup_open, teardown),
		cmocka_unit_test_setup_teardown(rfc4380_s5_4_1_r04_private_mapping_not_journaled, setup_open, teardown),
		T(rfc4380_s5_4_2_r12_unknown_clients_dropped),
		T(rfc4380_s5_4_2_r12_unknown_clients_rate),
		T(rfc4380_s5_4_1_r08_symmetric_client_answer),
		cmocka_unit_test_setup_teardown(stale_entry_bubbles_again, setup_open, teardown),
		cmocka_unit_test_setup_teardown(rfc4380_s5_4_1_r08_stale_entry_answer_flushes, setup_open, teardown),
		cmocka_unit_test_setup_teardown(rfc4380_s8_2_stale_entry_answer_moves_socket, setup_host_open, teardown),
		cmocka_unit_test_setup_teardown(h05_host_relay_local_only, setup_host_open, teardown),
		T(sec06_full_pool_still_bubbles),
		T(sec06_full_pool_new_exchange_keeps_its_first_packet),
		T(rfc4380_s7_3_5_r14_new_peers_per_source),
		T(sec06_full_pending_list_bubbles_again),
		T(relay_drop_names_complete),
	};
	return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
