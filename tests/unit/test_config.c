/* Configuration: Miredo's syntax and directives, errors with file and line. */
#include "helpers.h"

#include <syslog.h>

#include "conf/config.h"

static struct sw_config cfg;
static char err[512];

static int parse(const char *text)
{
	err[0] = 0;
	return config_parse(text, strlen(text), "test.conf", &cfg, err, sizeof err);
}

static void miredo_server_conf_runs_server(void **state)
{
	assert_int_equal(parse("# miredo-server.conf\nServerBindAddress 198.51.100.10\n"), 0);
	assert_int_equal(cfg.mode, MODE_SERVER);
	assert_int_equal(cfg.server_bind, A4("198.51.100.10"));
	assert_int_equal(cfg.server_bind2, A4("198.51.100.11")); /* primary + 1 */
	assert_int_equal(cfg.prefix, 0x20010000u);
	assert_int_equal(cfg.mtu, 1280);
	assert_int_equal(cfg.max_icmp_payload, 88);
}

static void miredo_server_conf_all_directives(void **state)
{
	assert_int_equal(parse("serverbindaddress\t198.51.100.10\n"
			       "ServerBindAddress2 198.51.100.20\n"
			       "Prefix 3ffe:831f::\n"
			       "InterfaceMTU 1400\n"
			       "SyslogFacility local3\n"), 0);
	assert_int_equal(cfg.server_bind2, A4("198.51.100.20"));
	assert_int_equal(cfg.prefix, 0x3ffe831fu);
	assert_int_equal(cfg.mtu, 1400);
	assert_int_equal(cfg.syslog_facility, LOG_LOCAL3);
}

static void miredo_conf_client_and_relay(void **state)
{
	assert_int_equal(parse("InterfaceName\tteredo\nServerAddress teredo.example\n"), 0);
	assert_int_equal(cfg.mode, MODE_CLIENT);
	assert_string_equal(cfg.server_address, "teredo.example");
	assert_int_equal(parse("RelayType autoclient\nServerAddress 198.51.100.10\nServerAddress2 198.51.100.20\n"
			       "BindPort 3545\nBindAddress 10.1.0.2\n"), 0);
	assert_int_equal(cfg.mode, MODE_CLIENT);
	assert_int_equal(cfg.bind_port, 3545);
	assert_int_equal(parse("RelayType cone\nPrefix 2001:0000::/32\n"), 0);
	assert_int_equal(cfg.mode, MODE_RELAY);
	assert_int_equal(cfg.bind_port, 3544); /* relays listen on 3544 by default */
	assert_int_equal(parse("RelayType restricted\n"), 0);
	assert_int_equal(cfg.mode, MODE_RELAY);
	assert_int_equal(parse("Mode host-relay\n"), 0);
	assert_int_equal(cfg.mode, MODE_HOST_RELAY);
}

static void explicit_mode(void **state)
{
	assert_int_equal(parse("Mode server\nServerBindAddress 198.51.100.10\n"), 0);
	assert_int_equal(cfg.mode, MODE_SERVER);
	assert_int_equal(parse("MODE Client\nRelayType client\nServerAddress 1.2.3.4\n"), 0);
	assert_int_equal(cfg.mode, MODE_CLIENT);
}

static void expect_error(const char *text, const char *want)
{
	assert_int_equal(parse(text), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void errors_name_file_and_line(void **state)
{
	expect_error("ServerBindAddress 198.51.100.10\n\nFrobnicate yes\n", "test.conf:3: unknown directive \"Frobnicate\"");
	expect_error("ServerBindAddress 198.51.100.300\n", "test.conf:1: ServerBindAddress: \"198.51.100.300\" is not an IPv4 address");
	expect_error("ServerBindAddress 198.51.100.10\nInterfaceMTU 100\n", "test.conf:2: InterfaceMTU");
	expect_error("ServerBindAddress 198.51.100.10\nInterfaceMTU 99999999999999999999\n", "test.conf:2: InterfaceMTU");
	expect_error("ServerBindAddress\n", "test.conf:1: ServerBindAddress needs a value");
	expect_error("ServerBindAddress 1.2.3.4 5.6.7.8\n", "test.conf:1: ServerBindAddress takes one value");
	expect_error("ServerBindAddress 1.2.3.4\nServerBindAddress 1.2.3.5\n", "test.conf:2: ServerBindAddress is already set on line 1");
	expect_error("Prefix 2001:db8::/48\nRelayType relay\n", "test.conf:1: Prefix");
	expect_error("Prefix 2001:db8:0:1::\nRelayType relay\n", "test.conf:1: Prefix");
	expect_error("RelayType banana\n", "test.conf:1: RelayType");
	expect_error("Mode router\n", "test.conf:1: Mode");
	expect_error("BindPort 0\nRelayType relay\n", "test.conf:1: BindPort");
	expect_error("SyslogFacility mail\n", "test.conf:1: SyslogFacility");
	expect_error("InterfaceName averyveryverylongname\n", "test.conf:1: InterfaceName");
}

static void contradictions_are_errors(void **state)
{
	expect_error("RelayType client\nServerBindAddress 198.51.100.10\n", "test.conf:1: RelayType and ServerBindAddress (line 2)");
	expect_error("Mode server\nRelayType cone\nServerBindAddress 1.2.3.4\n", "test.conf:2: RelayType contradicts Mode server");
	expect_error("Mode client\nRelayType relay\n", "test.conf:2: RelayType contradicts Mode client");
	expect_error("Mode server\nServerBindAddress 1.2.3.4\nServerAddress 1.2.3.5\n", "test.conf:3: ServerAddress is a client directive");
	expect_error("Mode server\n", "a server needs ServerBindAddress");
	expect_error("ServerBindAddress 1.2.3.4\nServerBindAddress2 1.2.3.4\n", "test.conf:2: ServerBindAddress2 must differ");
	expect_error("ServerBindAddress 1.2.3.4\nInterfaceName teredo\n", "test.conf:2: a server has no tunnel interface");
	expect_error("Mode client\nServerBindAddress 1.2.3.4\n", "test.conf:2: ServerBindAddress is a server directive");
	expect_error("RelayType client\n", "a client needs ServerAddress");
	expect_error("RelayType relay\nServerAddress 1.2.3.4\n", "test.conf:2: a relay has no Teredo server");
	expect_error("ServerAddress 1.2.3.4\nPrefix 2001:0::\n", "test.conf:2: a client learns its prefix");
	expect_error("ServerAddress 1.2.3.4\nClientHook hook.sh\n", "test.conf:2: ClientHook: \"hook.sh\" is not an absolute path");
	expect_error("ServerBindAddress 1.2.3.4\nClientHook /bin/true\n", "test.conf:2: ClientHook is a client directive");
	assert_int_equal(parse("ServerAddress 1.2.3.4\nClientHook /etc/miredo/client-hook\n"), 0);
	assert_string_equal(cfg.client_hook, "/etc/miredo/client-hook");
	assert_true(cfg.local_discovery); /* on by default */
	assert_int_equal(parse("ServerAddress 1.2.3.4\nLocalDiscovery no\n"), 0);
	assert_false(cfg.local_discovery);
	expect_error("ServerAddress 1.2.3.4\nLocalDiscovery maybe\n", "test.conf:2: LocalDiscovery");
	expect_error("RelayType relay\nLocalDiscovery no\n", "test.conf:2: LocalDiscovery is a client directive");
	/* Issue 11: up to four ServerAddress lines, in order; RefreshInterval (C-27). */
	assert_int_equal(parse("ServerAddress a.example\nServerAddress 1.2.3.4\nServerAddress b.example\n"), 0);
	assert_string_equal(cfg.server_address, "a.example");
	assert_int_equal(cfg.nserver_more, 2);
	assert_string_equal(cfg.server_more[1], "b.example");
	expect_error("ServerAddress a\nServerAddress b\nServerAddress c\nServerAddress d\nServerAddress e\n",
		     "test.conf:5: ServerAddress: at most 4");
	assert_int_equal(cfg.refresh_s, 30);
	assert_true(cfg.refresh_discovery);
	assert_int_equal(cfg.refresh_min_s, 10);
	assert_int_equal(parse("ServerAddress 1.2.3.4\nRefreshDiscovery no\nRefreshMinimum 3\n"), 0);
	assert_false(cfg.refresh_discovery);
	assert_int_equal(cfg.refresh_min_s, 3);
	expect_error("RelayType cone\nRefreshMinimum 3\n", "test.conf:2: RefreshMinimum is a client directive");
	/* Issue 11: Dormant mode, off by default; its idle time. */
	assert_false(cfg.dormant);
	assert_int_equal(cfg.dormant_idle_s, 600);
	assert_int_equal(parse("ServerAddress 1.2.3.4\nDormant yes\nDormantIdle 120\n"), 0);
	assert_true(cfg.dormant);
	assert_int_equal(cfg.dormant_idle_s, 120);
	expect_error("ServerAddress 1.2.3.4\nDormant maybe\n", "test.conf:2: Dormant: \"maybe\" is not yes or no");
	expect_error("ServerAddress 1.2.3.4\nDormantIdle 5\n",
		     "test.conf:2: DormantIdle: \"5\" is not a number of seconds from 10 to 86400");
	expect_error("RelayType cone\nDormant yes\n", "test.conf:2: Dormant is a client directive");
	/* Issue 10: FastPath, auto by default. */
	assert_int_equal(parse("RelayType cone\n"), 0);
	assert_int_equal(cfg.fast_path, FASTPATH_CFG_AUTO);
	assert_int_equal(parse("RelayType cone\nFastPath off\n"), 0);
	assert_int_equal(cfg.fast_path, FASTPATH_CFG_OFF);
	assert_int_equal(parse("Mode host-relay\nFastPath on\n"), 0);
	assert_int_equal(cfg.fast_path, FASTPATH_CFG_ON);
	expect_error("RelayType cone\nFastPath fast\n", "test.conf:2: FastPath: \"fast\" is not auto, on or off");
	assert_int_equal(parse("ServerBindAddress 192.0.2.1\nFastPath on\n"), 0); /* XDP */
	assert_int_equal(cfg.fast_path, FASTPATH_CFG_ON);
	/* ... and the TUN's offloads, yes by default. */
	assert_int_equal(parse("RelayType cone\n"), 0);
	assert_true(cfg.tun_offload);
	assert_int_equal(parse("ServerAddress 1.2.3.4\nTunOffload no\n"), 0);
	assert_false(cfg.tun_offload);
	expect_error("RelayType cone\nTunOffload tso\n", "test.conf:2: TunOffload: \"tso\" is not yes or no");
	/* UDP GSO rows, yes by default. */
	assert_int_equal(parse("RelayType cone\n"), 0);
	assert_true(cfg.udp_offload);
	assert_int_equal(parse("RelayType cone\nUdpOffload no\n"), 0);
	assert_false(cfg.udp_offload);
	expect_error("RelayType cone\nUdpOffload gso\n", "test.conf:2: UdpOffload: \"gso\" is not yes or no");
	assert_int_equal(parse("ServerAddress 1.2.3.4\nRefreshInterval 10\n"), 0);
	assert_int_equal(cfg.refresh_s, 10);
	expect_error("ServerAddress 1.2.3.4\nRefreshInterval 2\n", "test.conf:2: RefreshInterval: \"2\" is not a number of seconds from 5 to 300");
	/* Issue 11: Mode auto takes the client's directives and the relay's. */
	assert_int_equal(parse("Mode auto\nServerAddress 1.2.3.4\nRelayAcceptUnknown no\n"), 0);
	assert_int_equal(cfg.mode, MODE_AUTO);
	expect_error("Mode auto\n", "a client needs ServerAddress");
	expect_error("Mode auto\nServerAddress 1.2.3.4\nRelayType cone\n", "test.conf:3: RelayType contradicts Mode auto (line 1)");
	/* Issue 10 (scale): MaxPeers for clients and relays, not servers. */
	assert_int_equal(parse("RelayType cone\nMaxPeers 1000000\n"), 0);
	assert_int_equal(cfg.max_peers, 1000000);
	expect_error("RelayType cone\nMaxPeers 10\n", "test.conf:2: MaxPeers: \"10\" is not a number from 64 to 16777216");
	expect_error("ServerBindAddress 1.2.3.4\nMaxPeers 1000\n", "test.conf:2: MaxPeers: a server keeps no peers");
	/* RFC 6081 §5.3: UPnP, on by default, a client's. */
	assert_int_equal(parse("ServerAddress 1.2.3.4\n"), 0);
	assert_true(cfg.upnp);
	assert_int_equal(parse("ServerAddress 1.2.3.4\nUPnP no\n"), 0);
	assert_false(cfg.upnp);
	expect_error("ServerAddress 1.2.3.4\nUPnP sometimes\n", "test.conf:2: UPnP: \"sometimes\" is not yes or no");
	expect_error("RelayType cone\nUPnP yes\n", "test.conf:2: UPnP is a client directive");
	/* Relays may take packets from clients they never sent to; off by default. */
	assert_int_equal(parse("RelayType cone\n"), 0);
	assert_int_equal(cfg.relay_unknown_rate, 1000);
	assert_int_equal(parse("RelayType cone\nRelayAcceptUnknown yes\n"), 0);
	assert_int_equal(cfg.relay_unknown_rate, UINT32_MAX);
	assert_int_equal(parse("RelayType cone\nRelayAcceptUnknown no\n"), 0);
	assert_int_equal(cfg.relay_unknown_rate, 0);
	assert_int_equal(parse("RelayType cone\nRelayAcceptUnknown 50\n"), 0);
	assert_int_equal(cfg.relay_unknown_rate, 50);
	expect_error("RelayType cone\nRelayAcceptUnknown perhaps\n", "test.conf:2: RelayAcceptUnknown: \"perhaps\" is not yes, no or a rate");
	expect_error("ServerAddress 1.2.3.4\nRelayAcceptUnknown yes\n", "test.conf:2: RelayAcceptUnknown is a relay directive");
	/* new peers a second per native /64, 1000 by default. */
	assert_int_equal(parse("RelayType cone\n"), 0);
	assert_int_equal(cfg.relay_new_per_source, 1000);
	assert_int_equal(parse("RelayType cone\nRelayNewPeersPerSource no\n"), 0);
	assert_int_equal(cfg.relay_new_per_source, 0);
	assert_int_equal(parse("Mode host-relay\nRelayNewPeersPerSource 50\n"), 0);
	assert_int_equal(cfg.relay_new_per_source, 50);
	expect_error("RelayType cone\nRelayNewPeersPerSource 0\n", "test.conf:2: RelayNewPeersPerSource: \"0\" is not no or a rate");
	expect_error("ServerAddress 1.2.3.4\nRelayNewPeersPerSource 10\n", "test.conf:2: RelayNewPeersPerSource is a relay directive");
	expect_error("ServerBindAddress 1.2.3.4\nRelayNewPeersPerSource 10\n", "test.conf:2: RelayNewPeersPerSource is a relay directive");
	/* The control socket's group, any role (issue 5). */
	assert_int_equal(parse("ServerBindAddress 1.2.3.4\nControlGroup adm\n"), 0);
	assert_string_equal(cfg.control_group, "adm");
	assert_int_equal(parse("ServerBindAddress 1.2.3.4\n"), 0);
	assert_string_equal(cfg.control_group, "");
	expect_error("RelayType relay\nControlGroup ../adm\n", "test.conf:2: ControlGroup: \"../adm\" is not a group name");
}

static void bytes_that_do_not_belong(void **state)
{
	static const char nul[] = "ServerBindAddress 1.2.3.4\n\0junk\n";
	assert_int_equal(config_parse(nul, sizeof nul - 1, "test.conf", &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "test.conf:2: NUL byte"));
	char longline[3000];
	memset(longline, 'a', sizeof longline - 1);
	longline[sizeof longline - 1] = 0;
	expect_error(longline, "test.conf:1: line longer than");
	/* Comments, blank lines, CR-free whitespace and a missing final newline are fine. */
	assert_int_equal(parse("  # comment\n\n\t \nServerBindAddress 1.2.3.4  "), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(miredo_server_conf_runs_server),
		cmocka_unit_test(miredo_server_conf_all_directives),
		cmocka_unit_test(miredo_conf_client_and_relay),
		cmocka_unit_test(explicit_mode),
		cmocka_unit_test(errors_name_file_and_line),
		cmocka_unit_test(contradictions_are_errors),
		cmocka_unit_test(bytes_that_do_not_belong),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
