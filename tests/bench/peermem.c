/* peermem: a relay's memory per peer and lookup cost as its table fills, measured.
 * Fills a relay core with N distinct Teredo clients (each sends one bubble from the
 * mapping in its address, which a relay accepts and trusts: ), mirrors each
 * into the kernel fast path's peer map through the core's trust journal as the daemon
 * does (issue 10; needs root, else the core alone), and reports the resident set's
 * growth, the map's kernel memory, and the time of a lookup in both at 10 %, 50 % and
 * 100 % fill; then what listing that full table with `shipworm peers` costs the daemon.
 *
 *   peermem [N]      (default 1000000) */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/relay.h"
#include "sys/control.h"
#include "sys/fastpath.h"
#include "sys/peers_page.h"
#include "sys/status_peers.h"
#include "wire/icmpv6.h"
#include "wire/teredo_addr.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

/* The kernel memory charged to a map (its fdinfo's memlock). */
static long map_kib(int fd)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "memlock:", 8))
			v = atol(line + 8) / 1024;
	if (f)
		fclose(f);
	return v;
}

static void rng(void *ctx, void *out, size_t len)
{
	memset(out, 7, len);
}

static struct in6_addr client(uint32_t i, struct sw_endpoint *ep)
{
	/* 198.51.100.x, one address per 65536 ports */
	*ep = (struct sw_endpoint){ htonl(0xc6336400u + 1 + (i >> 16)), htons((uint16_t)(i & 0xffff)) };
	struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = htonl(0xc633640a), .mapped = *ep };
	struct in6_addr a;
	teredo_addr_encode(&t, &a);
	return a;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Mean time of `k` lookups of random filled entries: the core's table, the kernel map. */
static void lookups(struct relay *r, struct fastpath *fp, uint32_t filled, uint32_t n)
{
	const uint32_t k = 200000;
	uint32_t x = 12345, hits = 0;
	struct sw_endpoint ep;
	double t0 = now_ns();
	for (uint32_t j = 0; j < k; j++) {
		x = x * 1103515245u + 12345u;
		struct in6_addr a = client(x % filled, &ep);
		hits += peer_find(&r->peers, &a) != NULL;
	}
	double core = (now_ns() - t0) / k;
	double kern = 0;
	if (fp) {
		struct fp_peer v;
		t0 = now_ns();
		for (uint32_t j = 0; j < k; j++) {
			x = x * 1103515245u + 12345u;
			struct in6_addr a = client(x % filled, &ep);
			hits += bpf_map_lookup_elem(fastpath_peers_fd(fp), &a, &v) == 0;
		}
		kern = (now_ns() - t0) / k;
	}
	printf("  at %3u %% full: core lookup %.0f ns", filled * 100u / n, core);
	if (fp)
		printf(", kernel map lookup %.0f ns (a bpf() call each, from user space)", kern);
	printf("; %u of %u found\n", hits, fp ? 2 * k : k);
}

/* `shipworm peers` on the full table: every page the daemon would answer (64 KiB of
 * JSON each, status_peers from the slot the last one named), the time each holds the
 * daemon's loop, and the whole listing's. */
static void listing(const struct relay *r)
{
	static char page[CONTROL_ANSWER_MAX];
	uint64_t bytes = 0, listed = 0;
	uint32_t from = 0, pages = 0;
	double worst = 0, t0 = now_ns();
	for (;;) {
		double p0 = now_ns();
		struct peers_page pg;
		size_t len = status_peers(&r->peers, TEREDO_PREFIX_DEFAULT, 1000000, from, true, page, sizeof page);
		double took = now_ns() - p0;
		worst = took > worst ? took : worst;
		pages++;
		bytes += len;
		if (peers_page_split(page, len, true, &pg) < 0) {
			printf("  listing: page %u did not split\n", pages);
			return;
		}
		listed += pg.listed;
		if (!pg.more || pg.next <= from)
			break;
		from = pg.next;
	}
	double total = now_ns() - t0;
	printf("shipworm peers --json on the full table: %llu of %u peers in %u pages of at most %d KiB, "
	       "%.0f MB in %.2f s; each page held the daemon's loop %.0f us on average, %.0f us at most\n",
	       (unsigned long long)listed, r->peers.count, pages, CONTROL_ANSWER_MAX / 1024, bytes / 1e6, total / 1e9,
	       total / pages / 1e3, worst / 1e3);
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
	/* RelayAcceptUnknown: every client below makes an entry of its own. */
	struct relay_config c = { .prefix = TEREDO_PREFIX_DEFAULT, .unknown_rate = RELAY_UNKNOWN_ALL, .peer_capacity = n,
				  .queue_pool = 1024, .queue_per_peer = 16 };
	static struct relay r;
	long before = rss_kib();
	if (relay_init(&r, &c, rng, NULL) < 0)
		return 1;
	char why[160];
	struct fastpath *fp = fastpath_open(n, 0, 0, why, sizeof why);
	if (fp)
		relay_fast_path(&r);
	else
		printf("  (no kernel map: %s)\n", why);
	struct in6_addr host;
	inet_pton(AF_INET6, "2001:db8:1::100", &host);
	uint8_t pkt[128];
	struct sw_action acts[4];
	uint16_t sports[1] = { htons(3544) };
	for (uint32_t i = 0; i < n; i++) {
		struct sw_endpoint ep;
		struct in6_addr src = client(i, &ep);
		size_t len = bubble_build(pkt, &src, &host);
		relay_udp(&r, 1000000, ep, pkt, len, acts, 4);
		if (fp)
			fastpath_apply(fp, &r.trust, sports, 1);
		if (i + 1 == n / 10 || i + 1 == n / 2)
			lookups(&r, fp, i + 1, n);
	}
	lookups(&r, fp, n, n);
	long after = rss_kib();
	listing(&r);
	double per = (double)(after - before) * 1024 / r.peers.count;
	printf("peers %u; resident set %ld KiB -> %ld KiB; %.0f bytes per peer "
	       "(struct peer %zu bytes + hash buckets); %.1f million peers per GiB\n",
	       r.peers.count, before, after, per, sizeof(struct peer), (1 << 30) / per / 1e6);
	if (fp) {
		long mk = map_kib(fastpath_peers_fd(fp));
		printf("kernel peer map: %ld KiB for %u entries (%.0f bytes each); map errors %llu\n", mk, n,
		       (double)mk * 1024 / n, (unsigned long long)fastpath_map_errors(fp));
		printf("daemon table and kernel map together: %.0f MiB for %u trusted peers\n",
		       ((double)(after - before) + (double)mk) / 1024, n);
		fastpath_close(fp, -1);
	}
	relay_free(&r);
	return 0;
}
