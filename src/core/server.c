/* Teredo server decisions, RFC 4380 §5.3.1 (checks S-03..S-09, forwarding S-10..S-14)
 * and §5.3.2 (Router Solicitation processing, S-15..S-20), with RFC 5991 §3.2. Stateless
 * (S-01, SEC-19) on its two sockets, a router only in what it answers and forwards
 * (S-02: RAs, bubbles, ICMPv6). An echo-test RS of RFC 6081 is an RS like any other
 * (S-22). Acting as a relay too (S-21, RFC 4380 §5.4.3): the relay role beside it on
 * the same host (tests/lab/test_onehost.sh), not merged into one socket. */
#include "core/server.h"

#include "core/siphash.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"
#include "wire/wire_err.h"

static const char *const drop_names[SRV_DROP__COUNT] = {
	[SRV_DROP_MALFORMED] = "malformed",
	[SRV_DROP_NOT_BUBBLE_ICMP] = "not_bubble_or_icmpv6",
	[SRV_DROP_SRC_NOT_GLOBAL] = "ipv4_source_not_global",
	[SRV_DROP_BAD_RS] = "invalid_router_solicitation",
	[SRV_DROP_SRC_MISMATCH] = "teredo_source_mismatch",
	[SRV_DROP_NOT_OURS] = "native_source_not_to_our_client",
	[SRV_DROP_LINK_LOCAL] = "link_local_not_rs",
	[SRV_DROP_DST_NOT_GLOBAL] = "destination_not_global",
	[SRV_DROP_DST_IPV4_NOT_GLOBAL] = "destination_ipv4_not_global",
	[SRV_DROP_TOO_BIG] = "icmpv6_too_big",
	[SRV_DROP_ND] = "neighbor_discovery",
	[SRV_DROP_LOOP] = "loop",
	[SRV_DROP_NO_IPV6] = "no_ipv6_egress",
	[SRV_DROP_NATIVE_BUBBLE] = "bubble_to_native",
	[SRV_DROP_RS_RATE] = "rs_rate_limited",
};

const char *server_drop_name(enum server_drop d)
{
	return (unsigned)d < SRV_DROP__COUNT ? drop_names[d] : "?";
}

void server_init(struct server *s, const struct server_config *cfg, const uint8_t key[16])
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	memcpy(s->key, key, sizeof s->key);
}

void server_share_rs_buckets(struct server *s, uint64_t *buckets)
{
	s->rs_shared = buckets;
}

static int drop(struct server *s, enum server_drop why)
{
	s->stats.dropped[why]++;
	return 0;
}

/* The same bucket as the XDP program's (src/bpf/teredo_srv.bpf.c): one inline hash. */
uint32_t server_rs_bucket(const struct server *s, uint32_t ip)
{
	return (uint32_t)(siphash24_u32(siphash_le64(s->key), siphash_le64(s->key + 8), ip) % SERVER_RS_BUCKETS);
}

static bool is_own_ipv4(const struct server *s, uint32_t ip)
{
	return ip == s->cfg.primary || ip == s->cfg.secondary;
}

/* RSs and pings to the server share one per-address budget (RFC 4380 §7.3.5, SEC-17):
 * neither may turn the server into a reflector at a spoofed victim. */
static bool rate_ok(struct server *s, uint64_t now, uint32_t ip)
{
	if (!s->cfg.rs_rate)
		return true;
	uint64_t *b = s->rs_shared ? s->rs_shared : s->rs_own;
	return ratelimit_take_word(&b[server_rs_bucket(s, ip)], now, s->cfg.rs_rate);
}

static size_t build_ra(const struct server *s, const struct in6_addr *dst, uint8_t *out)
{
	struct ra_params ra = { .mtu = s->cfg.mtu, .dst = *dst };
	teredo_server_link_local(s->cfg.primary, &ra.src);
	/* S-16: the prefix is always built on the primary address, also when the RS came
	 * to the secondary one. */
	memset(&ra.prefix, 0, sizeof ra.prefix);
	put_be32(ra.prefix.s6_addr, s->cfg.prefix);
	memcpy(ra.prefix.s6_addr + 4, &s->cfg.primary, 4);
	return ra_build(out, &ra);
}

void server_ra_template(const struct server *s, uint8_t out[TEREDO_RA_LEN])
{
	build_ra(s, &in6addr_any, out);
}

/* RFC 4380 §5.3.2: answer an RS with an RA that carries the client's mapping. */
static int answer_rs(struct server *s, uint64_t now, int sock, struct sw_endpoint src,
		     const struct teredo_pkt *p, struct sw_action *out)
{
	int err = icmp6_check_rs(p->ip6, p->ip6_len);
	if (err != WIRE_OK)
		return drop(s, SRV_DROP_BAD_RS);
	/* RFC 4380 §7.3.5 (SEC-17, SEC-19): RSs are unauthenticated and their answer is
	 * larger, so RAs to one address are rate limited in fixed memory; many clients
	 * behind one NAT share its address, hence a per-address rate, not per client. */
	if (!rate_ok(s, now, src.ip))
		return drop(s, SRV_DROP_RS_RATE);

	size_t off = 0;
	/* S-19 (interop): echo the nonce of a nonce-only authentication encapsulation,
	 * confirmation 0. Clients (Miredo, Windows) drop RAs that lack it. Secure
	 * qualification (identifier and MAC) is not offered, so ID and AU stay empty. */
	if (p->has_auth) {
		teredo_put_auth_nonce(out->hdr, p->nonce, 0);
		off += TEREDO_AUTH_MIN_LEN;
	}
	/* S-15: the RS's UDP source is the client's mapping. */
	teredo_put_origin(out->hdr + off, src);
	off += TEREDO_ORIGIN_LEN;

	struct in6_addr client;
	ip6_src(p->ip6, &client);
	off += build_ra(s, &client, out->hdr + off);

	/* S-17: C = 1 in the RS source asks for the answer from the other address (the
	 * legacy cone test); servers MUST NOT ignore it (RFC 5991 §3.2). */
	bool cone = (get_be16(client.s6_addr + 8) & TEREDO_FLAG_CONE) != 0;
	out->kind = SW_ACT_UDP;
	out->sock = (uint8_t)(cone ? !sock : sock);
	out->dst = src;
	out->hdr_len = off;
	out->body = NULL;
	out->body_len = 0;
	s->stats.rs_answered++;
	return 1;
}

/* RFC 4380 §5.3.1 (S-10): an echo request to the server's own link-local address is
 * answered locally, from that address, with the request's identifier, sequence and
 * data; no larger than the forwarding limit (S-24), so never more than came in. */
static int answer_echo(struct server *s, uint64_t now, int sock, struct sw_endpoint src,
		       const struct teredo_pkt *p, const struct in6_addr *src6, const struct in6_addr *ll,
		       struct sw_action *out)
{
	size_t mlen = p->ip6_len - IPV6_HDR_LEN;
	if (mlen < 8)
		return drop(s, SRV_DROP_MALFORMED);
	if (s->cfg.max_icmp_payload && mlen > s->cfg.max_icmp_payload)
		return drop(s, SRV_DROP_TOO_BIG);
	const uint8_t *m = p->ip6 + IPV6_HDR_LEN;
	if (m[1] != 0 || icmp6_checksum(src6, ll, m, mlen) != 0)
		return drop(s, SRV_DROP_MALFORMED);
	if (!rate_ok(s, now, src.ip))
		return drop(s, SRV_DROP_RS_RATE);
	uint8_t *h = out->hdr;
	ip6_put_header(h, (uint16_t)mlen, IPPROTO_ICMPV6_, 255, ll, src6);
	h[40] = ICMP6_ECHO_REP;
	h[41] = 0;
	h[42] = h[43] = 0;
	memcpy(h + 44, m + 4, 4); /* identifier and sequence */
	put_be16(h + 42, icmp6_checksum2(ll, src6, h + 40, 8, m + 8, mlen - 8));
	out->kind = SW_ACT_UDP;
	out->sock = (uint8_t)sock;
	out->dst = src;
	out->hdr_len = 48;
	out->body = m + 8;
	out->body_len = mlen - 8;
	s->stats.echo_answered++;
	return 1;
}

int server_handle(struct server *s, uint64_t now, int sock, struct sw_endpoint src,
		  const uint8_t *buf, size_t len, struct sw_action *out)
{
	struct teredo_pkt p;
	struct in6_addr src6, dst6;

	s->stats.received++;
	/* S-23: a datagram from our own service sockets can only be a loop. */
	if (is_own_ipv4(s, src.ip) && src.port == htons(TEREDO_PORT))
		return drop(s, SRV_DROP_LOOP);
	/* S-03 (1): well-formed Teredo payload. */
	if (teredo_parse(buf, len, &p) != WIRE_OK)
		return drop(s, SRV_DROP_MALFORMED);
	ip6_src(p.ip6, &src6);
	ip6_dst(p.ip6, &dst6);
	bool bubble = ip6_is_bubble(p.ip6, p.ip6_len);
	int icmp = icmp6_type(p.ip6, p.ip6_len);
	/* S-04 (2): only bubbles and ICMPv6. */
	if (!bubble && icmp < 0)
		return drop(s, SRV_DROP_NOT_BUBBLE_ICMP);
	/* S-05 (3): the IPv4 source must be global unicast (P-08). */
	if (!ipv4_is_global_unicast(src.ip))
		return drop(s, SRV_DROP_SRC_NOT_GLOBAL);
	/* S-06 (4): an RS from a link-local source to ff02::2. Other link-local sources
	 * go on to rule (6): Miredo's clients and relays send their indirect bubbles from
	 * a random link-local address, and its server forwards them. */
	if (in6_is_linklocal(&src6) && icmp == ICMP6_RS && in6_is_all_routers(&dst6))
		return answer_rs(s, now, sock, src, &p, out);

	bool dst_teredo = teredo_addr_has_prefix(&dst6, s->cfg.prefix);
	struct teredo_addr dt;
	if (dst_teredo)
		teredo_addr_decode(&dst6, &dt);
	bool dst_ours = dst_teredo && dt.server == s->cfg.primary;

	if (teredo_addr_has_prefix(&src6, s->cfg.prefix)) {
		/* S-07 (5): a Teredo source must be sending from its own mapping. */
		struct teredo_addr st;
		teredo_addr_decode(&src6, &st);
		if (!endpoint_eq(st.mapped, src))
			return drop(s, SRV_DROP_SRC_MISMATCH);
	} else if (!dst_ours) {
		/* S-08 (6) / S-09 (7): a native source may only reach our own clients
		 * (relays' indirect bubbles); anything else would make us an open relay. */
		return drop(s, SRV_DROP_NOT_OURS);
	}

	/* S-10: an echo request to our link-local address is ours to answer (after S-07,
	 * so only from a Teredo client sending from its own mapping). */
	if (icmp == ICMP6_ECHO_REQ && in6_is_linklocal(&dst6)) {
		struct in6_addr ll;
		teredo_server_link_local(s->cfg.primary, &ll);
		if (!memcmp(&ll, &dst6, 16))
			return answer_echo(s, now, sock, src, &p, &src6, &ll, out);
	}
	/* S-10, S-11: nothing link-scoped or multicast below global scope is forwarded. */
	if (!in6_is_global_scope(&dst6) || in6_is_multicast(&dst6))
		return drop(s, in6_is_linklocal(&dst6) ? SRV_DROP_LINK_LOCAL : SRV_DROP_DST_NOT_GLOBAL);
	if (icmp >= ICMP6_RS && icmp <= 137)
		return drop(s, SRV_DROP_ND);
	/* S-24: forward only small ICMPv6, as Miredo and Microsoft servers do. */
	if (!bubble && s->cfg.max_icmp_payload && ip6_plen(p.ip6) > s->cfg.max_icmp_payload)
		return drop(s, SRV_DROP_TOO_BIG);

	out->body = p.ip6;
	if (dst_teredo) {
		/* S-13: only to a global unicast mapping, never to ourselves. */
		if (!ipv4_is_global_unicast(dt.mapped.ip))
			return drop(s, SRV_DROP_DST_IPV4_NOT_GLOBAL);
		if (is_own_ipv4(s, dt.mapped.ip))
			return drop(s, SRV_DROP_LOOP);
		out->kind = SW_ACT_UDP;
		out->sock = SERVER_SOCK_PRIMARY;
		out->dst = dt.mapped;
		out->hdr_len = 0;
		/* S-14: an origin indication for our own clients, so that they can answer
		 * the sender with a direct bubble (C-32). */
		if (dst_ours) {
			teredo_put_origin(out->hdr, src);
			out->hdr_len = TEREDO_ORIGIN_LEN;
		}
		/* RFC 6081 trailers travel on unchanged. */
		out->body_len = p.ip6_len + p.trailers_len;
		s->stats.forwarded_udp++;
		return 1;
	}
	/* S-12: native destinations, for the clients' direct connectivity test. */
	if (bubble)
		return drop(s, SRV_DROP_NATIVE_BUBBLE);
	if (!s->cfg.ipv6_egress)
		return drop(s, SRV_DROP_NO_IPV6);
	out->kind = SW_ACT_IPV6;
	out->sock = 0;
	out->dst = (struct sw_endpoint){ 0 };
	out->hdr_len = 0;
	out->body_len = p.ip6_len;
	s->stats.forwarded_ipv6++;
	return 1;
}
