/* What a role core asks the shell to do: the output half of the sans-I/O boundary.
 * A core fills actions in caller-provided storage, so no per-packet allocation happens;
 * bytes it builds go in hdr, bytes it forwards unchanged are borrowed from the input as
 * body (valid until the next call), so forwarding never copies the payload. */
#ifndef SW_CORE_ACTION_H
#define SW_CORE_ACTION_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/endpoint.h"

#define SW_ACTION_HDR_MAX 192

enum sw_action_kind {
	SW_ACT_UDP,  /* send hdr + body as one UDP datagram from socket `sock` to dst */
	SW_ACT_IPV6, /* send hdr + body (a whole IPv6 packet) to native IPv6 */
	SW_ACT_TUN,  /* write hdr + body (a whole IPv6 packet) to the tunnel interface */
	SW_ACT_SET_ADDR,   /* configure `addr` (and `mtu`) on the tunnel, replacing any other */
	SW_ACT_CLEAR_ADDR, /* remove the tunnel's address and routes: Teredo is unusable */
};

struct sw_action {
	enum sw_action_kind kind;
	uint8_t sock; /* role-defined index of the local socket to send from */
	struct sw_endpoint dst;
	size_t hdr_len;
	const uint8_t *body;
	size_t body_len;
	struct in6_addr addr; /* SW_ACT_SET_ADDR */
	uint32_t mtu;         /* SW_ACT_SET_ADDR */
	uint8_t hdr[SW_ACTION_HDR_MAX];
};

#endif
