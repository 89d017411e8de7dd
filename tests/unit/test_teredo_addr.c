/* Teredo address layout: RFC 4380 §4 (P-01) and the RFC 5991 §3.1 flags (P-02). */
#include "helpers.h"

/* The classic example of a Microsoft server address: server 65.54.227.120, cone flag,
 * mapped port 40000, mapped IPv4 192.0.2.45. */
static void rfc4380_s4_p01_decode_example(void **state)
{
	struct in6_addr a = A6("2001:0000:4136:e378:8000:63bf:3fff:fdd2");
	struct teredo_addr t;
	assert_true(teredo_addr_has_prefix(&a, TEREDO_PREFIX_DEFAULT));
	teredo_addr_decode(&a, &t);
	assert_int_equal(t.prefix, 0x20010000u);
	assert_int_equal(t.server, A4("65.54.227.120"));
	assert_int_equal(t.flags, TEREDO_FLAG_CONE);
	assert_int_equal(ntohs(t.mapped.port), 40000);
	assert_int_equal(t.mapped.ip, A4("192.0.2.45"));
}

static void rfc4380_s4_p01_encode_round_trip(void **state)
{
	struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = A4("65.54.227.120"),
				 .flags = 0x8000, .mapped = EP("192.0.2.45", 40000) };
	struct in6_addr a, want = A6("2001:0:4136:e378:8000:63bf:3fff:fdd2");
	teredo_addr_encode(&t, &a);
	assert_memory_equal(&a, &want, 16);
	struct teredo_addr back;
	teredo_addr_decode(&a, &back);
	assert_int_equal(back.prefix, t.prefix);
	assert_int_equal(back.server, t.server);
	assert_int_equal(back.flags, t.flags);
	assert_true(endpoint_eq(back.mapped, t.mapped));
}

/* RFC 5991 §3.1 (P-02): C z R R R R U G R R R R R R R R. The random bits are 0x3cff;
 * C, z, U and G stay out of the random mask. */
static void rfc5991_s3_1_p02_random_mask(void **state)
{
	assert_int_equal(TEREDO_FLAG_RANDOM_MASK, 0x3cff);
	assert_int_equal(teredo_flags_random(0xffff), 0x3cff);
	assert_int_equal(teredo_flags_random(0x0000), 0x0000);
	assert_int_equal(teredo_flags_random(0xc300) & (TEREDO_FLAG_CONE | TEREDO_FLAG_RESERVED |
							TEREDO_FLAG_UNIVERSAL | TEREDO_FLAG_GROUP), 0);
}

/* RFC 5991 examples: an address with random bits decodes to the same server and mapping
 * as one without (P-04: receivers never reject an address for its flag bits). */
static void rfc5991_s3_2_p04_random_bits_do_not_change_mapping(void **state)
{
	static const char *const addrs[] = {
		"2001:0:c633:640a:0:4d7a:39cc:9bea",    /* no random bits */
		"2001:0:c633:640a:3cff:4d7a:39cc:9bea", /* all random bits set */
		"2001:0:c633:640a:2470:4d7a:39cc:9bea", /* as a Miredo client drew them */
	};
	for (size_t i = 0; i < 3; i++) {
		struct in6_addr a = A6(addrs[i]);
		struct teredo_addr t;
		teredo_addr_decode(&a, &t);
		assert_int_equal(t.server, A4("198.51.100.10"));
		assert_int_equal(t.mapped.ip, A4("198.51.100.21"));
		assert_int_equal(ntohs(t.mapped.port), 0xffff ^ 0x4d7a);
		assert_int_equal(t.flags & TEREDO_FLAG_CONE, 0);
	}
}

static void rfc4380_s2_6_prefix_check(void **state)
{
	struct in6_addr t = A6("2001:0:1:2::"), n = A6("2001:db8::1"), o = A6("2002::1");
	assert_true(teredo_addr_has_prefix(&t, TEREDO_PREFIX_DEFAULT));
	assert_false(teredo_addr_has_prefix(&n, TEREDO_PREFIX_DEFAULT));
	assert_false(teredo_addr_has_prefix(&o, TEREDO_PREFIX_DEFAULT));
	/* A configured prefix (the Prefix directive) is honoured. */
	struct in6_addr p = A6("3ffe:831f::1");
	assert_true(teredo_addr_has_prefix(&p, 0x3ffe831fu));
}

/* RFC 4380 §5.3.2 (P-07): fe80::8000:f227:~server. */
static void rfc4380_s5_3_2_p07_server_link_local(void **state)
{
	struct in6_addr a, want = A6("fe80::8000:f227:39cc:9bf5");
	teredo_server_link_local(A4("198.51.100.10"), &a);
	assert_memory_equal(&a, &want, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4380_s4_p01_decode_example),
		cmocka_unit_test(rfc4380_s4_p01_encode_round_trip),
		cmocka_unit_test(rfc5991_s3_1_p02_random_mask),
		cmocka_unit_test(rfc5991_s3_2_p04_random_bits_do_not_change_mapping),
		cmocka_unit_test(rfc4380_s2_6_prefix_check),
		cmocka_unit_test(rfc4380_s5_3_2_p07_server_link_local),
	};
	return cmocka_run_group_tests_name("teredo_addr", tests, NULL, NULL);
}
