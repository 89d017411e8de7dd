/* The control socket's request grammar (issue 5: control requests are input too). */
#include "helpers.h"

#include "sys/control_req.h"
#include "sys/status_fmt.h"

static int parse(const char *s, struct control_req *r, const char **why)
{
	return control_parse(s, strlen(s), r, why);
}

static void accepts_the_requests(void **state)
{
	struct control_req r;
	const char *why;
	assert_int_equal(parse("status\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_false(r.json);
	assert_int_equal(parse("status json\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_true(r.json);
	assert_int_equal(parse("peers\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_PEERS);
	assert_false(r.json);
	assert_int_equal(parse("peers json\n", &r, &why), 0);
	assert_true(r.json);
	assert_int_equal(parse("peer 2001:0:c633:640a::1\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_PEER);
	assert_false(r.json);
	struct in6_addr a = A6("2001:0:c633:640a::1");
	assert_memory_equal(&r.addr, &a, 16);
	assert_int_equal(parse("peer 2001:db8::1 json\n", &r, &why), 0);
	assert_true(r.json);
}

static void refuses_malformed_requests(void **state)
{
	static const struct {
		const char *req, *why;
	} bad[] = {
		{ "status", "request not terminated by a newline" },
		{ "", "request not terminated by a newline" },
		{ "\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "statusx\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "stat\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "STATUS\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "status  json\n", "unknown option (the only one is \"json\")" },
		{ "status json \n", "unknown option (the only one is \"json\")" },
		{ "peers xml\n", "unknown option (the only one is \"json\")" },
		{ "status\r\n", "request holds a control or non-ASCII byte" },
		{ "sta\ttus\n", "request holds a control or non-ASCII byte" },
		{ "status\xff\n", "request holds a control or non-ASCII byte" },
		{ "status\nstatus\n", "bytes after the request line" },
		{ "status\n\n", "bytes after the request line" },
		{ "peer\n", "peer needs an IPv6 address" },
		{ "peer \n", "peer needs an IPv6 address" },
		{ "peer 10.0.0.1\n", "peer needs an IPv6 address" },
		{ "peer 2001:db8::1 xml\n", "unknown option (the only one is \"json\")" },
		{ "peer  2001:db8::1\n", "peer needs an IPv6 address" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct control_req r;
		const char *why = NULL;
		assert_int_equal(parse(bad[i].req, &r, &why), -1);
		assert_string_equal(why, bad[i].why);
	}
}

/* A NUL inside the line is a control byte, not the end of the request. */
static void refuses_embedded_nul(void **state)
{
	struct control_req r;
	const char *why;
	assert_int_equal(control_parse("status\0json\n", 12, &r, &why), -1);
	assert_string_equal(why, "request holds a control or non-ASCII byte");
}

/* The daemon reads at most CONTROL_REQ_MAX bytes; no line within them is refused. */
static void refuses_overlong_requests(void **state)
{
	char buf[CONTROL_REQ_MAX + 8];
	memset(buf, 'a', sizeof buf);
	buf[sizeof buf - 1] = '\n';
	struct control_req r;
	const char *why;
	assert_int_equal(control_parse(buf, CONTROL_REQ_MAX, &r, &why), -1);
	assert_string_equal(why, "request too long");
	assert_int_equal(control_parse(buf, sizeof buf, &r, &why), -1);
	assert_string_equal(why, "request too long");
}

/* An error answer cut to a small buffer reports what it wrote, not what it wanted to
 * (fuzz_control found status_peer returning snprintf's length). */
static void error_lines_are_cut_to_fit(void **state)
{
	char out[8];
	assert_int_equal(st_line(out, 1, "error: no such peer\n"), 0);
	assert_string_equal(out, "");
	assert_int_equal(st_line(out, sizeof out, "error: no such peer\n"), 7);
	assert_string_equal(out, "error: ");
	assert_int_equal(st_line(out, sizeof out, "ok\n"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_the_requests),
		cmocka_unit_test(refuses_malformed_requests),
		cmocka_unit_test(refuses_embedded_nul),
		cmocka_unit_test(refuses_overlong_requests),
		cmocka_unit_test(error_lines_are_cut_to_fit),
	};
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
