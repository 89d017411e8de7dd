/* The client's server names (issue 11): every ServerAddress resolves to one or more
 * IPv4 addresses, each a candidate (core/client.h, client_set_servers). At start the
 * daemon resolves them itself; later a helper process does it (getaddrinfo blocks, and
 * NSS may load modules the sandbox would refuse), when every candidate has failed and
 * every RESOLVE_EVERY_S while any is a name. */
#ifndef SW_SYS_RESOLVER_H
#define SW_SYS_RESOLVER_H

#include "conf/config.h"
#include "core/client.h"

#define RESOLVE_EVERY_S 600

struct resolve_result {
	unsigned n;
	struct client_server s[CLIENT_SERVERS_MAX];
	char why[160]; /* names that gave nothing usable, for the log; "" when none */
};

/* Resolves the configured names now (blocking). A name that resolves to nothing or to a
 * non-global address is reported in why and not used. */
void resolve_servers(const struct sw_config *cfg, struct resolve_result *r);
/* True when some ServerAddress is a name, not an IPv4 address. */
bool resolver_has_names(const struct sw_config *cfg);
/* The helper: returns the daemon's end. resolver_ask() sends a request; the answer, a
 * struct resolve_result, is read with resolver_read() once the fd is readable. */
int resolver_start(const struct sw_config *cfg, const char *user);
int resolver_ask(int fd);
int resolver_read(int fd, struct resolve_result *r);

#endif
