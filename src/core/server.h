/* The Teredo server (RFC 4380 §5.3, RFC 5991 §3.2): a stateless decision function over
 * one received datagram. SEC-19: the server keeps no per-client state, so a flood cannot
 * exhaust it. The only table is a fixed array of token buckets that limits the RAs sent
 * to any one IPv4 address (RFC 4380 §7: no reflection of RAs at a spoofed victim); it
 * is allocated with the server and never grows. */
#ifndef SW_CORE_SERVER_H
#define SW_CORE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/action.h"
#include "core/ratelimit.h"
#include "wire/endpoint.h"

enum { SERVER_SOCK_PRIMARY = 0, SERVER_SOCK_SECONDARY = 1 };

/* Why a datagram was dropped; each has a counter in `shipworm status`. */
enum server_drop {
	SRV_DROP_MALFORMED,        /* S-03: not a valid Teredo payload */
	SRV_DROP_NOT_BUBBLE_ICMP,  /* S-04: neither a bubble nor ICMPv6 */
	SRV_DROP_SRC_NOT_GLOBAL,   /* S-05: IPv4 source not global unicast */
	SRV_DROP_BAD_RS,           /* S-20: RS fails RFC 4861 §6.1.1 checks */
	SRV_DROP_SRC_MISMATCH,     /* S-07: Teredo source does not match the UDP source */
	SRV_DROP_NOT_OURS,         /* S-08/S-09: native source to someone else's client */
	SRV_DROP_LINK_LOCAL,       /* S-10: link-local traffic other than an RS */
	SRV_DROP_DST_NOT_GLOBAL,   /* S-11: destination not of global scope */
	SRV_DROP_DST_IPV4_NOT_GLOBAL, /* S-13, P-08: embedded client IPv4 not global */
	SRV_DROP_TOO_BIG,          /* S-24: ICMPv6 larger than the forwarding limit */
	SRV_DROP_ND,               /* S-11: ND messages are link-scoped, never forwarded */
	SRV_DROP_LOOP,             /* S-23, SEC-11: from or to this server's own sockets */
	SRV_DROP_NO_IPV6,          /* S-12: native destination, but no IPv6 egress */
	SRV_DROP_NATIVE_BUBBLE,    /* bubbles mean nothing to native IPv6 hosts */
	SRV_DROP_RS_RATE,          /* RSs beyond the per-source rate (ServerMaxRSRate) */
	SRV_DROP__COUNT
};

const char *server_drop_name(enum server_drop d);

struct server_config {
	uint32_t primary;   /* network byte order */
	uint32_t secondary; /* network byte order */
	uint32_t prefix;    /* host byte order, top 32 bits of the Teredo prefix */
	uint32_t mtu;       /* advertised in the RA's MTU option (P-16) */
	bool ipv6_egress;   /* a raw IPv6 socket exists for native destinations (S-12) */
	uint16_t max_icmp_payload; /* S-24; 0 = no limit */
	uint32_t rs_rate;   /* RAs per second to one IPv4 address (burst as many); 0 = no limit */
};

/* Buckets of the RA limit, chosen by a keyed hash of the source address: a spoofer
 * who sprays sources shares buckets and so is capped in all at SERVER_RS_BUCKETS
 * times the rate. */
#define SERVER_RS_BUCKETS 4096

struct server_stats {
	uint64_t received;
	uint64_t rs_answered;
	uint64_t forwarded_udp;
	uint64_t forwarded_ipv6;
	uint64_t echo_answered; /* S-10: pings to the server's link-local address */
	uint64_t dropped[SRV_DROP__COUNT];
};

struct server {
	struct server_config cfg;
	struct server_stats stats;
	uint8_t key[16];
	/* The RA limit's buckets (ratelimit_take_word): rs_own, or with the XDP program
	 * (issue 10) the program's bucket map, which the daemon maps into its memory so
	 * that both answer under one limit. */
	uint64_t *rs_shared;
	uint64_t rs_own[SERVER_RS_BUCKETS];
};

/* key: from a CSPRNG, so that no one can aim at a bucket from many addresses. */
void server_init(struct server *s, const struct server_config *cfg, const uint8_t key[16]);

/* Take the RA limit's buckets from `buckets` (SERVER_RS_BUCKETS words shared with the
 * XDP program) instead of the server's own; NULL: its own again. */
void server_share_rs_buckets(struct server *s, uint64_t *buckets);

/* The RA-limit bucket of an IPv4 address (network byte order). */
uint32_t server_rs_bucket(const struct server *s, uint32_t ip);

/* The RA the server sends, for the destination :: (the XDP program's template). */
void server_ra_template(const struct server *s, uint8_t out[96 /* TEREDO_RA_LEN */]);

/* Handle one datagram that arrived at time now (ms) on socket `sock` (SERVER_SOCK_*)
 * from src. Returns the number of actions written to out (0 or 1). out->body may point
 * into buf. */
int server_handle(struct server *s, uint64_t now, int sock, struct sw_endpoint src,
		  const uint8_t *buf, size_t len, struct sw_action *out);

#endif
