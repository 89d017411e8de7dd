#include "sys/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys/helper.h"
#include "wire/ipv4.h"

static void note(struct resolve_result *r, const char *fmt, const char *name, const char *what)
{
	size_t used = strlen(r->why);
	if (used + 2 < sizeof r->why)
		snprintf(r->why + used, sizeof r->why - used, fmt, used ? "; " : "", name, what);
}

static void add(struct resolve_result *r, uint32_t primary, uint32_t secondary)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->s[i].primary == primary)
			return;
	if (r->n < CLIENT_SERVERS_MAX)
		r->s[r->n++] = (struct client_server){ primary, secondary };
}

/* Every address of one name, in the resolver's order; the first ServerAddress's first
 * address pairs with ServerAddress2 when it is set (Miredo's meaning), every other with
 * the next address (RFC 4380 §4: the server's two consecutive addresses). */
static void resolve_one(const char *name, uint32_t second, struct resolve_result *r)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res, *i;
	int e = getaddrinfo(name, NULL, &hints, &res);
	if (e) {
		note(r, "%s%.60s: %s", name, gai_strerror(e));
		return;
	}
	bool any = false;
	for (i = res; i; i = i->ai_next) {
		uint32_t ip = ((struct sockaddr_in *)i->ai_addr)->sin_addr.s_addr;
		if (!ipv4_is_global_unicast(ip)) {
			char a[INET_ADDRSTRLEN];
			note(r, "%s%.60s: %s is not a global address", name, inet_ntop(AF_INET, &ip, a, sizeof a));
			continue;
		}
		/* C-01: the secondary address is the next one unless configured, as Miredo's
		 * and Windows' servers sit on two consecutive addresses. */
		add(r, ip, second && !any ? second : htonl(ntohl(ip) + 1));
		any = true;
	}
	freeaddrinfo(res);
}

void resolve_servers(const struct sw_config *cfg, struct resolve_result *r)
{
	memset(r, 0, sizeof *r);
	uint32_t second = 0;
	if (cfg->server_address2[0]) {
		struct resolve_result r2;
		memset(&r2, 0, sizeof r2);
		resolve_one(cfg->server_address2, 0, &r2);
		if (!r2.n) {
			note(r, "%s%.60s: %s", cfg->server_address2, r2.why[0] ? "no usable address" : "nothing");
			return;
		}
		second = r2.s[0].primary;
	}
	resolve_one(cfg->server_address, second, r);
	for (unsigned k = 0; k < cfg->nserver_more; k++)
		resolve_one(cfg->server_more[k], 0, r);
}

bool resolver_has_names(const struct sw_config *cfg)
{
	struct in_addr a;
	if (inet_pton(AF_INET, cfg->server_address, &a) != 1)
		return true;
	for (unsigned k = 0; k < cfg->nserver_more; k++)
		if (inet_pton(AF_INET, cfg->server_more[k], &a) != 1)
			return true;
	return false;
}

static void body(int fd, void *arg)
{
	const struct sw_config *cfg = arg;
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the daemon is gone */
		struct resolve_result r;
		resolve_servers(cfg, &r);
		if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
			return;
	}
}

int resolver_start(const struct sw_config *cfg, const char *user)
{
	/* No seccomp filter: NSS may load any module nsswitch.conf names. No capability,
	 * and it only ever answers the daemon. */
	return helper_fork("shipworm-dns", user, 0, false, SANDBOX_CLIENT, body, (void *)cfg);
}

int resolver_ask(int fd)
{
	char c = 'r';
	return write(fd, &c, 1) == 1 ? 0 : -1;
}

int resolver_read(int fd, struct resolve_result *r)
{
	ssize_t n = read(fd, r, sizeof *r);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n != (ssize_t)sizeof *r) {
		memset(r, 0, sizeof *r);
		snprintf(r->why, sizeof r->why, "the resolver helper ended");
		return -2;
	}
	if (r->n > CLIENT_SERVERS_MAX)
		r->n = CLIENT_SERVERS_MAX;
	r->why[sizeof r->why - 1] = 0;
	return 0;
}
