/* TCP segments joined before the TUN (issue 10, the fallback path; wire/tcp_gro.h): what
 * the kernel's tcp_gro_receive joins, joined; what it keeps apart, apart; a joined packet
 * that the stack (here: tcp6_gso, as the kernel's tcp_gso_segment) cuts back into the
 * very segments that came in. Checksums against frames.h's own sum. */
#include "helpers.h"
#include "frames.h"

#include "wire/tcp_gro.h"
#include "wire/tcp_gso.h"

#include <linux/virtio_net.h>

#define THL TCP6_THL
#define MSS 1208
#define NSEG 6

static uint8_t segs[NSEG + 2][40 + THL + MSS];
static size_t seglen[NSEG + 2];
static uint8_t room[TCP_GRO_MAX];
static struct tcp6_gro g;

static void seal(uint8_t *p, size_t len)
{
	put_be16(p + 56, 0);
	put_be16(p + 56, (uint16_t)~ip6_l4_sum(p, len, 40, 6));
}

/* Segment i of a flow: sequence 0xfffffa00 + i * MSS (it wraps), `pay` bytes. */
static size_t build(uint8_t *p, int i, size_t pay, uint8_t flags)
{
	struct in6_addr s = A6("2001:0:c633:640a:8000:f227:bdd8:fe8d"), d = A6("2001:db8:1::100");
	tcp6_headers(p, &s, &d, 63, 0xfffffa00u + (uint32_t)i * MSS, flags, pay);
	put_be32(p + 40 + 24, 1000); /* the timestamp's value */
	for (size_t k = 0; k < pay; k++)
		p[40 + THL + k] = (uint8_t)(i * 31 + k * 7 + 3);
	size_t len = 40 + THL + pay;
	seal(p, len);
	return len;
}

static int setup(void **state)
{
	for (int i = 0; i < NSEG; i++)
		seglen[i] = build(segs[i], i, i == NSEG - 1 ? 700 : MSS, i == NSEG - 1 ? 0x18 : 0x10);
	tcp6_gro_init(&g, room);
	return 0;
}

/* A bulk transfer's run: one super-packet with a TCPv6 GSO header that cuts back into
 * the same segments, PSH in the last only. */
static void joined_run_cuts_back_into_the_same_segments(void **state)
{
	for (int i = 0; i < NSEG; i++)
		assert_int_equal(tcp6_gro_add(&g, segs[i], seglen[i]), TCP_GRO_TAKEN);
	struct vnet_hdr h;
	size_t len = tcp6_gro_finish(&g, &h);
	assert_int_equal(len, 40 + THL + (NSEG - 1) * MSS + 700);
	assert_int_equal(get_be16(room + 4), len - 40);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(h.hdr_len, 40 + THL);
	assert_int_equal(h.gso_size, MSS);
	assert_int_equal(h.csum_start, 40);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(room[53], 0x18);
	/* The field holds the pseudo-header's sum: finished as a NIC would, it is right. */
	static uint8_t done[TCP_GRO_MAX];
	memcpy(done, room, len);
	assert_int_equal(csum_complete(done, len, h.csum_start, h.csum_offset), 0);
	assert_int_equal(ip6_l4_sum(done, len, 40, 6), 0xffff);
	struct tcp6_gso c;
	assert_int_equal(tcp6_gso_init(&c, room, len, h.csum_start, h.gso_size), 0);
	uint8_t out[40 + THL + MSS];
	long n;
	int i = 0;
	while ((n = tcp6_gso_next(&c, out, sizeof out)) > 0) {
		assert_true(i < NSEG);
		assert_int_equal(n, seglen[i]);
		assert_memory_equal(out, segs[i], (size_t)n);
		i++;
	}
	assert_int_equal(i, NSEG);
	assert_int_equal(g.segs, 0);
	assert_int_equal(tcp6_gro_finish(&g, &h), 0);
}

/* One segment alone leaves as it came, with no offload asked. */
static void one_segment_unchanged(void **state)
{
	assert_int_equal(tcp6_gro_add(&g, segs[0], seglen[0]), TCP_GRO_TAKEN);
	struct vnet_hdr h;
	assert_int_equal(tcp6_gro_finish(&g, &h), seglen[0]);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.flags, 0);
	assert_memory_equal(room, segs[0], seglen[0]);
}

/* What tcp_gro_receive keeps apart: each is either "not the next" (a candidate of its
 * own) or "never" (SYN, FIN, RST, URG, ECE, CWR, a bare ACK, a bad sum, not TCP). */
static void kept_apart_like_the_kernel(void **state)
{
	uint8_t p[40 + THL + MSS];
	size_t l;
	struct {
		int what; /* which byte to change in segment 1, -1 = sequence gap */
		uint8_t v;
		enum tcp_gro_verdict want;
	} cases[] = {
		{ -1, 0, TCP_GRO_NOT_NEXT },                /* a hole */
		{ 1, 0x0b, TCP_GRO_NOT_NEXT },              /* traffic class (ECN CE) */
		{ 7, 62, TCP_GRO_NOT_NEXT },                /* hop limit */
		{ 23, 0x11, TCP_GRO_NOT_NEXT },             /* source */
		{ 41, 0x41, TCP_GRO_NOT_NEXT },             /* source port */
		{ 51, 78, TCP_GRO_NOT_NEXT },               /* acknowledgement */
		{ 55, 0x01, TCP_GRO_NOT_NEXT },             /* window */
		{ 67, 0x01, TCP_GRO_NOT_NEXT },             /* timestamp */
		{ 53, 0x11, TCP_GRO_NEVER },                /* FIN */
		{ 53, 0x02, TCP_GRO_NEVER },                /* SYN */
		{ 53, 0x14, TCP_GRO_NEVER },                /* RST */
		{ 53, 0x30, TCP_GRO_NEVER },                /* URG */
		{ 53, 0x50, TCP_GRO_NEVER },                /* ECE */
		{ 53, 0x90, TCP_GRO_NEVER },                /* CWR */
		{ 52, 0x81, TCP_GRO_NEVER },                /* a reserved bit */
		{ 6, 17, TCP_GRO_NEVER },                   /* not TCP */
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		l = build(p, cases[k].what == -1 ? 2 : 1, MSS, 0x10);
		if (cases[k].what >= 0)
			p[cases[k].what] = cases[k].v;
		seal(p, l);
		assert_int_equal(tcp6_gro_add(&g, segs[0], seglen[0]), TCP_GRO_TAKEN);
		assert_int_equal(tcp6_gro_add(&g, p, l), cases[k].want);
		assert_int_equal(g.segs, 1);
		struct vnet_hdr h;
		assert_int_equal(tcp6_gro_finish(&g, &h), seglen[0]);
	}
	/* A bad checksum: never joined, so that the kernel sees it and drops it. */
	l = build(p, 1, MSS, 0x10);
	p[40 + THL + 5] ^= 1;
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_NEVER);
	/* A bare ACK carries nothing to join. */
	l = build(p, 1, 0, 0x10);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_NEVER);
	/* A length that disagrees with the IPv6 header. */
	l = build(p, 1, MSS, 0x10);
	assert_int_equal(tcp6_gro_add(&g, p, l - 1), TCP_GRO_NEVER);
	assert_int_equal(g.segs, 0);
}

/* After a shorter segment or a PSH nothing joins (the segment sizes must say where the
 * stack cuts); a longer one than the first never joins. */
static void short_or_push_ends_it(void **state)
{
	uint8_t p[40 + THL + MSS];
	size_t l = build(p, 1, 600, 0x10);
	assert_int_equal(tcp6_gro_add(&g, segs[0], seglen[0]), TCP_GRO_TAKEN);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_TAKEN);
	l = build(p, 1, MSS, 0x10);
	put_be32(p + 44, 0xfffffa00u + MSS + 600);
	seal(p, l);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_NOT_NEXT);
	struct vnet_hdr h;
	tcp6_gro_finish(&g, &h);
	l = build(p, 0, 600, 0x18);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_TAKEN);
	assert_int_equal(tcp6_gro_add(&g, segs[1], seglen[1]), TCP_GRO_NOT_NEXT); /* after PSH */
	tcp6_gro_finish(&g, &h);
	l = build(p, 0, 600, 0x10);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_TAKEN);
	l = build(p, 0, 700, 0x10);
	put_be32(p + 44, 0xfffffa00u + 600);
	seal(p, l);
	assert_int_equal(tcp6_gro_add(&g, p, l), TCP_GRO_NOT_NEXT); /* longer than the first */
	tcp6_gro_finish(&g, &h);
}

/* RFC 8200 §3: the payload length field bounds a super-packet at 65,535 bytes. */
static void never_beyond_the_payload_length_field(void **state)
{
	uint8_t p[40 + THL + MSS];
	int i = 0;
	enum tcp_gro_verdict r;
	do {
		size_t l = build(p, i, MSS, 0x10);
		r = tcp6_gro_add(&g, p, l);
		i++;
	} while (r == TCP_GRO_TAKEN && i < 100);
	assert_int_equal(r, TCP_GRO_NOT_NEXT);
	assert_int_equal(i - 1, (65535 - THL) / MSS);
	struct vnet_hdr h;
	size_t len = tcp6_gro_finish(&g, &h);
	assert_true(len - 40 <= 65535);
}

static void vnet_header_round_trip(void **state)
{
	struct vnet_hdr a = { 1, 4, 72, 1208, 40, 16 }, b;
	uint8_t raw[VNET_HDR_LEN];
	vnet_hdr_put(raw, &a);
	vnet_hdr_get(raw, &b);
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(raw[4], 0xb8);
	assert_int_equal(raw[5], 4);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(joined_run_cuts_back_into_the_same_segments),
		T(one_segment_unchanged),
		T(kept_apart_like_the_kernel),
		T(short_or_push_ends_it),
		T(never_beyond_the_payload_length_field),
		T(vnet_header_round_trip),
	};
	return cmocka_run_group_tests_name("tcp_gro", tests, NULL, NULL);
}
