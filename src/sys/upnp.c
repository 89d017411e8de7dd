#include "sys/upnp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "sys/daemon.h"
#include "sys/log.h"
#include "sys/helper.h"

/* RFC 6081 §5.3.3: the description the RFC names, and a lease of 0 (no expiry; an IGD
 * that caps it, as miniupnpd does, is renewed every UPNP_RENEW_S). */
#define UPNP_DESC "TEREDO"

struct igd {
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan[64];
};

static void say(int fd, uint32_t ip, uint16_t port, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(int fd, uint32_t ip, uint16_t port, const char *fmt, ...)
{
	struct upnp_result r = { .ext_ip = ip, .ext_port = port };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.why, sizeof r.why, fmt, ap);
	va_end(ap);
	if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(1);
}

static int add_mapping(struct igd *g, const char *port, const char *client)
{
	return UPNP_AddPortMapping(g->urls.controlURL, g->data.first.servicetype, port, port, client,
				   UPNP_DESC, "UDP", NULL, "0");
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The helper: never returns. */
static void helper(int fd, uint16_t port_n, uint32_t bind_ip)
{
	char port[8], client[64];
	snprintf(port, sizeof port, "%u", ntohs(port_n));
	int err = 0;
	/* An "ssdp:all" search (upnpDiscover() waits the delay once per device type it
	 * tries, four times over on a network without an IGD). The search is one multicast
	 * datagram and the answer one unicast: either may be lost (the lab lost one in a
	 * make check, and the IGD never saw the client), so a silent network is asked
	 * twice before the client goes on without the extension. */
	struct UPNPDev *devs = NULL;
	for (int i = 0; i < UPNP_SEARCHES && !devs && !stop; i++)
		devs = upnpDiscoverAll(UPNP_DISCOVER_MS, NULL, NULL, 0, 0, 2, &err);
	if (!devs) {
		say(fd, 0, 0, "no UPnP IGD answered %d searches of %d ms", UPNP_SEARCHES, UPNP_DISCOVER_MS);
		_exit(0);
	}
	struct igd g;
	memset(&g, 0, sizeof g);
	/* 2 is an IGD that says it is not connected: miniupnpd says so of an external
	 * address in a reserved range even when STUN vouched for it. What counts is
	 * whether the mapping works, and X-24 checks that against the server's view. */
	int valid = UPNP_GetValidIGD(devs, &g.urls, &g.data, g.lan, sizeof g.lan);
	freeUPNPDevlist(devs);
	if (valid != 1 && valid != 2) {
		say(fd, 0, 0, "no Internet gateway device among the UPnP devices found");
		_exit(0);
	}
	if (bind_ip)
		inet_ntop(AF_INET, &bind_ip, client, sizeof client);
	else
		snprintf(client, sizeof client, "%s", g.lan);
	/* AddPortMapping("", local port, UDP, local port, local address, TRUE,
	 * "TEREDO", 0); failure: go on without the extension. */
	int r = add_mapping(&g, port, client);
	if (r != UPNPCOMMAND_SUCCESS) {
		say(fd, 0, 0, "AddPortMapping of UDP %s to %s refused: %s", port, client, strupnperror(r));
		_exit(0);
	}
	char ext[40] = "";
	struct in_addr ea;
	r = UPNP_GetExternalIPAddress(g.urls.controlURL, g.data.first.servicetype, ext);
	if (r != UPNPCOMMAND_SUCCESS || inet_pton(AF_INET, ext, &ea) != 1 || !ea.s_addr) {
		/* SHOULD uninitialise and go on without. */
		UPNP_DeletePortMapping(g.urls.controlURL, g.data.first.servicetype, port, "UDP", NULL);
		say(fd, 0, 0, "GetExternalIPAddress failed: %s", r != UPNPCOMMAND_SUCCESS ? strupnperror(r) : "no address");
		_exit(0);
	}
	say(fd, ea.s_addr, port_n, "UDP %s:%s forwarded to %s:%s by %s", ext, port, client, port,
	    g.urls.controlURL);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, UPNP_RENEW_S * 1000);
		if (n < 0 && errno == EINTR)
			continue; /* SIGTERM: stop, above */
		if (n == 0) {
			r = add_mapping(&g, port, client);
			if (r != UPNPCOMMAND_SUCCESS)
				log_warn("UPnP: renewing the mapping of UDP %s failed: %s", port, strupnperror(r));
			continue;
		}
		char c;
		if (n > 0 && read(fd, &c, 1) > 0)
			continue; /* the daemon never writes; ignore */
		break; /* the daemon is gone */
	}
	/* RFC 6081 §5.3.5.1. */
	UPNP_DeletePortMapping(g.urls.controlURL, g.data.first.servicetype, port, "UDP", NULL);
	FreeUPNPUrls(&g.urls);
	_exit(0);
}

struct upnp_arg {
	uint16_t port;
	uint32_t bind_ip;
};

static void body(int fd, void *arg)
{
	const struct upnp_arg *a = arg;
	/* Stopped on its own (SIGTERM, as by a lab or a shutdown that kills every
	 * process), it still removes the mapping. */
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	helper(fd, a->port, a->bind_ip);
}

int upnp_start(uint16_t port, uint32_t bind_ip, const char *user)
{
	/* It parses what any host on the LAN may send (SSDP, HTTP, XML): a seccomp filter
	 * of its own. */
	struct upnp_arg a = { port, bind_ip };
	return helper_fork("shipworm-upnp", user, 0, true, SANDBOX_UPNP, body, &a);
}

int upnp_read(int fd, struct upnp_result *r)
{
	ssize_t n = read(fd, r, sizeof *r);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n != (ssize_t)sizeof *r) {
		memset(r, 0, sizeof *r);
		snprintf(r->why, sizeof r->why, "the UPnP helper ended without an answer");
	}
	r->why[sizeof r->why - 1] = 0;
	return 0;
}
