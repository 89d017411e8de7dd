/* RS, RA and echo: RFC 4861 §4.1, §4.2, §6.1 (P-19..P-21), RFC 4443 §4 (P-22). */
#include "helpers.h"

#include "wire/wire_err.h"

static const struct in6_addr *client_ll(void)
{
	static struct in6_addr a;
	a = A6("fe80::ffff:ffff:fffe");
	return &a;
}

static void rfc4861_s6_1_1_p19_valid_rs(void **state)
{
	uint8_t buf[128];
	size_t len = make_rs(buf, client_ll(), NULL);
	assert_int_equal(icmp6_check_rs(buf, len), WIRE_OK);
	assert_int_equal(icmp6_type(buf, len), ICMP6_RS);
}

static void rfc4861_s6_1_1_p19_invalid_rs(void **state)
{
	uint8_t buf[128];
	size_t len;

	len = make_rs(buf, client_ll(), NULL);
	buf[7] = 64; /* hop limit must be 255 */
	assert_int_equal(icmp6_check_rs(buf, len), WIRE_EICMP);

	len = make_rs(buf, client_ll(), NULL);
	buf[42] ^= 1; /* checksum */
	assert_int_equal(icmp6_check_rs(buf, len), WIRE_ECHECKSUM);

	len = make_rs(buf, client_ll(), NULL);
	buf[41] = 1; /* code must be 0 (checksum fails first if not fixed) */
	put_be16(buf + 42, 0);
	{
		struct in6_addr s, d;
		ip6_src(buf, &s);
		ip6_dst(buf, &d);
		put_be16(buf + 42, icmp6_checksum(&s, &d, buf + 40, 8));
	}
	assert_int_equal(icmp6_check_rs(buf, len), WIRE_EICMP);

	/* A zero-length option. */
	len = make_rs(buf, client_ll(), NULL);
	put_be16(buf + 4, 16);
	memset(buf + 48, 0, 8);
	buf[48] = 1;
	{
		struct in6_addr s, d;
		ip6_src(buf, &s);
		ip6_dst(buf, &d);
		put_be16(buf + 42, 0);
		put_be16(buf + 42, icmp6_checksum(&s, &d, buf + 40, 16));
	}
	assert_int_equal(icmp6_check_rs(buf, 56), WIRE_EICMP);

	/* Too short to be an RS. */
	len = make_rs(buf, client_ll(), NULL);
	put_be16(buf + 4, 4);
	assert_int_equal(icmp6_check_rs(buf, 44), WIRE_EICMP);
	/* Not ICMPv6 at all. */
	len = make_bubble(buf, client_ll(), client_ll());
	assert_int_equal(icmp6_type(buf, len), -1);
	assert_int_equal(icmp6_check_rs(buf, len), WIRE_EICMP);
}

static void rfc4380_s5_3_2_s16_ra_round_trip(void **state)
{
	uint8_t buf[TEREDO_RA_LEN];
	struct ra_params p = { .dst = *client_ll(), .mtu = 1280 };
	teredo_server_link_local(A4("198.51.100.10"), &p.src);
	p.prefix = A6("2001:0:c633:640a::");
	assert_int_equal(ra_build(buf, &p), TEREDO_RA_LEN);
	assert_int_equal(ip6_hlim(buf), 255);
	struct ra_info ri;
	assert_int_equal(ra_parse(buf, sizeof buf, &ri), WIRE_OK);
	assert_memory_equal(&ri.prefix, &p.prefix, 16);
	assert_int_equal(ri.prefix_len, 64);
	assert_int_equal(ri.mtu, 1280);
	assert_memory_equal(&ri.dst, client_ll(), 16);
	/* I-04: router lifetime 0, retrans timer 2000 ms, PIO with A and infinite lifetimes. */
	assert_int_equal(get_be16(buf + 40 + 6), 0);
	assert_int_equal(get_be32(buf + 40 + 12), 2000);
	assert_int_equal(buf[40 + 16 + 3], 0x40);
	assert_int_equal(get_be32(buf + 40 + 16 + 4), 0xffffffffu);
}

/* RFC 4861 §6.1.2 (P-20) and RFC 4380 §5.2.1 (C-14) on the client side. */
static void rfc4861_s6_1_2_p20_ra_rejections(void **state)
{
	uint8_t buf[TEREDO_RA_LEN + 32];
	struct ra_params p = { .dst = *client_ll(), .mtu = 1280 };
	struct ra_info ri;
	p.prefix = A6("2001:0:c633:640a::");

	p.src = A6("2001:db8::1"); /* not link-local */
	ra_build(buf, &p);
	assert_int_equal(ra_parse(buf, TEREDO_RA_LEN, &ri), WIRE_EICMP);

	teredo_server_link_local(A4("198.51.100.10"), &p.src);
	ra_build(buf, &p);
	buf[7] = 254;
	assert_int_equal(ra_parse(buf, TEREDO_RA_LEN, &ri), WIRE_EICMP);

	ra_build(buf, &p);
	buf[60] ^= 0xff; /* corrupt the prefix: checksum fails */
	assert_int_equal(ra_parse(buf, TEREDO_RA_LEN, &ri), WIRE_ECHECKSUM);

	/* Two Prefix Information options. */
	ra_build(buf, &p);
	memcpy(buf + TEREDO_RA_LEN, buf + 56, 32);
	put_be16(buf + 4, (uint16_t)(TEREDO_RA_LEN + 32 - 40));
	put_be16(buf + 42, 0);
	put_be16(buf + 42, icmp6_checksum(&p.src, &p.dst, buf + 40, TEREDO_RA_LEN + 32 - 40));
	assert_int_equal(ra_parse(buf, TEREDO_RA_LEN + 32, &ri), WIRE_EICMP);

	/* An option whose length runs past the message. */
	ra_build(buf, &p);
	buf[56 + 1] = 9;
	put_be16(buf + 42, 0);
	put_be16(buf + 42, icmp6_checksum(&p.src, &p.dst, buf + 40, TEREDO_RA_LEN - 40));
	assert_int_equal(ra_parse(buf, TEREDO_RA_LEN, &ri), WIRE_EICMP);
}

static void rfc4443_s4_p22_echo_checksum(void **state)
{
	uint8_t buf[128];
	struct in6_addr s = A6("2001:0:c633:640a::1"), d = A6("2001:db8:1::100");
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t len = icmp6_build_echo(buf, sizeof buf, ICMP6_ECHO_REQ, 64, &s, &d, 7, 9, nonce, 8);
	assert_int_equal(len, 56);
	assert_int_equal(icmp6_checksum(&s, &d, buf + 40, 16), 0);
	assert_int_equal(icmp6_type(buf, len), ICMP6_ECHO_REQ);
	assert_memory_equal(buf + 48, nonce, 8);
	assert_int_equal(icmp6_build_echo(buf, 50, ICMP6_ECHO_REQ, 64, &s, &d, 7, 9, nonce, 8), 0);
}

static void rfc4380_s2_8_p13_bubble(void **state)
{
	uint8_t buf[40];
	struct in6_addr s = A6("2001:0:c633:640a::1"), d = A6("2001:0:c633:640a::2");
	assert_int_equal(bubble_build(buf, &s, &d), 40);
	assert_true(ip6_is_bubble(buf, 40));
	assert_int_equal(ip6_plen(buf), 0);
	assert_int_equal(ip6_nh(buf), 59);
}

static void rfc4380_s5_3_1_s11_scope(void **state)
{
	struct in6_addr g = A6("2001:db8::1"), ll = A6("fe80::1"), mc = A6("ff02::1"),
			gmc = A6("ff0e::1"), lo = A6("::1"), un = A6("::"), sl = A6("fec0::1");
	assert_true(in6_is_global_scope(&g));
	assert_false(in6_is_global_scope(&ll));
	assert_false(in6_is_global_scope(&mc));
	assert_true(in6_is_global_scope(&gmc));
	assert_false(in6_is_global_scope(&lo));
	assert_false(in6_is_global_scope(&un));
	assert_false(in6_is_global_scope(&sl));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4861_s6_1_1_p19_valid_rs),
		cmocka_unit_test(rfc4861_s6_1_1_p19_invalid_rs),
		cmocka_unit_test(rfc4380_s5_3_2_s16_ra_round_trip),
		cmocka_unit_test(rfc4861_s6_1_2_p20_ra_rejections),
		cmocka_unit_test(rfc4443_s4_p22_echo_checksum),
		cmocka_unit_test(rfc4380_s2_8_p13_bubble),
		cmocka_unit_test(rfc4380_s5_3_1_s11_scope),
	};
	return cmocka_run_group_tests_name("icmpv6", tests, NULL, NULL);
}
