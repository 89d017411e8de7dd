/* The TUN offloads (issue 10, the fallback path): a super-packet cut as the kernel's
 * tcp_gso_segment cuts it, a partial checksum finished as a NIC finishes it. Checked
 * against frames.h's own sum, not the code under test's. */
#include "helpers.h"
#include "frames.h"

#include "wire/tcp_gso.h"

#define THL TCP6_THL
#define PAY 5000
#define MSS 1208

static uint8_t super[40 + THL + PAY];

static size_t build_super(uint8_t flags)
{
	struct in6_addr s = A6("2001:db8:1::10"), d = A6("2001:0:c633:640a:8000:f227:bdd8:fe8d");
	memset(super, 0, sizeof super);
	tcp6_headers(super, &s, &d, 64, 0xfffff000, flags, PAY); /* the sequence wraps within the packet */
	put_be16(super + 40 + 16, 0xbeef); /* the kernel's seed; every segment gets its own sum */
	for (int i = 0; i < PAY; i++)
		super[40 + THL + i] = (uint8_t)(i * 7 + 3);
	return sizeof super;
}

static void tso6_segments_like_tcp_gso_segment(void **state)
{
	size_t len = build_super(0x80 | 0x10 | 0x08 | 0x01); /* CWR ACK PSH FIN */
	struct tcp6_gso g;
	assert_int_equal(tcp6_gso_init(&g, super, len, 40, MSS), 0);
	uint8_t seg[40 + THL + MSS], data[PAY];
	size_t got = 0;
	int n = 0;
	long l;
	while ((l = tcp6_gso_next(&g, seg, sizeof seg)) > 0) {
		size_t pay = (size_t)l - 40 - THL;
		bool last = got + pay == PAY;
		assert_true(pay == MSS || last);
		assert_memory_equal(seg, super, 4);             /* version, class, flow label */
		assert_int_equal(get_be16(seg + 4), THL + pay); /* RFC 8200 §3 payload length */
		assert_memory_equal(seg + 6, super + 6, 34);    /* next header, hops, addresses */
		assert_int_equal(get_be32(seg + 44), (uint32_t)(0xfffff000u + got));
		assert_memory_equal(seg + 48, super + 48, 4);   /* acknowledgment */
		assert_int_equal(seg[53], (n == 0 ? 0x80 : 0) | 0x10 | (last ? 0x09 : 0));
		assert_memory_equal(seg + 54, super + 54, 2);   /* window */
		assert_memory_equal(seg + 58, super + 58, THL - 18); /* options */
		assert_int_equal(ip6_l4_sum(seg, (size_t)l, 40, 6), 0xffff);
		memcpy(data + got, seg + 40 + THL, pay);
		got += pay;
		n++;
	}
	assert_int_equal(l, 0);
	assert_int_equal(n, (PAY + MSS - 1) / MSS);
	assert_int_equal(got, PAY);
	assert_memory_equal(data, super + 40 + THL, PAY);
	assert_int_equal(tcp6_gso_next(&g, seg, sizeof seg), 0);
}

/* An extension header before TCP: the headers repeated are all of them, up to csum_start
 * + the TCP header, and the sum covers TCP only (RFC 8200 §8.1). */
static void tso6_after_an_extension_header(void **state)
{
	static uint8_t p[40 + 8 + THL + 3000];
	build_super(0x10);
	memcpy(p, super, 40);
	p[6] = 0; /* hop-by-hop options, 8 bytes of PadN, then TCP */
	p[40] = 6;
	p[42] = 1;
	p[43] = 4;
	memcpy(p + 48, super + 40, THL + 3000);
	put_be16(p + 4, 8 + THL + 3000);
	struct tcp6_gso g;
	assert_int_equal(tcp6_gso_init(&g, p, sizeof p, 48, 1000), 0);
	uint8_t seg[2000];
	for (int i = 0; i < 3; i++) {
		long l = tcp6_gso_next(&g, seg, sizeof seg);
		assert_int_equal(l, 48 + THL + 1000);
		assert_memory_equal(seg + 40, p + 40, 8);
		assert_int_equal(ip6_l4_sum(seg, (size_t)l, 48, 6), 0xffff);
	}
	assert_int_equal(tcp6_gso_next(&g, seg, sizeof seg), 0);
}

static void tso6_refuses_what_it_cannot_cut(void **state)
{
	struct tcp6_gso g;
	size_t len = build_super(0x10);
	assert_int_equal(tcp6_gso_init(&g, super, 39, 40, MSS), -1);       /* no IPv6 header */
	super[0] = 0x45;
	assert_int_equal(tcp6_gso_init(&g, super, len, 40, MSS), -1);      /* not IPv6 */
	build_super(0x10);
	assert_int_equal(tcp6_gso_init(&g, super, len - 1, 40, MSS), -1);  /* length disagrees */
	assert_int_equal(tcp6_gso_init(&g, super, len, 20, MSS), -1);      /* TCP inside IPv6's header */
	assert_int_equal(tcp6_gso_init(&g, super, len, len - 10, MSS), -1); /* no room for TCP */
	assert_int_equal(tcp6_gso_init(&g, super, len, 40, 0), -1);        /* mss 0 */
	super[52] = 4 << 4;
	assert_int_equal(tcp6_gso_init(&g, super, len, 40, MSS), -1);      /* data offset < 5 */
	super[52] = 15 << 4;
	put_be16(super + 4, 60);
	assert_int_equal(tcp6_gso_init(&g, super, 100, 40, MSS), -1);      /* headers only */
	build_super(0x10);
	assert_int_equal(tcp6_gso_init(&g, super, len, 40, MSS), 0);
	uint8_t small[40 + THL + MSS - 1];
	assert_int_equal(tcp6_gso_next(&g, small, sizeof small), -1);      /* no room to cut into */
}

/* VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the pseudo-header's sum, the rest is ours. */
static void needs_csum_completed_like_a_nic(void **state)
{
	uint8_t p[40 + 8 + 33];
	struct in6_addr s = A6("2001:0:c633:640a:8000:f227:bdd8:fe8d"), d = A6("2001:db8:1::10");
	memset(p, 0, sizeof p);
	p[0] = 0x60;
	put_be16(p + 4, 41);
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, &s, 16);
	memcpy(p + 24, &d, 16);
	put_be16(p + 40, 53000);
	put_be16(p + 42, 53);
	put_be16(p + 44, 41);
	for (int i = 0; i < 33; i++)
		p[48 + i] = (uint8_t)(0xf0 + i);
	uint8_t ph[40];
	memcpy(ph, p + 8, 32);
	put_be32(ph + 32, 41);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = 17;
	put_be16(p + 46, ones_sum(ph, 40, 0)); /* what the kernel seeds (not complemented) */
	assert_int_equal(csum_complete(p, sizeof p, 40, 6), 0);
	assert_int_equal(ip6_l4_sum(p, sizeof p, 40, 17), 0xffff);
	assert_int_equal(csum_complete(p, sizeof p, sizeof p + 1, 0), -1);
	assert_int_equal(csum_complete(p, sizeof p, 40, 41), -1);
	assert_int_equal(csum_complete(p, sizeof p, sizeof p - 1, 0), -1);
	assert_int_equal(csum_complete(p, sizeof p, 40, 0xffff), -1);
}

static void vnet_header_is_little_endian(void **state)
{
	const uint8_t b[VNET_HDR_LEN] = { 1, 4, 0x48, 0, 0xb8, 4, 40, 0, 16, 0 };
	struct vnet_hdr h;
	vnet_hdr_get(b, &h);
	assert_int_equal(h.flags, 1);
	assert_int_equal(h.gso_type, 4);
	assert_int_equal(h.hdr_len, 72);
	assert_int_equal(h.gso_size, 1208);
	assert_int_equal(h.csum_start, 40);
	assert_int_equal(h.csum_offset, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tso6_segments_like_tcp_gso_segment),
		cmocka_unit_test(tso6_after_an_extension_header),
		cmocka_unit_test(tso6_refuses_what_it_cannot_cut),
		cmocka_unit_test(needs_csum_completed_like_a_nic),
		cmocka_unit_test(vnet_header_is_little_endian),
	};
	return cmocka_run_group_tests_name("tcp_gso", tests, NULL, NULL);
}
