/* The peer table and its queues: RFC 4380 §5.2 (C-05, C-06, C-47), §5.4.1,
 * SEC-05, SEC-06. */
#include "helpers.h"

#include "core/peer.h"
#include "core/siphash.h"

static struct peer_table t;
static const uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static int setup(void **state)
{
	return peer_table_init(&t, 4, 3, 2, key);
}

static int teardown(void **state)
{
	peer_table_free(&t);
	return 0;
}

static struct in6_addr nth(int i)
{
	struct in6_addr a = A6("2001:db8::");
	a.s6_addr[15] = (uint8_t)i;
	return a;
}

/* SipHash-2-4 reference vector (the paper's appendix: key 00..0f, message 00..0e). */
static void siphash_reference_vector(void **state)
{
	uint8_t k[16], m[15];
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		m[i] = (uint8_t)i;
	assert_int_equal(siphash24(k, m, 15), 0xa129ca6149be45e5ULL);
	/* The four-byte inline form (the server's RA buckets, also in its XDP program). */
	for (uint32_t v = 1; v; v <<= 3)
		assert_int_equal(siphash24_u32(siphash_le64(k), siphash_le64(k + 8), v), siphash24(k, &v, 4));
}

/* C-50, C-35: new entries are back-dated 30 s and found again by address. */
static void c50_new_entries_backdated(void **state)
{
	struct in6_addr a = nth(1);
	struct peer *p = peer_get(&t, &a, 100000);
	assert_non_null(p);
	assert_int_equal(p->last_rx, 70000);
	assert_int_equal(p->last_tx, 70000);
	assert_false(p->trusted);
	assert_ptr_equal(peer_find(&t, &a), p);
	assert_ptr_equal(peer_get(&t, &a, 200000), p);
	assert_int_equal(t.count, 1);
}

/* C-06, SEC-05: a full table evicts the least recently active entry it looks at. */
static void c06_eviction_when_full(void **state)
{
	for (int i = 0; i < 4; i++) {
		struct in6_addr a = nth(i);
		struct peer *p = peer_get(&t, &a, 100000);
		p->last_rx = 100000 + (uint64_t)i * 1000;
	}
	struct in6_addr n = nth(9), oldest = nth(0);
	assert_non_null(peer_get(&t, &n, 200000));
	assert_int_equal(t.count, 4);
	assert_int_equal(t.stats.evicted, 1);
	assert_null(peer_find(&t, &oldest));
}

/* SEC-06 (RFC 4380 §7.3.5): a flood of new spoofed sources, each more recent than the
 * real peer's last packet, does not push out a peer that has been talking for a while;
 * among established peers the least recently active still goes. */
static void sec06_flood_keeps_established_peer(void **state)
{
	struct peer_table big;
	assert_int_equal(peer_table_init(&big, 64, 4, 2, key), 0);
	struct in6_addr real = A6("2001:db8:99::1");
	struct peer *p = peer_get(&big, &real, 1000);
	p->last_rx = 1000 + PEER_ESTABLISHED_MS; /* still answering 2 s later */
	for (int i = 0; i < 10000; i++) {
		struct in6_addr a = nth(i & 0xff);
		a.s6_addr[14] = (uint8_t)(i >> 8);
		uint64_t now = 10000 + (uint64_t)i;
		struct peer *q = peer_get(&big, &a, now);
		assert_non_null(q);
		q->last_rx = now;
	}
	assert_int_equal(big.count, 64);
	assert_non_null(peer_find(&big, &real));
	/* A young but trusted peer survives new untrusted entries (a native-side flood at
	 * a relay: nobody answers their bubbles). */
	struct in6_addr young = A6("2001:db8:99::2");
	struct peer *y = peer_get(&big, &young, 20000);
	y->trusted = true;
	y->last_rx = 20000;
	for (int i = 0; i < 10000; i++) {
		struct in6_addr a = A6("2001:db8:bb::");
		put_be16(a.s6_addr + 14, (uint16_t)i);
		assert_non_null(peer_get(&big, &a, 20001 + (uint64_t)i));
	}
	assert_non_null(peer_find(&big, &young));
	assert_non_null(peer_find(&big, &real));
	peer_remove(&big, y);
	/* A contact the client's host opened a moment ago, not trusted yet, outlasts a flood
	 * of trusted, established, busy entries: no packet from outside makes one. */
	struct peer_table small;
	assert_int_equal(peer_table_init(&small, 64, 4, 2, key), 0);
	struct in6_addr mine = A6("2001:db8:99::3");
	peer_get(&small, &mine, 25000)->host_opened = true;
	for (int i = 0; i < 10000; i++) {
		struct in6_addr a = A6("2001:db8:dd::");
		put_be16(a.s6_addr + 14, (uint16_t)i);
		struct peer *q = peer_get(&small, &a, 25001 + (uint64_t)i);
		assert_non_null(q);
		q->trusted = true;
		q->created -= PEER_ESTABLISHED_MS;
		for (int k = 0; k < PEER_BUSY_PACKETS; k++)
			peer_heard(q, 25001 + (uint64_t)i);
	}
	assert_non_null(peer_find(&small, &mine));
	peer_table_free(&small);
	/* An attacker who repeats its spoofed sources can make trusted, established
	 * entries (two packets each, 2 s apart, more recent than the real peer's last);
	 * a peer that has sent PEER_BUSY_PACKETS still outlasts them. */
	p->trusted = true;
	for (int i = 0; i < PEER_BUSY_PACKETS; i++)
		peer_heard(p, 30000);
	for (int i = 0; i < 10000; i++) {
		struct in6_addr a = A6("2001:db8:cc::");
		put_be16(a.s6_addr + 14, (uint16_t)i);
		struct peer *q = peer_get(&big, &a, 40000 + (uint64_t)i);
		q->trusted = true;
		peer_heard(q, 40000 + (uint64_t)i);
		peer_heard(q, 42000 + (uint64_t)i);
	}
	assert_non_null(peer_find(&big, &real));
	/* A table of peers all worth as much: LRU again. */
	for (uint32_t i = 0; i < big.capacity; i++)
		if (big.peers[i].in_use && &big.peers[i] != p) {
			big.peers[i].last_rx = big.peers[i].created + PEER_ESTABLISHED_MS + 5000000;
			big.peers[i].trusted = true;
			big.peers[i].heard = UINT8_MAX;
		}
	for (int i = 0; i < 200; i++) {
		struct in6_addr a = A6("2001:db8:aa::");
		a.s6_addr[15] = (uint8_t)i;
		peer_get(&big, &a, 20000000 + (uint64_t)i);
	}
	assert_null(peer_find(&big, &real));
	peer_table_free(&big);
}

/* C-47, SEC-06: per-peer and pool limits, FIFO order, queue freed with the entry. */
static void c47_queue_limits_and_order(void **state)
{
	struct in6_addr a = nth(1), b = nth(2);
	struct peer *p = peer_get(&t, &a, 100000), *q = peer_get(&t, &b, 100000);
	uint8_t pkt[64] = { 1 };
	assert_true(peer_enqueue(&t, p, pkt, 10, false));
	pkt[0] = 2;
	assert_true(peer_enqueue(&t, p, pkt, 20, false));
	assert_false(peer_enqueue(&t, p, pkt, 30, false)); /* 2 per peer */
	assert_true(peer_enqueue(&t, q, pkt, 30, false));
	assert_false(peer_enqueue(&t, q, pkt, 30, false)); /* pool of 3 */
	assert_int_equal(t.stats.queue_drops, 2);
	const struct peer_pkt *k = peer_dequeue(&t, p);
	assert_int_equal(k->len, 10);
	assert_int_equal(k->data[0], 1);
	k = peer_dequeue(&t, p);
	assert_int_equal(k->len, 20);
	assert_null(peer_dequeue(&t, p));
	peer_remove(&t, q); /* frees its queued packet */
	assert_int_equal(t.pool_used, 0);
	uint8_t big[2000] = { 0 };
	assert_false(peer_enqueue(&t, p, big, sizeof big, false));
}

/* C-47, R-09, SEC-06: a full pool gives the oldest packet of an older, untrusted entry
 * to a newer exchange; never a trusted entry's, never a newer entry's. */
static void sec06_full_pool_gives_up_the_oldest_packet(void **state)
{
	struct in6_addr a = nth(1), b = nth(2), c = nth(3), d = nth(4);
	struct peer *p = peer_get(&t, &a, 100000), *tr = peer_get(&t, &b, 100000);
	uint8_t pkt[64] = { 1 };
	assert_true(peer_enqueue(&t, p, pkt, 10, false));
	pkt[0] = 2;
	assert_true(peer_enqueue(&t, p, pkt, 20, false));
	tr->trusted = true;
	assert_true(peer_enqueue(&t, tr, pkt, 30, false)); /* the pool (3) is full */
	struct peer *q = peer_get(&t, &c, 101000);
	pkt[0] = 3;
	assert_true(peer_enqueue(&t, q, pkt, 40, false)); /* p's first packet went */
	assert_int_equal(t.stats.stolen, 1);
	assert_int_equal(t.stats.queue_drops, 1);
	assert_int_equal(p->q_count, 1);
	assert_int_equal(peer_dequeue(&t, p)->len, 20); /* the older one of p's went first */
	assert_true(peer_enqueue(&t, q, pkt, 50, false)); /* a free slot: no theft */
	/* Full again; what is left to take: the trusted entry's (never) and q's, which is
	 * not older than the newcomer r. */
	struct peer *r = peer_get(&t, &d, 101000);
	assert_false(peer_enqueue(&t, r, pkt, 60, false));
	assert_int_equal(t.stats.stolen, 1);
	assert_int_equal(q->q_count, 2);
	assert_int_equal(tr->q_count, 1);
	/* A client's own contact (host_opened) keeps its packets against a stranger. */
	peer_remove(&t, tr);
	q->host_opened = true;
	struct peer *s = peer_get(&t, &b, 102000);
	assert_true(peer_enqueue(&t, s, pkt, 62, false)); /* tr's slot, now free */
	assert_false(peer_enqueue(&t, r, pkt, 60, false)); /* s is newer, q worth more */
	r->host_opened = true;
	peer_remove(&t, s);
	assert_true(peer_enqueue(&t, r, pkt, 60, false));
	assert_false(peer_enqueue(&t, r, pkt, 60, false)); /* q is not older than r */
	assert_int_equal(t.stats.stolen, 1);
}

/* C-40: entries idle beyond the limit are swept. */
static void c40_expiry_sweep(void **state)
{
	struct in6_addr a = nth(1), b = nth(2);
	struct peer *p = peer_get(&t, &a, 100000);
	peer_get(&t, &b, 100000)->last_rx = 160000;
	p->last_rx = 100000;
	peer_sweep(&t, 170000, 60000, 4);
	assert_null(peer_find(&t, &a));
	assert_non_null(peer_find(&t, &b));
	assert_int_equal(t.stats.expired, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(siphash_reference_vector),
		T(c50_new_entries_backdated),
		T(c06_eviction_when_full),
		T(sec06_flood_keeps_established_peer),
		T(c47_queue_limits_and_order),
		T(c40_expiry_sweep),
		T(sec06_full_pool_gives_up_the_oldest_packet),
	};
	return cmocka_run_group_tests_name("peer", tests, NULL, NULL);
}
