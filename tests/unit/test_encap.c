/* The Teredo UDP payload: RFC 4380 §5.1.1 (P-09..P-11), RFC 6081 §4 (P-14, X-03). */
#include "helpers.h"

#include "wire/wire_err.h"

/* RFC 4380 §5.1.1 (P-10): port 337 and 1.2.3.4 give 0000FEAEFEFDFCFB. */
static void rfc4380_s5_1_1_p10_origin_vector(void **state)
{
	uint8_t out[8];
	static const uint8_t want[8] = { 0x00, 0x00, 0xfe, 0xae, 0xfe, 0xfd, 0xfc, 0xfb };
	teredo_put_origin(out, EP("1.2.3.4", 337));
	assert_memory_equal(out, want, 8);
}

static size_t bubble_after(uint8_t *buf, size_t off)
{
	struct in6_addr s = A6("2001:0:c633:640a::1"), d = A6("2001:0:c633:640a::2");
	return off + make_bubble(buf + off, &s, &d);
}

static void rfc4380_s5_1_1_p09_plain_ipv6(void **state)
{
	uint8_t buf[128];
	size_t len = bubble_after(buf, 0);
	struct teredo_pkt p;
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_OK);
	assert_false(p.has_auth);
	assert_false(p.has_origin);
	assert_ptr_equal(p.ip6, buf);
	assert_int_equal(p.ip6_len, 40);
	assert_int_equal(p.trailers_len, 0);
}

static void rfc4380_s5_1_1_p09_auth_then_origin_then_ipv6(void **state)
{
	uint8_t buf[256];
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	/* An authentication header with a 3-byte ID and 2-byte AU (P-11). */
	buf[0] = 0; buf[1] = 1; buf[2] = 3; buf[3] = 2;
	memcpy(buf + 4, "abcde", 5);
	memcpy(buf + 9, nonce, 8);
	buf[17] = 7;
	teredo_put_origin(buf + 18, EP("1.2.3.4", 337));
	size_t len = bubble_after(buf, 26);
	struct teredo_pkt p;
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_OK);
	assert_true(p.has_auth);
	assert_int_equal(p.auth_id_len, 3);
	assert_int_equal(p.auth_au_len, 2);
	assert_memory_equal(p.auth_id, "abc", 3);
	assert_memory_equal(p.auth_au, "de", 2);
	assert_memory_equal(p.nonce, nonce, 8);
	assert_int_equal(p.confirmation, 7);
	assert_true(p.has_origin);
	assert_true(endpoint_eq(p.origin, EP("1.2.3.4", 337)));
	assert_ptr_equal(p.ip6, buf + 26);
}

static void rfc4380_s5_1_1_p11_nonce_only_auth(void **state)
{
	uint8_t buf[128];
	static const uint8_t nonce[8] = { 9, 9, 9, 9, 1, 2, 3, 4 };
	teredo_put_auth_nonce(buf, nonce, 0);
	size_t len = bubble_after(buf, 13);
	struct teredo_pkt p;
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_OK);
	assert_true(p.has_auth);
	assert_int_equal(p.auth_id_len + p.auth_au_len, 0);
	assert_memory_equal(p.nonce, nonce, 8);
	assert_false(p.has_origin);
}

/* RFC 6081 §4 (P-14, X-03): bytes after the IPv6 packet are trailers, kept. */
static void rfc6081_s4_x03_trailers_follow_ipv6(void **state)
{
	uint8_t buf[128];
	size_t len = bubble_after(buf, 0);
	static const uint8_t nonce_trailer[6] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef };
	memcpy(buf + len, nonce_trailer, 6);
	struct teredo_pkt p;
	assert_int_equal(teredo_parse(buf, len + 6, &p), WIRE_OK);
	assert_int_equal(p.ip6_len, 40);
	assert_int_equal(p.trailers_len, 6);
	assert_memory_equal(p.trailers, nonce_trailer, 6);
}

/* SEC-18: every length is checked against the datagram. */
static void sec18_rejections(void **state)
{
	uint8_t buf[128] = { 0 };
	struct teredo_pkt p;
	size_t len;

	assert_int_equal(teredo_parse(buf, 0, &p), WIRE_ETRUNC);
	/* Authentication header cut short, and lengths that overrun the datagram. */
	buf[0] = 0; buf[1] = 1;
	assert_int_equal(teredo_parse(buf, 3, &p), WIRE_ETRUNC);
	buf[2] = 200; buf[3] = 200;
	assert_int_equal(teredo_parse(buf, 100, &p), WIRE_EAUTH);
	buf[2] = 0; buf[3] = 0;
	assert_int_equal(teredo_parse(buf, 12, &p), WIRE_EAUTH);
	/* Origin indication cut short. */
	memset(buf, 0, 8);
	assert_int_equal(teredo_parse(buf, 7, &p), WIRE_ETRUNC);
	/* An unknown 00 xx type where the IPv6 packet should start. */
	len = bubble_after(buf, 0);
	buf[0] = 0; buf[1] = 2;
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_ETYPE);
	/* Not IPv6. */
	len = bubble_after(buf, 0);
	buf[0] = 0x45;
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_EVERSION);
	/* Payload length that lies (P-14). */
	len = bubble_after(buf, 0);
	put_be16(buf + 4, 1);
	assert_int_equal(teredo_parse(buf, len, &p), WIRE_ELENGTH);
	/* Fewer than 40 bytes of IPv6. */
	len = bubble_after(buf, 0);
	assert_int_equal(teredo_parse(buf, 39, &p), WIRE_ETRUNC);
	/* Origin indication followed by nothing. */
	teredo_put_origin(buf, EP("1.2.3.4", 1));
	assert_int_equal(teredo_parse(buf, 8, &p), WIRE_ETRUNC);
}

static void wire_strerror_covers_all(void **state)
{
	for (int e = 0; e > -WIRE_ERR_COUNT; e--)
		assert_string_not_equal(wire_strerror(e), "unknown error");
	assert_string_equal(wire_strerror(-99), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4380_s5_1_1_p10_origin_vector),
		cmocka_unit_test(rfc4380_s5_1_1_p09_plain_ipv6),
		cmocka_unit_test(rfc4380_s5_1_1_p09_auth_then_origin_then_ipv6),
		cmocka_unit_test(rfc4380_s5_1_1_p11_nonce_only_auth),
		cmocka_unit_test(rfc6081_s4_x03_trailers_follow_ipv6),
		cmocka_unit_test(sec18_rejections),
		cmocka_unit_test(wire_strerror_covers_all),
	};
	return cmocka_run_group_tests_name("encap", tests, NULL, NULL);
}
