#include "teredo_addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "bytes.h"

bool teredo_addr_has_prefix(const struct in6_addr *a, uint32_t prefix)
{
	return get_be32(a->s6_addr) == prefix;
}

void teredo_addr_decode(const struct in6_addr *a, struct teredo_addr *out)
{
	const uint8_t *b = a->s6_addr;
	out->prefix = get_be32(b);
	memcpy(&out->server, b + 4, 4);
	out->flags = get_be16(b + 8);
	/* RFC 4380 §4: port and address are stored XOR all-ones so that NATs rewriting
	 * payload bytes that look like their own address leave them alone. */
	uint16_t port;
	uint32_t ip;
	memcpy(&port, b + 10, 2);
	memcpy(&ip, b + 12, 4);
	out->mapped.port = (uint16_t)~port;
	out->mapped.ip = ~ip;
}

void teredo_addr_encode(const struct teredo_addr *in, struct in6_addr *out)
{
	uint8_t *b = out->s6_addr;
	put_be32(b, in->prefix);
	memcpy(b + 4, &in->server, 4);
	put_be16(b + 8, in->flags);
	uint16_t port = (uint16_t)~in->mapped.port;
	uint32_t ip = ~in->mapped.ip;
	memcpy(b + 10, &port, 2);
	memcpy(b + 12, &ip, 4);
}

void teredo_server_link_local(uint32_t server_ip, struct in6_addr *out)
{
	struct teredo_addr t = {
		.prefix = 0xfe800000u,
		.server = 0,
		.flags = TEREDO_FLAG_CONE,
		.mapped = { .ip = server_ip, .port = htons(TEREDO_PORT) },
	};
	teredo_addr_encode(&t, out); /* the zero server field gives fe80:0:0:0 */
}
