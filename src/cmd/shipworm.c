/* shipworm: talk to a running shipwormd, and decode Teredo addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/control.h"
#include "sys/peers_page.h"
#include "sys/status_fmt.h"
#include "wire/ipv4.h"
#include "wire/teredo_addr.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shipworm [-s SOCKET] status [--json]\n"
		"       shipworm [-s SOCKET] peers [--json]\n"
		"       shipworm [-s SOCKET] peer ADDRESS [--json]\n"
		"       shipworm [-s SOCKET] metrics\n"
		"       shipworm decode ADDRESS [--json]\n"
		"\n"
		"  status   state and counters of the running shipwormd\n"
		"  peers    the peer table of a client or relay (every entry, a page per request)\n"
		"  peer     one entry of the peer table\n"
		"  metrics  the status in the Prometheus text format (node_exporter's textfile collector)\n"
		"  decode   the server, flags, mapped port and IPv4 inside a Teredo address\n"
		"  -s SOCKET  the daemon's control socket (default $SHIPWORM_SOCKET, else\n"
		"             " CONTROL_DEFAULT ")\n"
		"  -h, --help, -V, --version\n"
		"\n"
		"See shipworm(1).\n");
}

/* The same as JSON, through the writer the daemon's answers use. */
static void decode_json(const char *text, const struct teredo_addr *t)
{
	char out[1024], a[INET_ADDRSTRLEN];
	struct status_out o;
	st_begin(&o, out, sizeof out, true);
	st_str(&o, "address", text);
	st_str(&o, "prefix", "2001:0::/32");
	st_str(&o, "server", inet_ntop(AF_INET, &t->server, a, sizeof a));
	st_bool(&o, "server_global", ipv4_is_global_unicast(t->server));
	st_u64(&o, "flags", t->flags);
	st_bool(&o, "cone", t->flags & TEREDO_FLAG_CONE);
	st_bool(&o, "reserved", t->flags & TEREDO_FLAG_RESERVED);
	st_u64(&o, "random1", t->flags >> 10 & 0xf);
	st_bool(&o, "universal", t->flags & TEREDO_FLAG_UNIVERSAL);
	st_bool(&o, "group", t->flags & TEREDO_FLAG_GROUP);
	st_u64(&o, "random2", t->flags & 0xff);
	st_u64(&o, "mapped_port", ntohs(t->mapped.port));
	st_str(&o, "mapped_ipv4", inet_ntop(AF_INET, &t->mapped.ip, a, sizeof a));
	st_bool(&o, "mapped_global", ipv4_is_global_unicast(t->mapped.ip));
	size_t n = st_end(&o);
	fwrite(out, 1, n, stdout);
	if (n && out[n - 1] != '\n')
		putchar('\n');
}

static int decode(const char *text, bool json)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, text, &a) != 1) {
		fprintf(stderr, "shipworm: \"%s\" is not an IPv6 address\n", text);
		return 1;
	}
	if (!teredo_addr_has_prefix(&a, TEREDO_PREFIX_DEFAULT)) {
		fprintf(stderr, "shipworm: %s is not a Teredo address (Teredo addresses are in 2001:0::/32)\n", text);
		return 1;
	}
	struct teredo_addr t;
	teredo_addr_decode(&a, &t);
	if (json) {
		decode_json(text, &t);
		return 0;
	}
	char srv[INET_ADDRSTRLEN], mapped[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &t.server, srv, sizeof srv);
	inet_ntop(AF_INET, &t.mapped.ip, mapped, sizeof mapped);
	unsigned f = t.flags;
	printf("address:        %s\n", text);
	printf("prefix:         2001:0::/32 (Teredo, RFC 4380)\n");
	printf("server:         %s%s\n", srv, ipv4_is_global_unicast(t.server) ? "" : " (not a global address)");
	printf("flags:          0x%04x\n", f);
	printf("  cone (C):     %u%s\n", f >> 15 & 1,
	       f & TEREDO_FLAG_CONE ? " (legacy cone NAT; RFC 5991 clients set 0)" : " (RFC 5991: clients always set 0)");
	printf("  reserved (z): %u%s\n", f >> 14 & 1, f & TEREDO_FLAG_RESERVED ? " (should be 0; ignored on receipt)" : "");
	printf("  random1:      0x%x (RFC 5991 §3.1: 4 random bits)\n", f >> 10 & 0xf);
	printf("  universal (U):%u\n", f >> 9 & 1);
	printf("  group (G):    %u\n", f >> 8 & 1);
	printf("  random2:      0x%02x (RFC 5991 §3.1: 8 random bits)\n", f & 0xff);
	printf("mapped port:    %u\n", ntohs(t.mapped.port));
	printf("mapped IPv4:    %s%s\n", mapped, ipv4_is_global_unicast(t.mapped.ip) ? "" : " (not a global address)");
	return 0;
}

static int unreachable(const char *sock)
{
	fprintf(stderr, "shipworm: cannot reach shipwormd at %s: %s%s\n", sock, strerror(errno),
		errno == EACCES	     ? " (root, or a member of the daemon's ControlGroup, may ask)"
		: errno == ETIMEDOUT ? " (it did not answer in time: is it stopped or stuck?)"
				     : "");
	return 1;
}

static bool put(const char *b, size_t n)
{
	return fwrite(b, 1, n, stdout) == n;
}

/* The whole table, one answer per page ("next" says where the daemon stopped), written as
 * the one document a single answer would be. The pages cover the table's slots in order:
 * a peer that comes or goes meanwhile may be missed, or listed twice if it left one slot
 * and came back in a later one. */
static int peers_all(const char *sock, bool json)
{
	static char buf[CONTROL_ANSWER_MAX + 1];
	char req[CONTROL_REQ_MAX];
	size_t len;
	struct peers_page p;
	snprintf(req, sizeof req, "peers%s", json ? " json" : "");
	int r = control_ask(sock, req, buf, sizeof buf, &len);
	if (r < 0)
		return unreachable(sock);
	if (r > 0 || peers_page_split(buf, len, json, &p) < 0 || !p.more) {
		/* One page, or a refusal ("error: a server keeps no peers"): as it came. */
		fwrite(buf, 1, len, r ? stderr : stdout);
		return r;
	}
	bool ok = put(buf, p.tail);
	uint64_t listed = p.listed;
	bool any = p.tail > p.body;
	while (ok && p.more) {
		uint32_t from = p.next;
		snprintf(req, sizeof req, "peers from %u%s", (unsigned)from, json ? " json" : "");
		r = control_ask(sock, req, buf, sizeof buf, &len);
		if (r < 0)
			return unreachable(sock);
		if (r > 0 || peers_page_split(buf, len, json, &p) < 0 || (p.more && p.next <= from)) {
			/* A daemon restarted in between (another role now), or not shipworm's. */
			fflush(stdout);
			fprintf(stderr, "shipworm: the listing stopped at slot %u: %.*s\n", (unsigned)from,
				r > 0 ? (int)strcspn(buf, "\n") : 16, r > 0 ? buf : "unexpected answer");
			return 1;
		}
		const char *joint = peers_page_joint(json, any, &p);
		ok = put(joint, strlen(joint)) && put(buf + p.body, p.tail - p.body);
		listed += p.listed;
		any |= p.tail > p.body;
	}
	char tail[64];
	ok = ok && put(tail, peers_page_tail(json, listed, tail, sizeof tail));
	return fflush(stdout) == 0 && ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("SHIPWORM_SOCKET");
	if (!sock || !*sock)
		sock = CONTROL_DEFAULT;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("shipworm %s\n", SHIPWORM_VERSION);
			return 0;
		} else {
			fprintf(stderr, "shipworm: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	if (!strcmp(cmd, "decode")) {
		bool json = false;
		const char *addr = NULL;
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (!addr)
				addr = argv[i];
			else
				addr = "";
		}
		if (!addr || !*addr) {
			fprintf(stderr, "shipworm: decode takes one address\n");
			return 2;
		}
		return decode(addr, json);
	}
	if (!strcmp(cmd, "metrics")) {
		if (i != argc) {
			fprintf(stderr, "shipworm: metrics takes no argument\n");
			return 2;
		}
		int r = control_request(sock, "status prom", STDOUT_FILENO, STDERR_FILENO);
		return r < 0 ? unreachable(sock) : r;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "peers") && strcmp(cmd, "peer")) {
		fprintf(stderr, "shipworm: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	bool json = false;
	const char *addr = NULL;
	struct in6_addr a6;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(cmd, "peer") && !addr && inet_pton(AF_INET6, argv[i], &a6) == 1) {
			addr = argv[i];
		} else {
			fprintf(stderr, "shipworm: %s: unexpected argument \"%s\"\n", cmd, argv[i]);
			return 2;
		}
	}
	if (!strcmp(cmd, "peer") && !addr) {
		fprintf(stderr, "shipworm: peer needs an IPv6 address\n");
		return 2;
	}
	if (!strcmp(cmd, "peers"))
		return peers_all(sock, json);
	char req[CONTROL_REQ_MAX];
	snprintf(req, sizeof req, "%s%s%s%s", cmd, addr ? " " : "", addr ? addr : "", json ? " json" : "");
	int r = control_request(sock, req, STDOUT_FILENO, STDERR_FILENO);
	return r < 0 ? unreachable(sock) : r;
}
