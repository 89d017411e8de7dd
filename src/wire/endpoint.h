/* An IPv4 transport endpoint as it appears on the wire and in struct sockaddr_in:
 * both fields in network byte order, so the data path never converts. */
#ifndef SW_WIRE_ENDPOINT_H
#define SW_WIRE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sw_endpoint {
	uint32_t ip;   /* network byte order */
	uint16_t port; /* network byte order */
};

static inline bool endpoint_eq(struct sw_endpoint a, struct sw_endpoint b)
{
	return a.ip == b.ip && a.port == b.port;
}

/* "a.b.c.d:port" into buf (at least 22 bytes). Returns buf. */
char *endpoint_str(struct sw_endpoint ep, char *buf, size_t len);

#endif
