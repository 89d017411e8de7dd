/* RFC 4380 §5.2.4 (P-08): the global unicast test. */
#include "helpers.h"

#include "wire/ipv4.h"

static void rfc4380_s5_2_4_p08_not_global(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "127.0.0.1", "169.254.1.1",
		"172.16.0.1", "172.31.255.255", "192.88.99.1", "192.168.1.1", "224.0.0.253",
		"239.1.1.1", "255.255.255.255",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(ipv4_is_global_unicast(A4(bad[i])));
}

static void rfc4380_s5_2_4_p08_global(void **state)
{
	/* The lab's documentation ranges must count as global (CHECKLIST P-08 note). */
	static const char *const good[] = {
		"198.51.100.10", "203.0.113.1", "192.0.2.45", "8.8.8.8", "172.15.255.255",
		"172.32.0.1", "192.88.98.1", "223.255.255.254", "100.64.0.1",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(ipv4_is_global_unicast(A4(good[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4380_s5_2_4_p08_not_global),
		cmocka_unit_test(rfc4380_s5_2_4_p08_global),
	};
	return cmocka_run_group_tests_name("ipv4", tests, NULL, NULL);
}
