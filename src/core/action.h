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
	SW_ACT_RENEW_SOCK, /* close local socket `sock` and open it again on a fresh random port */
	SW_ACT_RESOLVE,    /* client: every server candidate failed; resolve the names again */
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

/* The output of one call into a core: caller storage, filled in order. */
struct sw_out {
	struct sw_action *a;
	int n, cap;
};

/* The next free action, cleared to "UDP from socket 0, nothing in it"; NULL when full. */
struct sw_action *sw_emit(struct sw_out *o);

/* Fill a as an ICMPv6 error (type Destination Unreachable, `code`) to the sender of pkt,
 * from `src`, carrying as much of pkt as the minimum MTU allows (RFC 4443 §3.1, §2.4 (c)),
 * to be written to the tunnel. */
void sw_icmp_unreachable(struct sw_action *a, const struct in6_addr *src, uint8_t code,
			 const uint8_t *pkt, size_t len);

#endif
