/* The kernel fast path's programs (issue 10), run on crafted packets through
 * BPF_PROG_TEST_RUN: no namespace, no interface. Each case says which rule of the core
 * the program mirrors. Needs root (CAP_BPF); `make check` runs as root. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"
#include "helpers.h"
#include "sys/fastpath.h"
#include "wire/bytes.h"

#define RELAY_IP "198.51.100.30"
#define SERVER "198.51.100.10"

static struct fastpath *fp;
static int in_fd, out_fd;
static uint8_t pkt[2048], out[2048];
static uint32_t out_len;
static struct sw_endpoint mapping;
static struct in6_addr client, native;

static uint64_t boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t boot_ms(void)
{
	return boot_ns() / 1000000u;
}

static void configure(uint8_t role)
{
	struct fp_config c = { .prefix = htonl(TEREDO_PREFIX_DEFAULT), .self_ip = A4(RELAY_IP), .port = htons(3544),
			       .role = role, .tun_hlen = 14, .tun_ifindex = 1, .out_ifindex = 1 };
	c.self6[0] = 0x20; /* client role: our address is the client's below */
	memcpy(c.self6, &client, 16);
	assert_int_equal(fastpath_configure(fp, &c), 0);
}

/* Trust a peer as the core's journal would (relay_udp_on). */
static void trust(const struct in6_addr *a, struct sw_endpoint m, uint64_t last_rx)
{
	struct trust_log log = { .n = 0 };
	trust_log_put(&log, true, 0, false, a, m, last_rx);
	uint16_t sports[1] = { htons(3544) };
	fastpath_apply(fp, &log, sports, 1);
	assert_int_equal(log.n, 0);
}

static int setup(void **state)
{
	char why[160];
	fp = fastpath_open(1024, 0, 0, why, sizeof why);
	if (!fp) {
		fprintf(stderr, "fastpath_open: %s\n", why);
		return -1;
	}
	in_fd = fastpath_prog_fd(fp, false);
	out_fd = fastpath_prog_fd(fp, true);
	mapping = EP("203.0.113.7", 40000);
	client = teredo_of(SERVER, mapping, 0);
	native = A6("2001:db8:1::100");
	configure(FP_ROLE_RELAY);
	trust(&client, mapping, boot_ms());
	return 0;
}

static int teardown(void **state)
{
	fastpath_close(fp, -1);
	return 0;
}

static void eth(uint8_t *p, uint16_t proto)
{
	memset(p, 0, 12);
	p[0] = 0x02;
	p[6] = 0x02;
	p[11] = 1;
	put_be16(p + 12, proto);
}

/* Ethernet + IPv4 + UDP (from src to the relay's port 3544) + `body`, no UDP checksum;
 * returns the length. */
static size_t udp4(struct sw_endpoint src, uint16_t dport, const uint8_t *body, size_t blen)
{
	return udp4_frame(pkt, "\x02\x00\x00\x00\x00\x00", "\x02\x00\x00\x00\x00\x01", src, A4(RELAY_IP), dport,
			  body, blen, false);
}

/* An ICMPv6 echo request of `plen` bytes of payload from s to d. */
static size_t echo6(uint8_t *b, const struct in6_addr *s, const struct in6_addr *d, uint8_t hop, size_t plen)
{
	ip6_put_header(b, (uint16_t)(8 + plen), 58, hop, s, d);
	memset(b + 40, 0xab, 8 + plen);
	b[40] = 128;
	b[41] = 0;
	return 48 + plen;
}

static int run(int prog, size_t len, const struct __sk_buff *ctx)
{
	struct __sk_buff c = { 0 };
	if (ctx)
		c = *ctx;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof out, .ctx_in = &c, .ctx_size_in = sizeof c, .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(prog, &o), 0);
	out_len = o.data_size_out;
	return (int)o.retval;
}

static uint64_t counter(enum fp_counter k)
{
	uint64_t c[FP__COUNT];
	fastpath_counters(fp, c);
	return c[k];
}

static uint8_t inner[1600];

/* Takes the outer headers off in one step (decap_l3) or in 6.1's two, whatever the
 * kernel's probe found: both ways are run on any kernel that has the first. */
static void set_decap_l3(bool one_step)
{
	uint32_t zero = 0;
	struct fp_config c;
	assert_int_equal(bpf_map_lookup_elem(fastpath_cfg_fd(fp), &zero, &c), 0);
	c.decap_l3 = one_step;
	assert_int_equal(bpf_map_update_elem(fastpath_cfg_fd(fp), &zero, &c, BPF_ANY), 0);
}

/* RFC 4380 §5.4.2 mirrored: data from a trusted client at its recorded mapping is
 * decapsulated and redirected into the Teredo interface; what comes out is exactly the
 * inner packet behind the frame's own Ethernet header (which the redirect into the
 * TUN, a device without one, takes off). */
static void r11_trusted_data_decapsulated(void **state)
{
	printf("# this kernel decapsulates in one step: %s\n", fastpath_decap_l3(fp) ? "yes" : "no");
	size_t il = echo6(inner, &client, &native, 64, 100);
	uint64_t first = boot_ns();
	for (int one_step = fastpath_decap_l3(fp); one_step >= 0; one_step--) {
		set_decap_l3(one_step);
		size_t len = udp4(mapping, 3544, inner, il);
		uint64_t before = counter(FP_IN_DECAP), bytes = counter(FP_IN_DECAP_BYTES);
		assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
		assert_int_equal(out_len, 14 + il);
		assert_memory_equal(out, pkt, 14);
		assert_memory_equal(out + 14, inner, il);
		assert_int_equal(counter(FP_IN_DECAP), before + 1);
		/* The Teredo interface's own counters miss it: the IPv6 bytes are counted here. */
		assert_int_equal(counter(FP_IN_DECAP_BYTES), bytes + il);
	}
	/* The entry was refreshed (peer_heard) by the last packet and reported to the daemon
	 * with the first: a second run may fall in a later report unit than the first. */
	struct fp_peer v;
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &client, &v), 0);
	assert_true(v.last_rx >= first && v.last_rx <= boot_ns());
	uint32_t since_first = v.reported - (uint32_t)(first >> 20); /* units wrap: 52 days */
	assert_true(since_first <= (uint32_t)((v.last_rx >> 20) - (first >> 20)));
	assert_int_equal(v.pkts, fastpath_decap_l3(fp) ? 1 : 0); /* reported with the first packet */
}

static struct in6_addr seen_addr;
static int seen_n;
static uint32_t seen_pkts;
static uint64_t seen_at, seen_sent;
static void on_seen(void *ctx, const struct in6_addr *a, uint64_t at, uint32_t pkts, uint64_t sent)
{
	seen_addr = *a;
	seen_n++;
	seen_pkts = pkts;
	seen_at = at;
	seen_sent = sent;
	assert_true(at + 1000 >= boot_ms() || sent);
}

/* Make peer a's next report due now, as if the last were FP_REPORT_NS old. */
static void report_due_now(const struct in6_addr *a)
{
	struct fp_peer v;
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), a, &v), 0);
	v.reported -= FP_REPORT_UNITS;
	assert_int_equal(bpf_map_update_elem(fastpath_peers_fd(fp), a, &v, BPF_EXIST), 0);
}

/* The report reaches the core's side once per FP_REPORT_NS, not per packet, with the
 * packets carried since the previous one; and once more when the peer gets busy. */
static void seen_reported_once(void **state)
{
	size_t il = echo6(inner, &client, &native, 64, 8);
	size_t len = udp4(mapping, 3544, inner, il);
	for (int i = 0; i < 5; i++)
		assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
	seen_n = 0;
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 1);
	assert_memory_equal(&seen_addr, &client, 16);
	assert_int_equal(seen_pkts, 1);
	/* The other four wait in the entry for the next report, which carries them (the
	 * core counts them as heard: its eviction keeps busy peers). */
	struct fp_peer v;
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &client, &v), 0);
	assert_int_equal(v.pkts, 4);
	v.reported -= FP_REPORT_UNITS;
	assert_int_equal(bpf_map_update_elem(fastpath_peers_fd(fp), &client, &v, BPF_EXIST), 0);
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 2);
	assert_int_equal(seen_pkts, 5);
	/* A peer that gets busy (PEER_BUSY_PACKETS) is reported at once, not 5 s later. */
	for (int i = 0; i < FP_BUSY_PACKETS - 1; i++)
		assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 2);
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 3);
	assert_int_equal(seen_pkts, FP_BUSY_PACKETS);
}

/* Everything the daemon must see stays a datagram for its socket, byte for byte. */
static void passed_untouched(int prog, size_t len, enum fp_counter why)
{
	uint8_t copy[2048];
	memcpy(copy, pkt, len);
	uint64_t before = counter(why);
	assert_int_equal(run(prog, len, NULL), TC_ACT_UNSPEC);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, copy, len);
	assert_int_equal(counter(why), before + 1);
}

static void passed_up_untouched(size_t len, enum fp_counter why)
{
	passed_untouched(in_fd, len, why);
}

/* R-12 / C-35: bubbles are the core's (trust); RFC 4380 §5.1.1: packets with an
 * authentication or origin header; RFC 6081 §4: trailers after the IPv6 packet. */
static void bubbles_headers_trailers_go_to_the_daemon(void **state)
{
	size_t bl = bubble_build(inner, &client, &native);
	passed_up_untouched(udp4(mapping, 3544, inner, bl), FP_IN_PASS);
	uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	teredo_put_auth_nonce(inner, nonce, 0);
	size_t il = echo6(inner + 13, &client, &native, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, 13 + il), FP_IN_PASS);
	teredo_put_origin(inner, mapping);
	il = echo6(inner + 8, &client, &native, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, 8 + il), FP_IN_PASS);
	il = echo6(inner, &client, &native, 64, 8);
	memcpy(inner + il, "\x01\x04\x00\x00\x00\x00", 6); /* a trailer */
	passed_up_untouched(udp4(mapping, 3544, inner, il + 6), FP_IN_PASS);
}

/* another mapping than the recorded one, an unknown client, a non-Teredo source. */
static void r11_sources_the_core_has_not_trusted(void **state)
{
	size_t il = echo6(inner, &client, &native, 64, 8);
	passed_up_untouched(udp4(EP("203.0.113.7", 40001), 3544, inner, il), FP_IN_NO_PEER);
	struct in6_addr other = teredo_of(SERVER, EP("203.0.113.8", 40000), 0);
	il = echo6(inner, &other, &native, 64, 8);
	passed_up_untouched(udp4(EP("203.0.113.8", 40000), 3544, inner, il), FP_IN_NO_PEER);
	il = echo6(inner, &native, &native, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
}

/* R-13, SEC-11 (b): never back into Teredo, only global unicast; hop limit <= 1 is the
 * daemon's (and the host's ICMPv6 error). */
static void r13_destinations_and_hop_limit(void **state)
{
	struct in6_addr teredo = teredo_of(SERVER, EP("203.0.113.9", 1), 0), mc = A6("ff0e::1"),
			ll = A6("fe80::1");
	size_t il = echo6(inner, &client, &teredo, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
	il = echo6(inner, &client, &mc, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
	il = echo6(inner, &client, &ll, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
	il = echo6(inner, &client, &native, 1, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
}

/* IPv4 fragments, options and coalesced (GRO) packets: the daemon's socket. */
static void fragments_options_gro_go_to_the_daemon(void **state)
{
	size_t il = echo6(inner, &client, &native, 64, 8);
	size_t len = udp4(mapping, 3544, inner, il);
	pkt[14 + 6] = 0x20; /* MF */
	passed_up_untouched(len, FP_IN_PASS);
	len = udp4(mapping, 3544, inner, il);
	pkt[14 + 7] = 0x10; /* offset 16 */
	passed_up_untouched(len, FP_IN_PASS);
	len = udp4(mapping, 3544, inner, il);
	struct __sk_buff gro = { .gso_segs = 2, .gso_size = 100 };
	uint64_t before = counter(FP_IN_PASS);
	assert_int_equal(run(in_fd, len, &gro), TC_ACT_UNSPEC);
	assert_int_equal(counter(FP_IN_PASS), before + 1);
}

/* Other traffic is none of the program's business: not even counted. */
static void other_ports_untouched(void **state)
{
	size_t il = echo6(inner, &client, &native, 64, 8);
	size_t len = udp4(mapping, 53, inner, il);
	uint64_t before = counter(FP_IN_PASS) + counter(FP_IN_DECAP) + counter(FP_IN_NO_PEER);
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_UNSPEC);
	assert_memory_equal(out + 14, pkt + 14, len - 14);
	assert_int_equal(counter(FP_IN_PASS) + counter(FP_IN_DECAP) + counter(FP_IN_NO_PEER), before);
}

/* A frame the program leaves to the host as it came, without counting it: traffic for
 * another of the host's sockets. */
static void untouched_uncounted(size_t len)
{
	uint8_t copy[2048];
	memcpy(copy, pkt, len);
	uint64_t before = counter(FP_IN_PASS) + counter(FP_IN_DECAP) + counter(FP_IN_NO_PEER);
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_UNSPEC);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, copy, len);
	assert_int_equal(counter(FP_IN_PASS) + counter(FP_IN_DECAP) + counter(FP_IN_NO_PEER), before);
}

static size_t from_host(const struct in6_addr *s, const struct in6_addr *d, size_t plen);
static void passed_out_untouched(size_t len, enum fp_counter why);

/* RFC 6081 §5.4, §5.5 mirrored (client role): a peer the core trusts on the random port
 * lent to it (X-38 (d), core socket 2 here) is carried both ways from that port: its
 * data is taken on that port (rport_udp: only from the peer it is lent to, only from its
 * mapping) and on the Teredo port (C-33), never on a port lent to no one or to another
 * peer; what the host sends it leaves from that port, and the core hears of it.
 * A journal record for a socket whose port the shell is reopening leaves the peer to
 * the daemon. */
static void rfc6081_s5_4_random_port_peer_both_ways(void **state)
{
	configure(FP_ROLE_CLIENT);
	struct sw_endpoint pm = EP("203.0.113.8", 60000);
	struct in6_addr peer = teredo_of(SERVER, EP("203.0.113.8", 40001), 0);
	struct trust_log log = { .n = 0 };
	trust_log_put(&log, true, 2, false, &peer, pm, boot_ms());
	uint16_t sports[3] = { htons(3544), 0, htons(50001) };
	fastpath_apply(fp, &log, sports, 3);
	size_t il = echo6(inner, &peer, &client, 64, 8);
	assert_int_equal(run(in_fd, udp4(pm, 50001, inner, il), NULL), TC_ACT_REDIRECT);
	assert_memory_equal(out + 14, inner, il);
	assert_int_equal(run(in_fd, udp4(pm, 3544, inner, il), NULL), TC_ACT_REDIRECT);
	untouched_uncounted(udp4(pm, 50002, inner, il));                   /* another random port */
	untouched_uncounted(udp4(EP("203.0.113.8", 60001), 50001, inner, il)); /* another mapping */
	/* The trusted peer of the relay role's setup, still in the map at our Teredo port:
	 * not on the random port lent to the other peer. */
	il = echo6(inner, &client, &client, 64, 8);
	untouched_uncounted(udp4(mapping, 50001, inner, il));
	size_t len = from_host(&client, &peer, 8);
	assert_int_equal(run(out_fd, len, NULL), TC_ACT_REDIRECT);
	assert_int_equal(get_be16(out + 14 + 20), 50001);
	assert_memory_equal(out + 14 + 16, &pm.ip, 4);
	assert_int_equal(get_be16(out + 14 + 22), 60000);
	/* the core hears, at the reports' pace, that data left by the random port
	 * (the one in and the one out so far went within one report interval). */
	seen_n = 0;
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 1);
	assert_int_equal(seen_sent, 0); /* the first packet in */
	report_due_now(&peer);
	uint64_t t0 = boot_ms();
	assert_int_equal(run(out_fd, from_host(&client, &peer, 8), NULL), TC_ACT_REDIRECT);
	struct fp_peer v;
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &peer, &v), 0);
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 2);
	assert_memory_equal(&seen_addr, &peer, 16);
	assert_true(seen_sent >= t0 && seen_sent <= boot_ms());
	assert_int_equal(seen_at, v.last_rx / 1000000u); /* not heard from by this */
	assert_int_equal(seen_pkts, 1);                  /* the second packet in, not yet told */
	assert_int_equal(v.pkts, 0);
	/* ... and only for such a peer: one at our Teredo port is not reported sending. */
	report_due_now(&client);
	assert_int_equal(run(out_fd, from_host(&client, &client, 8), NULL), TC_ACT_REDIRECT);
	fastpath_seen_drain(fp, on_seen, NULL);
	assert_int_equal(seen_n, 2);
	sports[2] = 0;
	trust_log_put(&log, true, 2, false, &peer, pm, boot_ms());
	fastpath_apply(fp, &log, sports, 3);
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &peer, &v), -ENOENT);
	passed_out_untouched(from_host(&client, &peer, 8), FP_OUT_MISS);
}

/* RFC 6081 §5.3.4.3 mirrored (client role): behind our single UPnP-enabled
 * symmetric NAT, what the host sends a symmetric peer goes to the mapping its address
 * names (client_symmetric.c cl_at_address), while the peer's data is taken from the mapping it writes
 * from and only there, as the core takes it. The flag costs the entry no room (1 M
 * peers in 256 MiB); the packet count beside it stops at its top instead of wrapping. */
static void rfc6081_s5_3_4_x26_sent_to_the_mapping_its_address_names(void **state)
{
	_Static_assert(sizeof(struct fp_peer) == 24, "the peer entry grew");
	configure(FP_ROLE_CLIENT);
	struct sw_endpoint named = EP("198.51.100.24", 40000), actual = EP("198.51.100.24", 61234);
	struct in6_addr peer = teredo_of(SERVER, named, 0);
	struct trust_log log = { .n = 0 };
	uint16_t sports[1] = { htons(3544) };
	trust_log_put(&log, true, 0, true, &peer, actual, boot_ms());
	fastpath_apply(fp, &log, sports, 1);
	struct fp_peer v;
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &peer, &v), 0);
	assert_int_equal(v.flags, FP_PEER_AT_ADDRESS);
	assert_int_equal(run(out_fd, from_host(&client, &peer, 8), NULL), TC_ACT_REDIRECT);
	assert_memory_equal(out + 14 + 16, &named.ip, 4);
	assert_int_equal(get_be16(out + 14 + 20), 3544);
	assert_int_equal(get_be16(out + 14 + 22), 40000);
	size_t il = echo6(inner, &peer, &client, 64, 8);
	assert_int_equal(run(in_fd, udp4(actual, 3544, inner, il), NULL), TC_ACT_REDIRECT);
	assert_memory_equal(out + 14, inner, il);
	passed_up_untouched(udp4(named, 3544, inner, il), FP_IN_NO_PEER);
	/* The count since the last report (that first packet made one) stops at 0xffff. */
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &peer, &v), 0);
	v.pkts = 0xfffe;
	assert_int_equal(bpf_map_update_elem(fastpath_peers_fd(fp), &peer, &v, BPF_EXIST), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(run(in_fd, udp4(actual, 3544, inner, il), NULL), TC_ACT_REDIRECT);
	assert_int_equal(bpf_map_lookup_elem(fastpath_peers_fd(fp), &peer, &v), 0);
	assert_int_equal(v.pkts, 0xffff);
	assert_int_equal(v.flags, FP_PEER_AT_ADDRESS);
	/* X-26 no longer applies (the UPnP mapping went): sent where it writes from. */
	trust_log_put(&log, true, 0, false, &peer, actual, boot_ms());
	fastpath_apply(fp, &log, sports, 1);
	assert_int_equal(run(out_fd, from_host(&client, &peer, 8), NULL), TC_ACT_REDIRECT);
	assert_memory_equal(out + 14 + 16, &actual.ip, 4);
	assert_int_equal(get_be16(out + 14 + 22), 61234);
}

/* What the host routes into the tunnel, with the tunnel's Ethernet-less header stood in
 * for by the 14 bytes BPF_PROG_TEST_RUN insists on (tun_hlen). */
static size_t from_host(const struct in6_addr *s, const struct in6_addr *d, size_t plen)
{
	eth(pkt, 0x86dd);
	return 14 + echo6(pkt + 14, s, d, 63, plen);
}

/* RFC 4380 §5.4.1 mirrored: to a trusted, fresh peer, encapsulated in place: a
 * correct IPv4 header (checksum), UDP from our port to the mapping, the inner packet
 * unchanged. */
static void r05_trusted_peer_encapsulated(void **state)
{
	size_t len = from_host(&native, &client, 200);
	uint8_t inner_copy[512];
	memcpy(inner_copy, pkt + 14, len - 14);
	uint64_t before = counter(FP_OUT_ENCAP), bytes = counter(FP_OUT_ENCAP_BYTES);
	assert_int_equal(run(out_fd, len, NULL), TC_ACT_REDIRECT);
	assert_int_equal(out_len, len + 28);
	const uint8_t *ip = out + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get_be16(ip + 2), len - 14 + 28);
	assert_int_equal(ip[9], 17);
	assert_int_equal(ones_sum(ip, 20, 0), 0xffff);
	assert_memory_equal(ip + 12, &(uint32_t){ A4(RELAY_IP) }, 4);
	assert_memory_equal(ip + 16, &mapping.ip, 4);
	assert_int_equal(get_be16(ip + 20), 3544);
	assert_memory_equal(ip + 22, &mapping.port, 2);
	assert_int_equal(get_be16(ip + 24), len - 14 + 8);
	assert_int_equal(get_be16(ip + 26), 0); /* no UDP checksum (RFC 768) */
	assert_memory_equal(ip + 28, inner_copy, len - 14);
	assert_int_equal(counter(FP_OUT_ENCAP), before + 1);
	assert_int_equal(counter(FP_OUT_ENCAP_BYTES), bytes + len - 14);
}

/* RFC 9601 §6.1.3 (P-18, E-13): Teredo has no ECN negotiation, so an encapsulator that
 * does not propagate ECN (RFC 6040) zeroes the outer header's ECN field. The program
 * leaves the whole outer TOS at 0, whatever the inner traffic class (here DSCP EF with
 * CE), and the inner packet, its traffic class included, goes on unchanged. */
static void p18_outer_ecn_zeroed_inner_kept(void **state)
{
	size_t len = from_host(&native, &client, 64);
	pkt[14] = 0x6b; /* version 6, traffic class 0xbb: DSCP 46 (EF), ECN 11 (CE) */
	pkt[15] = 0xb0;
	uint8_t inner_copy[256];
	memcpy(inner_copy, pkt + 14, len - 14);
	assert_int_equal(run(out_fd, len, NULL), TC_ACT_REDIRECT);
	assert_int_equal(out[14 + 1], 0); /* outer TOS: DSCP 0, ECN Not-ECT */
	assert_int_equal(ones_sum(out + 14, 20, 0), 0xffff);
	assert_memory_equal(out + 14 + 28, inner_copy, len - 14);
}

/* ... and what the daemon must see of the host's stays a packet for the TUN. */
static void passed_out_untouched(size_t len, enum fp_counter why)
{
	passed_untouched(out_fd, len, why);
}

/* R-05's freshness: an entry not heard from for 30 s goes to the daemon (R-08 bubbles);
 * no entry at all (a first contact) too. */
static void r05_stale_or_unknown_peer_to_the_daemon(void **state)
{
	trust(&client, mapping, boot_ms() - 31000);
	passed_out_untouched(from_host(&native, &client, 8), FP_OUT_STALE);
	struct in6_addr other = teredo_of(SERVER, EP("203.0.113.8", 40000), 0);
	passed_out_untouched(from_host(&native, &other, 8), FP_OUT_MISS);
}

/* R-03, SEC-11 (c): only to Teredo, never Teredo to Teredo nor from link-local. A GSO
 * packet takes the TUN path on a kernel that cannot encapsulate it whole (6.1); where it
 * can, only TCP and UDP segmentation is encapsulated, and BPF_PROG_TEST_RUN cannot mark a
 * packet as either: the kernel refuses this one before changing it, so the daemon gets
 * it untouched all the same. (TCP super-packets through the kernel: the lab's client.) */
static void r03_sec11_sources_and_gso(void **state)
{
	passed_out_untouched(from_host(&native, &native, 8), FP_OUT_PASS);
	struct in6_addr t2 = teredo_of(SERVER, EP("203.0.113.8", 1), 0), ll = A6("fe80::2");
	passed_out_untouched(from_host(&t2, &client, 8), FP_OUT_PASS);
	passed_out_untouched(from_host(&ll, &client, 8), FP_OUT_PASS);
	size_t len = from_host(&native, &client, 8);
	struct __sk_buff gso = { .gso_segs = 4, .gso_size = 1000 };
	printf("# this kernel encapsulates GSO packets whole: %s\n", fastpath_gso_encap(fp) ? "yes" : "no");
	enum fp_counter why = fastpath_gso_encap(fp) ? FP_OUT_ERR : FP_OUT_PASS;
	uint64_t before = counter(why);
	assert_int_equal(run(out_fd, len, &gso), TC_ACT_UNSPEC);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(counter(why), before + 1);
}

/* Trust ends in the core (the journal's removal): the entry goes, the daemon takes over. */
static void trust_end_removes_the_entry(void **state)
{
	struct trust_log log = { .n = 0 };
	trust_log_put(&log, false, 0, false, &client, mapping, 0);
	fastpath_apply(fp, &log, NULL, 0);
	passed_out_untouched(from_host(&native, &client, 8), FP_OUT_MISS);
	size_t il = echo6(inner, &client, &native, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_NO_PEER);
}

/* C-26 (issue 10): a journal reset (the client's core forgot every peer at once) empties
 * the map before the records after it apply: more entries than one batch of the walk,
 * none left but the peer trusted after the reset. */
static void journal_reset_empties_the_map(void **state)
{
	struct trust_log log = { .n = 0 };
	for (unsigned i = 0; i < 600; i++) {
		struct in6_addr a = teredo_of(SERVER, (struct sw_endpoint){ A4("203.0.113.9"), htons((uint16_t)(20000 + i)) }, 0);
		trust_log_put(&log, true, 0, false, &a, mapping, boot_ms());
	}
	uint16_t sports[1] = { htons(3544) };
	fastpath_apply(fp, &log, sports, 1);
	trust_log_reset(&log);
	struct in6_addr kept = teredo_of(SERVER, EP("203.0.113.10", 40000), 0);
	trust_log_put(&log, true, 0, false, &kept, EP("203.0.113.10", 40000), boot_ms());
	fastpath_apply(fp, &log, sports, 1);
	assert_false(log.reset);
	struct in6_addr k;
	assert_int_equal(bpf_map_get_next_key(fastpath_peers_fd(fp), NULL, &k), 0);
	assert_memory_equal(&k, &kept, 16);
	assert_int_equal(bpf_map_get_next_key(fastpath_peers_fd(fp), &k, &k), -ENOENT);
	passed_out_untouched(from_host(&native, &client, 8), FP_OUT_MISS); /* setup's peer too */
}

/* H-05, H-01: a host relay serves only the host's own addresses, both ways. */
static void h05_host_relay_own_addresses_only(void **state)
{
	configure(FP_ROLE_HOST_RELAY);
	struct in6_addr other = A6("2001:db8:1::200");
	fastpath_set_locals(fp, &native, 1);
	size_t il = echo6(inner, &client, &other, 64, 8);
	passed_up_untouched(udp4(mapping, 3544, inner, il), FP_IN_PASS);
	il = echo6(inner, &client, &native, 64, 8);
	assert_int_equal(run(in_fd, udp4(mapping, 3544, inner, il), NULL), TC_ACT_REDIRECT);
	passed_out_untouched(from_host(&other, &client, 8), FP_OUT_PASS);
	assert_int_equal(run(out_fd, from_host(&native, &client, 8), NULL), TC_ACT_REDIRECT);
	fastpath_set_locals(fp, NULL, 0);
	passed_out_untouched(from_host(&native, &client, 8), FP_OUT_PASS);
}


/* The one's-complement sum over a pseudo-header and bytes, as RFC 1071 has it. */
static uint16_t sum16(uint32_t seed, const uint8_t *p, size_t n)
{
	uint32_t s = seed;
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A TCP segment (proto 6) or UDP datagram (17) of plen bytes of payload from s to d
 * with a correct checksum (or, with partial, only the pseudo-header's sum in it, as
 * CHECKSUM_PARTIAL leaves it). */
static size_t seg6(uint8_t *b, const struct in6_addr *s, const struct in6_addr *d, uint8_t proto, size_t plen,
		   bool partial)
{
	size_t hl = proto == 6 ? 20 : 8, l4 = hl + plen, at = proto == 6 ? 16 : 6;
	ip6_put_header(b, (uint16_t)l4, proto, 63, s, d);
	uint8_t *t = b + 40;
	memset(t, 0, l4);
	put_be16(t, 5201);
	put_be16(t + 2, 40000);
	if (proto == 6) {
		t[12] = 5 << 4;
		t[13] = 0x10;
	} else {
		put_be16(t + 4, (uint16_t)l4);
	}
	for (size_t i = 0; i < plen; i++)
		t[hl + i] = (uint8_t)(i * 7 + 1);
	uint32_t ps = sum16(0, b + 8, 32) + (uint32_t)l4 + proto;
	uint16_t pseudo = sum16(ps, NULL, 0);
	put_be16(t + at, partial ? pseudo : (uint16_t)~sum16(pseudo, t, l4));
	return 40 + l4;
}

/* RFC 768 mirrored from the socket: a wrong outer UDP checksum (corruption, or a local
 * sender's unfinished offload) goes to the daemon's socket; a right one is decapsulated. */
static void udp_checksum_checked_as_the_socket_would(void **state)
{
	size_t il = seg6(inner, &client, &native, 6, 301, false);
	size_t len = udp4(mapping, 3544, inner, il);
	uint8_t *ip = pkt + 14;
	uint32_t ps = sum16(0, ip + 12, 8) + 17 + (uint32_t)(8 + il);
	put_be16(ip + 26, (uint16_t)~sum16(sum16(ps, NULL, 0), ip + 20, 8 + il));
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_REDIRECT);
	assert_memory_equal(out + 14, inner, il);
	len = udp4(mapping, 3544, inner, il);
	put_be16(ip + 26, 0x1234);
	passed_up_untouched(len, FP_IN_PASS);
}

/* A TCP segment or UDP datagram from the native side whose checksum is complete is
 * encapsulated; one that a local sender left for offload (only the pseudo-header sum)
 * goes the TUN's way, where the kernel finishes it. (The host's own sockets' packets,
 * which the IPv4 interface finishes, cannot be made here: BPF_PROG_TEST_RUN's socket is
 * no TCP one; the lab's host relay shows them: test_relay.sh.) */
static void tcp_checksum_partial_goes_to_the_tun(void **state)
{
	for (uint8_t proto = 6; proto <= 17; proto += 11) {
		eth(pkt, 0x86dd);
		size_t len = 14 + seg6(pkt + 14, &native, &client, proto, 1000, false);
		assert_int_equal(run(out_fd, len, NULL), TC_ACT_REDIRECT);
		assert_int_equal(out_len, len + 28);
		eth(pkt, 0x86dd);
		len = 14 + seg6(pkt + 14, &native, &client, proto, 1000, true);
		passed_out_untouched(len, FP_OUT_PASS);
	}
	/* An extension header: the daemon's. */
	eth(pkt, 0x86dd);
	size_t len = from_host(&native, &client, 8);
	pkt[14 + 6] = 0; /* hop-by-hop */
	passed_out_untouched(len, FP_OUT_PASS);
}

/* A relay's forwarded TCP joined by GRO on the receiving NIC is a super-packet with the
 * pseudo-header's sum in its field, as the host's own are: encapsulated whole (where the
 * kernel can), segmentation finishing each segment's sum; it used to be summed, found
 * unfinished and left to the daemon, so a relay whose NIC does GRO carried no forwarded
 * TCP in the kernel. As above, BPF_PROG_TEST_RUN cannot mark it TCP segmentation, so
 * the kernel refuses it at the encapsulation itself (counted as an error, untouched):
 * that it got there is what this shows; the lab's test_relay.sh shows it carried. A UDP
 * super-packet (GRO's fraglist among them) is still the daemon's. */
static void forwarded_gro_tcp_encapsulated_whole(void **state)
{
	struct __sk_buff gso = { .gso_segs = 2, .gso_size = 500 };
	enum fp_counter why = fastpath_gso_encap(fp) ? FP_OUT_ERR : FP_OUT_PASS;
	eth(pkt, 0x86dd);
	size_t len = 14 + seg6(pkt + 14, &native, &client, 6, 1000, true);
	uint64_t before = counter(why), passed = counter(FP_OUT_PASS);
	assert_int_equal(run(out_fd, len, &gso), TC_ACT_UNSPEC);
	assert_int_equal(out_len, len);
	assert_int_equal(counter(why), before + 1);
	if (why == FP_OUT_ERR)
		assert_int_equal(counter(FP_OUT_PASS), passed);
	eth(pkt, 0x86dd);
	len = 14 + seg6(pkt + 14, &native, &client, 17, 1000, true);
	before = counter(FP_OUT_PASS);
	assert_int_equal(run(out_fd, len, &gso), TC_ACT_UNSPEC);
	assert_int_equal(counter(FP_OUT_PASS), before + 1);
}

/* Only a field that holds the pseudo-header's sum can be an unfinished one: any other
 * is passed on as it came, as the daemon's path and every router pass it (its receiver
 * checks it), without summing the whole packet again. */
static void forwarded_checksum_passed_on_as_it_came(void **state)
{
	for (uint8_t proto = 6; proto <= 17; proto += 11) {
		eth(pkt, 0x86dd);
		size_t len = 14 + seg6(pkt + 14, &native, &client, proto, 1000, false);
		pkt[len - 1] ^= 0x5a; /* corrupt in transit: the sum no longer verifies */
		uint8_t sent[1200];
		memcpy(sent, pkt + 14, len - 14);
		assert_int_equal(run(out_fd, len, NULL), TC_ACT_REDIRECT);
		assert_int_equal(out_len, len + 28);
		assert_memory_equal(out + 14 + 28, sent, len - 14);
	}
}

/* Role 0 (not configured yet): everything passes. */
static void unconfigured_passes_everything(void **state)
{
	struct fp_config c = { 0 };
	assert_int_equal(fastpath_configure(fp, &c), 0);
	size_t il = echo6(inner, &client, &native, 64, 8);
	size_t len = udp4(mapping, 3544, inner, il);
	assert_int_equal(run(in_fd, len, NULL), TC_ACT_UNSPEC);
	assert_int_equal(run(out_fd, from_host(&native, &client, 8), NULL), TC_ACT_UNSPEC);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_bpf: needs root (BPF_PROG_TEST_RUN)\n");
		return 1;
	}
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(r11_trusted_data_decapsulated),
		T(seen_reported_once),
		T(bubbles_headers_trailers_go_to_the_daemon),
		T(r11_sources_the_core_has_not_trusted),
		T(r13_destinations_and_hop_limit),
		T(fragments_options_gro_go_to_the_daemon),
		T(other_ports_untouched),
		T(rfc6081_s5_4_random_port_peer_both_ways),
		T(rfc6081_s5_3_4_x26_sent_to_the_mapping_its_address_names),
		T(r05_trusted_peer_encapsulated),
		T(p18_outer_ecn_zeroed_inner_kept),
		T(r05_stale_or_unknown_peer_to_the_daemon),
		T(r03_sec11_sources_and_gso),
		T(trust_end_removes_the_entry),
		T(journal_reset_empties_the_map),
		T(h05_host_relay_own_addresses_only),
		T(udp_checksum_checked_as_the_socket_would),
		T(tcp_checksum_partial_goes_to_the_tun),
		T(forwarded_gro_tcp_encapsulated_whole),
		T(forwarded_checksum_passed_on_as_it_came),
		T(unconfigured_passes_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
