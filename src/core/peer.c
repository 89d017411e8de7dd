#include "core/peer.h"

#include <stdlib.h>
#include <string.h>

#include "core/siphash.h"

int peer_table_init(struct peer_table *t, uint32_t capacity, uint32_t pool_size,
		    uint16_t per_peer_max, const uint8_t key[16])
{
	memset(t, 0, sizeof *t);
	t->capacity = capacity;
	t->nbuckets = 1;
	while (t->nbuckets < capacity * 2)
		t->nbuckets <<= 1;
	t->peers = calloc(capacity, sizeof *t->peers);
	t->buckets = malloc(sizeof *t->buckets * t->nbuckets);
	t->pool = calloc(pool_size ? pool_size : 1, sizeof *t->pool);
	if (!t->peers || !t->buckets || !t->pool) {
		peer_table_free(t);
		return -1;
	}
	for (uint32_t i = 0; i < t->nbuckets; i++)
		t->buckets[i] = PEER_NONE;
	for (uint32_t i = 0; i < capacity; i++)
		t->peers[i].next = i + 1 < capacity ? i + 1 : PEER_NONE;
	t->free_head = 0;
	for (uint32_t i = 0; i < pool_size; i++)
		t->pool[i].next = i + 1 < pool_size ? i + 1 : PEER_NONE;
	t->pool_size = pool_size;
	t->pool_free = pool_size ? 0 : PEER_NONE;
	t->oldest = t->newest = PEER_NONE;
	t->per_peer_max = per_peer_max;
	t->bytes = (uint64_t)capacity * sizeof *t->peers + (uint64_t)t->nbuckets * sizeof *t->buckets +
		   (uint64_t)(pool_size ? pool_size : 1) * sizeof *t->pool;
	memcpy(t->key, key, 16);
	return 0;
}

void peer_table_free(struct peer_table *t)
{
	free(t->peers);
	free(t->buckets);
	free(t->pool);
	t->peers = NULL;
	t->buckets = NULL;
	t->pool = NULL;
}

static uint32_t bucket_of(const struct peer_table *t, const struct in6_addr *a)
{
	return (uint32_t)siphash24(t->key, a, 16) & (t->nbuckets - 1);
}

struct peer *peer_find(struct peer_table *t, const struct in6_addr *a)
{
	for (uint32_t i = t->buckets[bucket_of(t, a)]; i != PEER_NONE; i = t->peers[i].next)
		if (!memcmp(&t->peers[i].addr, a, 16))
			return &t->peers[i];
	return NULL;
}

void peer_remove(struct peer_table *t, struct peer *p)
{
	uint32_t idx = peer_index(t, p);
	uint32_t *link = &t->buckets[bucket_of(t, &p->addr)];
	while (*link != PEER_NONE && *link != idx)
		link = &t->peers[*link].next;
	if (*link == idx)
		*link = p->next;
	if (t->trust && p->trusted)
		trust_log_put(t->trust, false, 0, false, &p->addr, p->mapping, 0);
	peer_drop_queue(t, p);
	memset(p, 0, sizeof *p);
	p->next = t->free_head;
	t->free_head = idx;
	t->count--;
}

static uint64_t last_activity(const struct peer *p)
{
	return p->last_rx > p->last_tx ? p->last_rx : p->last_tx;
}

/* An entry that still hears from its peer PEER_ESTABLISHED_MS after it was made. A
 * spoofed flood that sprays more sources than the table holds never gets there: its
 * entries are pushed out before their source comes round again. */
static bool established(const struct peer *p)
{
	return p->last_rx >= p->created + PEER_ESTABLISHED_MS;
}

/* How much an entry is worth keeping: a peer we can reach (trusted: it proved its
 * mapping), one that still talks after PEER_ESTABLISHED_MS, and one that has sent
 * PEER_BUSY_PACKETS are worth more. A flood from the native side makes only untrusted
 * entries (nobody answers their bubbles); a flood of spoofed Teredo sources makes
 * trusted ones, and an attacker who repeats its sources can make them established, but
 * each busy entry costs it PEER_BUSY_PACKETS packets where a real peer pays nothing.
 * Above all of these, a client keeps the contacts its host opened: no packet from
 * outside can make one, and a new one has had no time to prove anything yet (a flood
 * turns a table over in a fraction of a second; make bench's client flood lost most of
 * the host's pings to a relay it had just reached). */
static int worth(const struct peer *p)
{
	return 4 * (int)p->host_opened + (int)p->trusted + (int)established(p) + (p->heard >= PEER_BUSY_PACKETS);
}

/* Is a a better victim than b? The less worth first, then the least recently active. */
static bool worse(const struct peer *a, const struct peer *b)
{
	int wa = worth(a), wb = worth(b);
	if (wa != wb)
		return wa < wb;
	return last_activity(a) < last_activity(b);
}

/* Eviction (C-06 "e.g. evict least-recently-used", SEC-06), in O(1): of the next 8
 * entries under the clock hand, the worst goes. Plain LRU would let a flood of new
 * sources faster than a real peer's packets push that peer out (the lab's flood test
 * showed it), so entries that proved themselves are kept while there are others. */
static void evict_one(struct peer_table *t)
{
	struct peer *victim = NULL;
	for (int n = 0; n < 8; n++) {
		struct peer *p = &t->peers[t->clock];
		t->clock = (t->clock + 1) % t->capacity;
		if (p->in_use && (!victim || worse(p, victim)))
			victim = p;
	}
	if (!victim) /* sparse region: take the first in use */
		for (uint32_t i = 0; i < t->capacity && !victim; i++)
			if (t->peers[i].in_use)
				victim = &t->peers[i];
	if (victim) {
		peer_remove(t, victim);
		t->stats.evicted++;
	}
}

struct peer *peer_get(struct peer_table *t, const struct in6_addr *a, uint64_t now)
{
	struct peer *p = peer_find(t, a);
	if (p)
		return p;
	if (t->free_head == PEER_NONE)
		evict_one(t);
	if (t->free_head == PEER_NONE)
		return NULL;
	uint32_t idx = t->free_head;
	p = &t->peers[idx];
	t->free_head = p->next;
	memset(p, 0, sizeof *p);
	p->addr = *a;
	p->in_use = true;
	p->q_head = p->q_tail = PEER_NONE;
	/* RFC 4380 §5.2.3, §5.2.6 (C-35, C-50): new entries are back-dated 30 s so that
	 * the first bubble may leave at once. */
	p->last_rx = p->last_tx = now >= 30000 ? now - 30000 : 0;
	p->bubble_window = now;
	p->created = now;
	uint32_t b = bucket_of(t, a);
	p->next = t->buckets[b];
	t->buckets[b] = idx;
	t->count++;
	t->stats.created++;
	return p;
}

/* The pool's packets in the order they came (oldest first), across all queues. */
static void age_unlink(struct peer_table *t, uint32_t i)
{
	struct peer_pkt *k = &t->pool[i];
	if (k->older == PEER_NONE)
		t->oldest = k->newer;
	else
		t->pool[k->older].newer = k->newer;
	if (k->newer == PEER_NONE)
		t->newest = k->older;
	else
		t->pool[k->newer].older = k->older;
}

/* A full pool gives up its oldest packet waiting for an older, untrusted entry worth no
 * more than the newcomer (see worth: a stranger never takes the place of a packet the
 * client's host sent); C-47 and R-09 bound the pool, not which packets it keeps. Under a
 * flood to addresses nobody answers every slot holds such a packet, and refusing the
 * newest one lost the first packet of every real exchange that started during it (the
 * lab's native-side flood: a new client's first echo reply at the relay, always; its
 * ping waited 2 s for the next). Oldest first means a packet lasts as long as the pool
 * takes to turn over (16,384 packets at 100,000/s: 160 ms), far longer than a bubble's
 * round trip. A peer's own packets keep their order, so the oldest one that may go
 * heads its queue. */
#define PEER_STEAL_SCAN 8
static bool steal_one(struct peer_table *t, const struct peer *p)
{
	uint32_t i = t->oldest;
	for (int n = 0; n < PEER_STEAL_SCAN && i != PEER_NONE; n++, i = t->pool[i].newer) {
		struct peer *q = &t->peers[t->pool[i].owner];
		if (q == p || q->trusted || worth(q) > worth(p) || q->created >= p->created || q->q_head != i)
			continue;
		peer_dequeue(t, q);
		t->stats.queue_drops++;
		t->stats.stolen++;
		return true;
	}
	return false;
}

bool peer_enqueue(struct peer_table *t, struct peer *p, const uint8_t *pkt, size_t len, bool to_host)
{
	if (t->pool_free == PEER_NONE && len <= sizeof t->pool[0].data && p->q_count < t->per_peer_max)
		steal_one(t, p);
	if (len > sizeof t->pool[0].data || p->q_count >= t->per_peer_max || t->pool_free == PEER_NONE) {
		t->stats.queue_drops++;
		return false;
	}
	uint32_t i = t->pool_free;
	struct peer_pkt *k = &t->pool[i];
	t->pool_free = k->next;
	t->pool_used++;
	k->owner = peer_index(t, p);
	k->newer = PEER_NONE;
	k->older = t->newest;
	if (t->newest == PEER_NONE)
		t->oldest = i;
	else
		t->pool[t->newest].newer = i;
	t->newest = i;
	k->next = PEER_NONE;
	k->len = (uint16_t)len;
	k->to_host = to_host;
	memcpy(k->data, pkt, len);
	if (p->q_tail == PEER_NONE)
		p->q_head = i;
	else
		t->pool[p->q_tail].next = i;
	p->q_tail = i;
	p->q_count++;
	t->stats.queued++;
	return true;
}

const struct peer_pkt *peer_dequeue(struct peer_table *t, struct peer *p)
{
	uint32_t i = p->q_head;
	if (i == PEER_NONE)
		return NULL;
	struct peer_pkt *k = &t->pool[i];
	p->q_head = k->next;
	if (p->q_head == PEER_NONE)
		p->q_tail = PEER_NONE;
	p->q_count--;
	age_unlink(t, i);
	/* The slot returns to the free list now; its bytes stay intact until reused,
	 * which happens no earlier than the next enqueue. */
	k->next = t->pool_free;
	t->pool_free = i;
	t->pool_used--;
	return k;
}

void peer_drop_queue(struct peer_table *t, struct peer *p)
{
	while (p->q_count && peer_dequeue(t, p))
		;
	p->q_head = p->q_tail = PEER_NONE;
}

void peer_sweep(struct peer_table *t, uint64_t now, uint64_t idle_ms, uint32_t budget)
{
	for (uint32_t n = 0; n < budget && n < t->capacity; n++) {
		struct peer *p = &t->peers[t->sweep];
		t->sweep = (t->sweep + 1) % t->capacity;
		if (p->in_use && last_activity(p) + idle_ms < now) {
			peer_remove(t, p);
			t->stats.expired++;
		}
	}
}

bool peer_pending_add(struct peer_pending *l, const struct peer_table *t, const struct peer *p)
{
	uint32_t idx = peer_index(t, p);
	for (uint32_t i = 0; i < l->n; i++)
		if (l->idx[i] == idx)
			return true;
	if (l->n < PEER_PENDING_MAX) {
		l->idx[l->n++] = idx;
		return true;
	}
	l->full++;
	return false;
}

bool peer_may_bubble(struct peer *p, uint64_t now)
{
	if (now - p->bubble_window >= 300000) {
		p->bubble_window = now;
		p->bubbles = 0;
	}
	return now - p->last_tx >= 2000 && p->bubbles < 4;
}

struct peer *peer_pending_next(struct peer_pending *l, struct peer_table *t, uint32_t *cursor,
			       uint64_t now, uint8_t max_retries, uint64_t retry_ms, bool *give_up)
{
	while (*cursor < l->n) {
		uint32_t i = *cursor;
		struct peer *p = &t->peers[l->idx[i]];
		if (!p->in_use || !p->next_retry) {
			l->idx[i] = l->idx[--l->n];
			continue;
		}
		if (p->next_retry > now) {
			(*cursor)++;
			continue;
		}
		if (p->retries > max_retries) {
			*give_up = true;
			p->next_retry = 0;
			l->idx[i] = l->idx[--l->n];
			return p;
		}
		*give_up = false;
		p->retries++;
		p->next_retry = now + retry_ms;
		(*cursor)++;
		return p;
	}
	return NULL;
}
