#include "conf/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "wire/teredo_addr.h"

enum directive {
	D_MODE, D_RELAYTYPE, D_SERVERADDRESS, D_SERVERADDRESS2, D_SERVERBINDADDRESS,
	D_SERVERBINDADDRESS2, D_PREFIX, D_INTERFACEMTU, D_INTERFACENAME, D_BINDADDRESS,
	D_BINDPORT, D_SYSLOGFACILITY, D_SERVERMAXICMP, D_SERVERMAXRS, D_CLIENTHOOK, D_LOCALDISCOVERY, D_CONTROLGROUP, D_RELAYACCEPTUNKNOWN,
	D_SYMMETRICNAT, D_LOADREDUCTION, D_HAIRPINNING, D_PORTPRESERVING, D_SEQUENTIAL, D_UPNP, D_REFRESH, D_REFRESHDISC, D_REFRESHMIN, D_MAXPEERS, D_DORMANT, D_DORMANTIDLE, D_FASTPATH, D_TUNOFFLOAD, D_UDPOFFLOAD, D_RELAYNEWPEERS, D__COUNT
};

static const char *const directive_names[D__COUNT] = {
	[D_MODE] = "Mode",
	[D_RELAYTYPE] = "RelayType",
	[D_SERVERADDRESS] = "ServerAddress",
	[D_SERVERADDRESS2] = "ServerAddress2",
	[D_SERVERBINDADDRESS] = "ServerBindAddress",
	[D_SERVERBINDADDRESS2] = "ServerBindAddress2",
	[D_PREFIX] = "Prefix",
	[D_INTERFACEMTU] = "InterfaceMTU",
	[D_INTERFACENAME] = "InterfaceName",
	[D_BINDADDRESS] = "BindAddress",
	[D_BINDPORT] = "BindPort",
	[D_SYSLOGFACILITY] = "SyslogFacility",
	[D_SERVERMAXICMP] = "ServerMaxICMPv6Payload",
	[D_SERVERMAXRS] = "ServerMaxRSRate",
	[D_CLIENTHOOK] = "ClientHook",
	[D_LOCALDISCOVERY] = "LocalDiscovery",
	[D_CONTROLGROUP] = "ControlGroup",
	[D_RELAYACCEPTUNKNOWN] = "RelayAcceptUnknown",
	[D_RELAYNEWPEERS] = "RelayNewPeersPerSource",
	[D_SYMMETRICNAT] = "SymmetricNATSupport",
	[D_LOADREDUCTION] = "ServerLoadReduction",
	[D_HAIRPINNING] = "Hairpinning",
	[D_PORTPRESERVING] = "PortPreservingNAT",
	[D_SEQUENTIAL] = "SequentialPortNAT",
	[D_UPNP] = "UPnP",
	[D_REFRESH] = "RefreshInterval",
	[D_REFRESHDISC] = "RefreshDiscovery",
	[D_REFRESHMIN] = "RefreshMinimum",
	[D_MAXPEERS] = "MaxPeers",
	[D_DORMANT] = "Dormant",
	[D_DORMANTIDLE] = "DormantIdle",
	[D_FASTPATH] = "FastPath",
	[D_TUNOFFLOAD] = "TunOffload",
	[D_UDPOFFLOAD] = "UdpOffload",
};

const char *config_mode_name(enum sw_mode m)
{
	switch (m) {
	case MODE_CLIENT: return "client";
	case MODE_SERVER: return "server";
	case MODE_RELAY: return "relay";
	case MODE_HOST_RELAY: return "host-relay";
	case MODE_AUTO: return "auto";
	default: return "unset";
	}
}

static int fail(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(err, errlen, "%s: %s", file, msg);
	return -1;
}

static bool parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Miredo writes the prefix as an address ("2001:0000::") with an optional /32. */
static bool parse_prefix(const char *s, uint32_t *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (strcmp(slash + 1, "32"))
			return false;
	}
	struct in6_addr a;
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return false;
	for (int i = 4; i < 16; i++)
		if (a.s6_addr[i])
			return false;
	*out = (uint32_t)a.s6_addr[0] << 24 | (uint32_t)a.s6_addr[1] << 16 |
	       (uint32_t)a.s6_addr[2] << 8 | a.s6_addr[3];
	return true;
}

static const struct { const char *name; int value; } facilities[] = {
	{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ "kern", LOG_KERN }, { "user", LOG_USER },
};

static int set_directive(struct sw_config *c, enum directive d, const char *v,
			 const char *file, int line, char *err, size_t errlen)
{
	unsigned long n;
	switch (d) {
	case D_MODE:
		if (!strcasecmp(v, "client")) c->mode = MODE_CLIENT;
		else if (!strcasecmp(v, "server")) c->mode = MODE_SERVER;
		else if (!strcasecmp(v, "relay")) c->mode = MODE_RELAY;
		else if (!strcasecmp(v, "host-relay")) c->mode = MODE_HOST_RELAY;
		else if (!strcasecmp(v, "auto")) c->mode = MODE_AUTO;
		else return fail(err, errlen, file, line, "Mode: \"%s\" is not client, server, relay, host-relay or auto", v);
		return 0;
	case D_RELAYTYPE:
		if (!strcasecmp(v, "client")) c->relay_type = RT_CLIENT;
		else if (!strcasecmp(v, "autoclient")) c->relay_type = RT_AUTOCLIENT;
		else if (!strcasecmp(v, "relay")) c->relay_type = RT_RELAY;
		else if (!strcasecmp(v, "cone")) c->relay_type = RT_CONE;
		else if (!strcasecmp(v, "restricted")) c->relay_type = RT_RESTRICTED;
		else return fail(err, errlen, file, line, "RelayType: \"%s\" is not client, autoclient, relay, cone or restricted", v);
		return 0;
	case D_SERVERADDRESS:
	case D_SERVERADDRESS2: {
		char *dst = d == D_SERVERADDRESS ? c->server_address : c->server_address2;
		if (strlen(v) >= CONFIG_STR_MAX)
			return fail(err, errlen, file, line, "%s: name too long", directive_names[d]);
		strcpy(dst, v);
		return 0;
	}
	case D_SERVERBINDADDRESS:
	case D_SERVERBINDADDRESS2:
	case D_BINDADDRESS: {
		uint32_t a;
		if (!parse_ipv4(v, &a))
			return fail(err, errlen, file, line, "%s: \"%s\" is not an IPv4 address", directive_names[d], v);
		if (d == D_SERVERBINDADDRESS) c->server_bind = a;
		else if (d == D_SERVERBINDADDRESS2) c->server_bind2 = a;
		else c->bind_address = a;
		return 0;
	}
	case D_PREFIX:
		if (!parse_prefix(v, &c->prefix))
			return fail(err, errlen, file, line, "Prefix: \"%s\" is not a /32 IPv6 prefix", v);
		return 0;
	case D_INTERFACEMTU:
		if (!parse_uint(v, 1280, 65535, &n))
			return fail(err, errlen, file, line, "InterfaceMTU: \"%s\" is not a number from 1280 to 65535", v);
		c->mtu = (uint32_t)n;
		return 0;
	case D_INTERFACENAME:
		if (strlen(v) >= sizeof c->ifname || strchr(v, '/'))
			return fail(err, errlen, file, line, "InterfaceName: \"%s\" is not a valid interface name (at most 15 characters)", v);
		strcpy(c->ifname, v);
		return 0;
	case D_BINDPORT:
		if (!parse_uint(v, 1, 65535, &n))
			return fail(err, errlen, file, line, "BindPort: \"%s\" is not a port from 1 to 65535", v);
		c->bind_port = (uint16_t)n;
		return 0;
	case D_SYSLOGFACILITY:
		for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
			if (!strcasecmp(v, facilities[i].name)) {
				c->syslog_facility = facilities[i].value;
				return 0;
			}
		return fail(err, errlen, file, line, "SyslogFacility: \"%s\" is not daemon, local0..local7, kern or user", v);
	case D_SERVERMAXICMP:
		if (!parse_uint(v, 0, 65535, &n))
			return fail(err, errlen, file, line, "ServerMaxICMPv6Payload: \"%s\" is not a number from 0 to 65535", v);
		c->max_icmp_payload = (uint16_t)n;
		return 0;
	case D_SERVERMAXRS:
		if (!parse_uint(v, 0, 1000000, &n))
			return fail(err, errlen, file, line, "ServerMaxRSRate: \"%s\" is not a number from 0 to 1000000", v);
		c->max_rs_rate = (uint32_t)n;
		return 0;
	case D_REFRESH:
		/* C-27: 30 s by default; below it for a NAT that forgets sooner (RFC 6081
		 * §5.1.1: the discovery procedure cannot go lower), up to 5 minutes. */
		if (!parse_uint(v, 5, 300, &n))
			return fail(err, errlen, file, line, "RefreshInterval: \"%s\" is not a number of seconds from 5 to 300", v);
		c->refresh_s = (uint32_t)n;
		return 0;
	case D_MAXPEERS:
		/* Issue 10 (scale): the peer table's size, fixed at start (156 bytes a peer,
		 * docs/scaling.md); a client or relay; a server keeps no peers. */
		if (!parse_uint(v, 64, 16777216, &n))
			return fail(err, errlen, file, line, "MaxPeers: \"%s\" is not a number from 64 to 16777216", v);
		c->max_peers = (uint32_t)n;
		return 0;
	case D_REFRESHMIN:
		/* The floor of RFC 4380 §5.2.7's search (C-60..C-62, issue 11). */
		if (!parse_uint(v, 2, 300, &n))
			return fail(err, errlen, file, line, "RefreshMinimum: \"%s\" is not a number of seconds from 2 to 300", v);
		c->refresh_min_s = (uint32_t)n;
		return 0;
	case D_FASTPATH:
		/* Issue 10: the kernel fast path (eBPF), docs/fastpath.md. */
		if (!strcasecmp(v, "auto"))
			c->fast_path = FASTPATH_CFG_AUTO;
		else if (!strcasecmp(v, "on") || !strcasecmp(v, "yes"))
			c->fast_path = FASTPATH_CFG_ON;
		else if (!strcasecmp(v, "off") || !strcasecmp(v, "no"))
			c->fast_path = FASTPATH_CFG_OFF;
		else
			return fail(err, errlen, file, line, "FastPath: \"%s\" is not auto, on or off", v);
		return 0;
	case D_DORMANTIDLE:
		/* Dormant mode's idle time (issue 11): at least two refresh intervals' worth of
		 * quiet, at most a day. */
		if (!parse_uint(v, 10, 86400, &n))
			return fail(err, errlen, file, line, "DormantIdle: \"%s\" is not a number of seconds from 10 to 86400", v);
		c->dormant_idle_s = (uint32_t)n;
		return 0;
	case D_CLIENTHOOK:
		if (v[0] != '/' || strlen(v) >= CONFIG_STR_MAX)
			return fail(err, errlen, file, line, "ClientHook: \"%s\" is not an absolute path", v);
		strcpy(c->client_hook, v);
		return 0;
	case D_SYMMETRICNAT:
	case D_LOADREDUCTION:
	case D_HAIRPINNING:
	case D_PORTPRESERVING:
	case D_SEQUENTIAL:
	case D_UPNP:
	case D_DORMANT:
	case D_TUNOFFLOAD: /* issue 10: the TUN's TSO and checksum offload (sys/tun.h) */
	case D_UDPOFFLOAD: /* issue 10: UDP GSO rows on the Teredo sockets (sys/udp.h) */
	case D_REFRESHDISC: {
		bool *flag = d == D_SYMMETRICNAT     ? &c->symmetric_nat
			     : d == D_LOADREDUCTION  ? &c->load_reduction
			     : d == D_HAIRPINNING    ? &c->hairpinning
			     : d == D_PORTPRESERVING ? &c->port_preserving_nat
			     : d == D_UPNP           ? &c->upnp
			     : d == D_REFRESHDISC    ? &c->refresh_discovery
			     : d == D_DORMANT        ? &c->dormant
			     : d == D_TUNOFFLOAD     ? &c->tun_offload
			     : d == D_UDPOFFLOAD     ? &c->udp_offload
						     : &c->sequential_nat;
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
			*flag = true;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
			*flag = false;
		else
			return fail(err, errlen, file, line, "%s: \"%s\" is not yes or no", directive_names[d], v);
		return 0;
	}
	case D_RELAYNEWPEERS: {
		if (!strcasecmp(v, "no") || !strcasecmp(v, "off"))
			c->relay_new_per_source = 0;
		else if (parse_uint(v, 1, 1000000, &n))
			c->relay_new_per_source = (uint32_t)n;
		else
			return fail(err, errlen, file, line,
				    "RelayNewPeersPerSource: \"%s\" is not no or a rate from 1 to 1000000", v);
		return 0;
	}
	case D_LOCALDISCOVERY:
	case D_RELAYACCEPTUNKNOWN: {
		int yes = -1;
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || (d == D_LOCALDISCOVERY && !strcmp(v, "1")))
			yes = 1;
		else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
			yes = 0;
		if (d == D_LOCALDISCOVERY) {
			if (yes < 0)
				return fail(err, errlen, file, line, "LocalDiscovery: \"%s\" is not yes or no", v);
			c->local_discovery = yes;
		} else if (yes >= 0) {
			c->relay_unknown_rate = yes ? UINT32_MAX : 0;
		} else if (parse_uint(v, 1, 1000000, &n)) {
			c->relay_unknown_rate = (uint32_t)n;
		} else {
			return fail(err, errlen, file, line,
				    "RelayAcceptUnknown: \"%s\" is not yes, no or a rate from 1 to 1000000", v);
		}
		return 0;
	}
	case D_CONTROLGROUP:
		/* Resolved to a gid by the daemon (config_parse does no I/O); checked for shape here. */
		if (strlen(v) >= sizeof c->control_group || strspn(v, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(v))
			return fail(err, errlen, file, line, "ControlGroup: \"%s\" is not a group name", v);
		strcpy(c->control_group, v);
		return 0;
	case D__COUNT:
		break;
	}
	return fail(err, errlen, file, line, "internal error");
}

static void defaults(struct sw_config *c)
{
	memset(c, 0, sizeof *c);
	c->prefix = TEREDO_PREFIX_DEFAULT;
	c->mtu = 1280;
	strcpy(c->ifname, "teredo");
	c->syslog_facility = LOG_DAEMON;
	c->max_icmp_payload = 88; /* S-24: what Miredo and Microsoft servers allow */
	c->max_rs_rate = 100;     /* RAs per second to one IPv4 address: a NAT's worth of clients */
	c->relay_unknown_rate = 1000; /* new clients a second, enough to recover from a restart */
	/* no host talks to a thousand new Teredo clients a second; a flood does. */
	c->relay_new_per_source = 1000;
	c->local_discovery = true;
	c->symmetric_nat = true;
	c->load_reduction = true;
	c->hairpinning = true;
	c->port_preserving_nat = true;
	c->sequential_nat = true;
	c->upnp = true;
	c->refresh_s = 30;
	c->refresh_discovery = true;
	c->refresh_min_s = 10;
	c->dormant_idle_s = 600;
	c->fast_path = FASTPATH_CFG_AUTO;
	c->tun_offload = true;
	c->udp_offload = true;
}

/* The first of `only` that the file set, or -1 (for messages). */
static int first_set(const int *at, const enum directive *only, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (at[only[i]])
			return (int)only[i];
	return -1;
}

/* The first directive set that only a client takes, or -1. */
static int client_only_first(const int *at)
{
	static const enum directive only[] = { D_CLIENTHOOK, D_LOCALDISCOVERY, D_SYMMETRICNAT,
					       D_LOADREDUCTION, D_HAIRPINNING, D_PORTPRESERVING, D_SEQUENTIAL,
					       D_UPNP, D_REFRESH, D_REFRESHDISC, D_REFRESHMIN,
					       D_DORMANT, D_DORMANTIDLE };
	return first_set(at, only, sizeof only / sizeof only[0]);
}

/* The first directive set that only a relay takes, or -1. */
static int relay_only_first(const int *at)
{
	static const enum directive only[] = { D_RELAYACCEPTUNKNOWN, D_RELAYNEWPEERS };
	return first_set(at, only, sizeof only / sizeof only[0]);
}

/* Resolve the mode and check that the directives fit it. */
static int finish(struct sw_config *c, const char *file, char *err, size_t errlen)
{
	const int *at = c->line_of;
	int client_only = client_only_first(at), relay_only = relay_only_first(at);
	bool server_dirs = at[D_SERVERBINDADDRESS] || at[D_SERVERBINDADDRESS2] || at[D_SERVERMAXICMP] || at[D_SERVERMAXRS];
	bool client_dirs = at[D_SERVERADDRESS] || at[D_SERVERADDRESS2];

	if (c->mode == MODE_UNSET) {
		if (server_dirs && at[D_RELAYTYPE])
			return fail(err, errlen, file, at[D_RELAYTYPE],
				    "RelayType and ServerBindAddress (line %d) select different programs; use Mode",
				    at[D_SERVERBINDADDRESS] ? at[D_SERVERBINDADDRESS] : at[D_SERVERBINDADDRESS2]);
		if (server_dirs)
			c->mode = MODE_SERVER;
		else if (c->relay_type == RT_RELAY || c->relay_type == RT_CONE || c->relay_type == RT_RESTRICTED)
			c->mode = MODE_RELAY;
		else
			c->mode = MODE_CLIENT; /* Miredo's default RelayType is client */
	} else if (at[D_RELAYTYPE]) {
		bool rt_client = c->relay_type == RT_CLIENT || c->relay_type == RT_AUTOCLIENT;
		bool ok = (c->mode == MODE_CLIENT && rt_client) || (c->mode == MODE_AUTO && rt_client) ||
			  ((c->mode == MODE_RELAY || c->mode == MODE_HOST_RELAY) && !rt_client);
		if (!ok)
			return fail(err, errlen, file, at[D_RELAYTYPE], "RelayType contradicts Mode %s (line %d)",
				    config_mode_name(c->mode), at[D_MODE]);
	}

	switch (c->mode) {
	case MODE_SERVER:
		if (client_only >= 0)
			return fail(err, errlen, file, at[client_only], "%s is a client directive", directive_names[client_only]);
		if (client_dirs)
			return fail(err, errlen, file, at[D_SERVERADDRESS] ? at[D_SERVERADDRESS] : at[D_SERVERADDRESS2],
				    "ServerAddress is a client directive; a server uses ServerBindAddress");
		if (at[D_INTERFACENAME] || at[D_BINDADDRESS] || at[D_BINDPORT])
			return fail(err, errlen, file,
				    at[D_INTERFACENAME] ? at[D_INTERFACENAME] : at[D_BINDADDRESS] ? at[D_BINDADDRESS] : at[D_BINDPORT],
				    "a server has no tunnel interface and always binds UDP port 3544 on ServerBindAddress");
		if (relay_only >= 0)
			return fail(err, errlen, file, at[relay_only], "%s is a relay directive", directive_names[relay_only]);
		if (at[D_MAXPEERS])
			return fail(err, errlen, file, at[D_MAXPEERS], "MaxPeers: a server keeps no peers");
		if (!c->server_bind)
			return fail(err, errlen, file, at[D_MODE], "a server needs ServerBindAddress");
		if (!c->server_bind2)
			c->server_bind2 = htonl(ntohl(c->server_bind) + 1);
		if (c->server_bind2 == c->server_bind)
			return fail(err, errlen, file, at[D_SERVERBINDADDRESS2],
				    "ServerBindAddress2 must differ from ServerBindAddress");
		break;
	case MODE_AUTO:
		/* The client's directives, and those of a host-specific relay, which it runs
		 * while the host has native IPv6 (issue 11). */
	case MODE_CLIENT:
		if (server_dirs)
			return fail(err, errlen, file, at[D_SERVERBINDADDRESS] ? at[D_SERVERBINDADDRESS] : at[D_SERVERBINDADDRESS2],
				    "ServerBindAddress is a server directive; a client uses ServerAddress");
		if (at[D_PREFIX])
			return fail(err, errlen, file, at[D_PREFIX], "a client learns its prefix from the server; Prefix is for relays and servers");
		if (relay_only >= 0 && c->mode == MODE_CLIENT)
			return fail(err, errlen, file, at[relay_only], "%s is a relay directive", directive_names[relay_only]);
		if (!c->server_address[0])
			return fail(err, errlen, file, 0, "a client needs ServerAddress");
		break;
	case MODE_RELAY:
	case MODE_HOST_RELAY:
		if (client_only >= 0)
			return fail(err, errlen, file, at[client_only], "%s is a client directive", directive_names[client_only]);
		if (server_dirs || client_dirs)
			return fail(err, errlen, file,
				    at[D_SERVERADDRESS] ? at[D_SERVERADDRESS] : at[D_SERVERADDRESS2] ? at[D_SERVERADDRESS2]
				    : at[D_SERVERBINDADDRESS] ? at[D_SERVERBINDADDRESS] : at[D_SERVERBINDADDRESS2] ? at[D_SERVERBINDADDRESS2] : at[D_SERVERMAXICMP] ? at[D_SERVERMAXICMP] : at[D_SERVERMAXRS],
				    "a relay has no Teredo server; remove this directive");
		if (!c->bind_port)
			c->bind_port = TEREDO_PORT;
		break;
	default:
		break;
	}
	return 0;
}

int config_parse(const char *text, size_t len, const char *file, struct sw_config *cfg,
		 char *err, size_t errlen)
{
	defaults(cfg);
	int line = 0;
	size_t pos = 0;
	while (pos < len) {
		char buf[1024];
		size_t n = 0;
		line++;
		while (pos < len && text[pos] != '\n') {
			if (text[pos] == '\0')
				return fail(err, errlen, file, line, "NUL byte in the file");
			if (n + 1 >= sizeof buf)
				return fail(err, errlen, file, line, "line longer than %zu bytes", sizeof buf - 1);
			buf[n++] = text[pos++];
		}
		pos++;
		buf[n] = 0;

		char *p = buf;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == 0)
			continue;
		char *name = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = 0;
		while (isspace((unsigned char)*p))
			p++;
		char *value = p;
		char *end = value + strlen(value);
		while (end > value && isspace((unsigned char)end[-1]))
			*--end = 0;

		int d;
		for (d = 0; d < D__COUNT; d++)
			if (!strcasecmp(name, directive_names[d]))
				break;
		if (d == D__COUNT)
			return fail(err, errlen, file, line, "unknown directive \"%s\"", name);
		if (!*value)
			return fail(err, errlen, file, line, "%s needs a value", directive_names[d]);
		if (strchr(value, ' ') || strchr(value, '\t'))
			return fail(err, errlen, file, line, "%s takes one value, not \"%s\"", directive_names[d], value);
		if (d == D_SERVERADDRESS && cfg->line_of[d]) {
			/* More servers, candidates in the order given (issue 11). */
			if (cfg->nserver_more == CONFIG_SERVERS_MAX - 1)
				return fail(err, errlen, file, line, "ServerAddress: at most %d", CONFIG_SERVERS_MAX);
			if (strlen(value) >= CONFIG_STR_MAX)
				return fail(err, errlen, file, line, "ServerAddress: name too long");
			strcpy(cfg->server_more[cfg->nserver_more++], value);
			continue;
		}
		if (cfg->line_of[d])
			return fail(err, errlen, file, line, "%s is already set on line %d", directive_names[d], cfg->line_of[d]);
		if (set_directive(cfg, (enum directive)d, value, file, line, err, errlen))
			return -1;
		cfg->line_of[d] = line;
	}
	return finish(cfg, file, err, errlen);
}

int config_line(const struct sw_config *cfg, const char *directive)
{
	for (int d = 0; d < D__COUNT; d++)
		if (!strcasecmp(directive_names[d], directive))
			return cfg->line_of[d];
	return 0;
}
