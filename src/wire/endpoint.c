#include "endpoint.h"

#include <arpa/inet.h>
#include <stdio.h>

char *endpoint_str(struct sw_endpoint ep, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr in = { .s_addr = ep.ip };
	inet_ntop(AF_INET, &in, a, sizeof a);
	snprintf(buf, len, "%s:%u", a, ntohs(ep.port));
	return buf;
}
