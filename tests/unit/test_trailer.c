/* RFC 6081 §4 trailers and their processing rules (§5.1.2). */
#include "helpers.h"

#include "wire/trailer.h"
#include "wire/wire_err.h"

/* every trailer type round-trips through its writer and the parser, in order. */
static void rfc6081_s4_x04_all_trailers_round_trip(void **state)
{
	uint8_t buf[128];
	size_t n = 0;
	static const uint8_t nonce[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct sw_endpoint alt[2] = { EP("10.1.0.2", 3544), EP("198.51.100.21", 40000) };
	n += trailer_put_nonce(buf + n, nonce);
	n += trailer_put_random_port(buf + n, htons(50000));
	n += trailer_put_nd(buf + n, TRAILER_ND_SOLICITATION);
	n += trailer_put_alt(buf + n, alt, 2);
	assert_int_equal(n, 6 + 4 + 6 + 16);
	struct teredo_trailers t;
	assert_int_equal(teredo_trailers_parse(buf, n, &t), WIRE_OK);
	assert_true(t.has_nonce && t.has_random_port && t.has_nd && t.has_alt);
	assert_memory_equal(t.nonce, nonce, 4);
	assert_int_equal(t.random_port, htons(50000));
	assert_int_equal(t.nd_type, TRAILER_ND_SOLICITATION);
	assert_int_equal(t.nalt, 2);
	assert_true(endpoint_eq(t.alt[0], alt[0]) && endpoint_eq(t.alt[1], alt[1]));
	assert_false(t.malformed);
	assert_int_equal(t.unknown + t.invalid, 0);
}

/* RFC 6081 §4.1, §5.1.2: unknown types 00, 10 and 11 are skipped, 01 discards. */
static void rfc6081_s5_1_2_unknown_trailer_skip_or_discard(void **state)
{
	struct teredo_trailers t;
	static const uint8_t nonce[4] = { 1, 2, 3, 4 };
	uint8_t buf[32];
	for (unsigned hi = 0; hi < 4; hi++) {
		buf[0] = (uint8_t)(hi << 6 | 0x2a);
		buf[1] = 3;
		buf[2] = buf[3] = buf[4] = 0;
		size_t n = 5 + trailer_put_nonce(buf + 5, nonce);
		int r = teredo_trailers_parse(buf, n, &t);
		if (hi == 1) {
			assert_int_equal(r, WIRE_ETRAILER);
		} else {
			assert_int_equal(r, WIRE_OK);
			assert_int_equal(t.unknown, 1);
			assert_true(t.has_nonce); /* processing went on past it */
		}
	}
}

/* RFC 6081 §5.1.2: a malformed trailer stops processing; what came before counts, the
 * packet is kept. */
static void rfc6081_s5_1_2_malformed_stops_processing(void **state)
{
	struct teredo_trailers t;
	static const uint8_t nonce[4] = { 1, 2, 3, 4 };
	uint8_t buf[32];
	size_t n = trailer_put_nonce(buf, nonce);
	buf[n++] = TRAILER_RANDOM_PORT;
	buf[n++] = 9; /* overruns */
	buf[n++] = 0;
	assert_int_equal(teredo_trailers_parse(buf, n, &t), WIRE_OK);
	assert_true(t.malformed);
	assert_true(t.has_nonce);
	assert_false(t.has_random_port);
	/* One lone byte is malformed too. */
	assert_int_equal(teredo_trailers_parse(buf, 1, &t), WIRE_OK);
	assert_true(t.malformed);
	/* Nothing at all is no trailer. */
	assert_int_equal(teredo_trailers_parse(buf, 0, &t), WIRE_OK);
	assert_false(t.malformed);
}

/* §4.2-§4.5 with: known trailers with a wrong length or contents are not
 * used (counted as invalid); processing goes on. */
static void rfc6081_s4_x55_invalid_known_trailers_ignored(void **state)
{
	struct teredo_trailers t;
	uint8_t buf[64];
	size_t n = 0;
	buf[n++] = TRAILER_NONCE; buf[n++] = 3; n += 3;               /* wrong length */
	buf[n++] = TRAILER_ALT_ADDRESS; buf[n++] = 10; n += 10;       /* not 2 + 6k */
	struct sw_endpoint bad = { .ip = A4("224.0.0.1"), .port = htons(1) };
	n += trailer_put_alt(buf + n, &bad, 1);                       /* multicast */
	struct sw_endpoint zero_port = { .ip = A4("198.51.100.1"), .port = 0 };
	n += trailer_put_alt(buf + n, &zero_port, 1);                 /* port 0 */
	n += trailer_put_nd(buf + n, 7);                              /* no such type */
	n += trailer_put_random_port(buf + n, 0);                     /* port 0 */
	assert_int_equal(teredo_trailers_parse(buf, n, &t), WIRE_OK);
	assert_int_equal(t.invalid, 6);
	assert_false(t.has_nonce || t.has_alt || t.has_nd || t.has_random_port);
	assert_false(t.malformed);
}

/* X-03 with P-14: teredo_parse leaves the bytes after the IPv6 packet as trailers. */
static void rfc6081_s3_x03_trailers_follow_ipv6(void **state)
{
	uint8_t buf[128];
	struct in6_addr s = A6("2001:0:c633:640a::1"), d = A6("2001:0:c633:640a::2");
	size_t n = make_bubble(buf, &s, &d);
	static const uint8_t nonce[4] = { 9, 9, 9, 9 };
	n += trailer_put_nonce(buf + n, nonce);
	struct teredo_pkt p;
	assert_int_equal(teredo_parse(buf, n, &p), WIRE_OK);
	assert_int_equal(p.trailers_len, 6);
	struct teredo_trailers t;
	assert_int_equal(teredo_trailers_parse(p.trailers, p.trailers_len, &t), WIRE_OK);
	assert_true(t.has_nonce);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc6081_s4_x04_all_trailers_round_trip),
		cmocka_unit_test(rfc6081_s5_1_2_unknown_trailer_skip_or_discard),
		cmocka_unit_test(rfc6081_s5_1_2_malformed_stops_processing),
		cmocka_unit_test(rfc6081_s4_x55_invalid_known_trailers_ignored),
		cmocka_unit_test(rfc6081_s3_x03_trailers_follow_ipv6),
	};
	return cmocka_run_group_tests_name("trailer", tests, NULL, NULL);
}
