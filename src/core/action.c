#include "core/action.h"

#include "wire/icmpv6.h"
#include "wire/ipv6.h"

struct sw_action *sw_emit(struct sw_out *o)
{
	if (o->n >= o->cap)
		return NULL;
	struct sw_action *a = &o->a[o->n++];
	a->kind = SW_ACT_UDP;
	a->sock = 0;
	a->hdr_len = 0;
	a->body = NULL;
	a->body_len = 0;
	return a;
}

void sw_icmp_unreachable(struct sw_action *a, const struct in6_addr *src, uint8_t code,
			 const uint8_t *pkt, size_t len)
{
	struct in6_addr dst;
	ip6_src(pkt, &dst);
	size_t inv = len < ICMP6_ERROR_MAX_INVOKING ? len : ICMP6_ERROR_MAX_INVOKING;
	a->kind = SW_ACT_TUN;
	a->hdr_len = icmp6_error_header(a->hdr, ICMP6_DST_UNREACH, code, src, &dst, pkt, inv);
	a->body = pkt;
	a->body_len = inv;
}
