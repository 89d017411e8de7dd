/* flood: hostile traffic for the lab's hardening tests (issue 5). Sends Teredo datagrams
 * with spoofed IPv4 sources through a raw socket (IP_HDRINCL), bounded in count and
 * paced, so that traffic stays inside the lab and the machine stays responsive.
 *
 *   flood -t IP:PORT [-n COUNT] [-s SOURCES] [-r PPS] [-m server|relay|client]
 *         [-S SERVER] [-6 NATIVE] [-d TEREDO-DST]
 *       COUNT packets (default 1000000) from SOURCES distinct spoofed (address, port)
 *       pairs in 203.0.113.0/24 (default 100000), at PPS packets per second (default
 *       100000; 0 = unpaced). The mix of packets suits the role under attack:
 *       solicitations, bubbles, echo requests from Teredo addresses that match their
 *       spoofed source (so that they create state), mismatched sources and garbage.
 *       SERVER is the Teredo server the spoofed addresses name; NATIVE a native IPv6
 *       destination; TEREDO-DST the attacked client's Teredo address.
 *   flood -t IP:PORT -c CASE [-n COUNT] [-f SRC-IP:PORT] [-S ...] [-6 ...] [-d ...]
 *       COUNT copies (default 10) of one malformed or adversarial packet, from SRC
 *       (default 203.0.113.99:40000). Every IPv6 header it writes carries flow label
 *       0x5badf, so that a capture on the far side can prove none got through.
 *   flood -m native [-n COUNT] [-s SOURCES] [-r PPS] [-S SERVER] [-6 NATIVE] [-P NETS]
 *       from the native IPv6 side (a raw IPv6 socket, source NATIVE, which must be one
 *       of this host's addresses): echo requests to the Teredo addresses of SOURCES
 *       clients that do not exist, routed to whatever relay serves 2001::/32 here.
 *       With NETS, the source is spoofed across that many /64s (NATIVE with its third
 *       group 0x8000 + n), as an attacker who owns many networks would send.
 *   flood -l
 *       lists the cases.
 *
 * Prints "sent N packets in S s (P pps) from K sources". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire/bytes.h"
#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/teredo_addr.h"

#define BATCH 64
#define MAXPKT 1500
#define FLOW_MARK 0x5badfu

struct ctx {
	struct sw_endpoint src;     /* spoofed UDP source of this packet */
	uint32_t server;            /* the Teredo server named by spoofed addresses */
	struct in6_addr native, tdst;
	uint32_t seq;
};

static uint32_t rnd_state = 0x9e3779b9;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void mark(uint8_t *ip6)
{
	put_be32(ip6, (6u << 28) | FLOW_MARK);
}

/* The Teredo address a client behind `ep` would have with our server. */
static void teredo_of(const struct ctx *c, struct sw_endpoint ep, struct in6_addr *out)
{
	struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = c->server, .mapped = ep };
	teredo_addr_encode(&t, out);
}

static size_t echo(uint8_t *out, const struct in6_addr *s, const struct in6_addr *d, uint32_t seq)
{
	static const uint8_t data[16] = "shipworm flood!";
	size_t n = icmp6_build_echo(out, MAXPKT, 128, 64, s, d, 0x5350, (uint16_t)seq, data, sizeof data);
	mark(out);
	return n;
}

static size_t bubble(uint8_t *out, const struct in6_addr *s, const struct in6_addr *d)
{
	size_t n = bubble_build(out, s, d);
	mark(out);
	return n;
}

/* An RS with a nonce-only authentication header; with `option`, a source link-layer
 * address option too, a form the server's XDP program leaves to the daemon (both must
 * answer under one RA limit). */
static size_t rs(uint8_t *out, bool cone, bool option)
{
	uint8_t nonce[8];
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)rnd();
	teredo_put_auth_nonce(out, nonce, 0);
	struct in6_addr s, d;
	inet_pton(AF_INET6, cone ? "fe80::8000:ffff:ffff:ffff" : "fe80::ffff:ffff:ffff", &s);
	inet_pton(AF_INET6, "ff02::2", &d);
	uint8_t *ip6 = out + TEREDO_AUTH_MIN_LEN;
	size_t mlen = option ? 16 : 8;
	ip6_put_header(ip6, (uint16_t)mlen, 58, 255, &s, &d);
	mark(ip6);
	memset(ip6 + 40, 0, mlen);
	ip6[40] = ICMP6_RS;
	if (option) {
		ip6[48] = 1; /* source link-layer address, 8 bytes */
		ip6[49] = 1;
		memcpy(ip6 + 50, "\x02\x00\x5b\xad\x0f\x01", 6);
	}
	put_be16(ip6 + 42, icmp6_checksum(&s, &d, ip6 + 40, mlen));
	return TEREDO_AUTH_MIN_LEN + 40 + mlen;
}

/* --- the cases of the replay test: each one packet, malformed or adversarial --- */
struct replay_case {
	const char *name, *what;
	size_t (*build)(const struct ctx *c, uint8_t *out);
};

static size_t c_empty(const struct ctx *c, uint8_t *out) { return 0; }
static size_t c_short(const struct ctx *c, uint8_t *out)
{
	memcpy(out, "\x60\x05\xba\xdf\x00\x00\x3b", 7);
	return 7;
}
static size_t c_truncated(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	teredo_of(c, c->src, &s);
	bubble(out, &s, &c->tdst);
	return 39;
}
static size_t c_wrong_version(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	teredo_of(c, c->src, &s);
	size_t n = echo(out, &s, &c->native, c->seq);
	out[0] = (uint8_t)((4 << 4) | (out[0] & 0x0f));
	return n;
}
static size_t c_length_lies(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	teredo_of(c, c->src, &s);
	size_t n = echo(out, &s, &c->native, c->seq);
	put_be16(out + 4, 400);
	return n;
}
static size_t c_oversized(const struct ctx *c, uint8_t *out)
{
	/* A full-size 1500-byte datagram whose IPv6 header claims 64 KiB. */
	struct in6_addr s;
	teredo_of(c, c->src, &s);
	echo(out, &s, &c->native, c->seq);
	put_be16(out + 4, 65535);
	memset(out + 64, 0xab, MAXPKT - 28 - 64);
	return MAXPKT - 28;
}
static size_t c_auth_idlen(const struct ctx *c, uint8_t *out)
{
	out[0] = 0;
	out[1] = 1;
	out[2] = 200; /* ID-len beyond the datagram */
	out[3] = 0;
	memset(out + 4, 0x11, 20);
	return 24;
}
static size_t c_auth_aulen(const struct ctx *c, uint8_t *out)
{
	out[0] = 0;
	out[1] = 1;
	out[2] = 0;
	out[3] = 250; /* AU-len beyond the datagram */
	memset(out + 4, 0x22, 40);
	return 44;
}
static size_t c_origin_truncated(const struct ctx *c, uint8_t *out)
{
	out[0] = 0;
	out[1] = 0;
	memset(out + 2, 0xff, 4);
	return 6;
}
static size_t c_origin_garbage(const struct ctx *c, uint8_t *out)
{
	out[0] = 0;
	out[1] = 0;
	memset(out + 2, 0x5a, 6);
	memset(out + 8, 0x45, 40); /* then not IPv6 */
	return 48;
}
static size_t c_double_auth(const struct ctx *c, uint8_t *out)
{
	size_t n = rs(out + TEREDO_AUTH_MIN_LEN, false, false);
	uint8_t nonce[8] = { 0 };
	teredo_put_auth_nonce(out, nonce, 0);
	return TEREDO_AUTH_MIN_LEN + n;
}
static size_t c_ipv4_inside(const struct ctx *c, uint8_t *out)
{
	/* An IPv4 packet where the IPv6 one belongs (nested encapsulation). */
	memset(out, 0, 48);
	out[0] = 0x45;
	put_be16(out + 2, 48);
	out[8] = 64;
	out[9] = 17;
	memcpy(out + 12, &c->src.ip, 4);
	memcpy(out + 16, &c->server, 4);
	return 48;
}
static size_t c_ipv6_in_ipv6(const struct ctx *c, uint8_t *out)
{
	/* IPv6-in-IPv6 from a Teredo source that does not match the UDP source. */
	struct in6_addr s, inner_s;
	struct sw_endpoint other = { htonl(0xcb007107), htons(1234) };
	teredo_of(c, other, &s);
	teredo_of(c, c->src, &inner_s);
	size_t n = echo(out + 40, &inner_s, &c->native, c->seq);
	ip6_put_header(out, (uint16_t)n, 41, 64, &s, &c->native);
	mark(out);
	return 40 + n;
}
static size_t c_mismatch(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	struct sw_endpoint other = { htonl(0xcb007107), htons(1234) };
	teredo_of(c, other, &s);
	return echo(out, &s, &c->native, c->seq);
}
static size_t c_bubble_payload(const struct ctx *c, uint8_t *out)
{
	/* "No next header" with 20 bytes after it: not a bubble, and from a stranger. */
	struct in6_addr s;
	struct sw_endpoint other = { htonl(0xcb007107), htons(1234) };
	teredo_of(c, other, &s);
	bubble(out, &s, &c->tdst);
	put_be16(out + 4, 20);
	memset(out + 40, 0x77, 20);
	return 60;
}
static size_t c_link_local_src(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	inet_pton(AF_INET6, "fe80::1", &s);
	return echo(out, &s, &c->native, c->seq);
}
static size_t c_multicast_src(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s;
	inet_pton(AF_INET6, "ff0e::1", &s);
	return echo(out, &s, &c->native, c->seq);
}
static size_t c_multicast_dst(const struct ctx *c, uint8_t *out)
{
	struct in6_addr s, d;
	teredo_of(c, c->src, &s);
	inet_pton(AF_INET6, "ff0e::1", &d);
	return echo(out, &s, &d, c->seq);
}
static size_t c_rs_bad_checksum(const struct ctx *c, uint8_t *out)
{
	size_t n = rs(out, false, false);
	out[n - 5] ^= 0x55;
	return n;
}
static size_t c_rs_zero_option(const struct ctx *c, uint8_t *out)
{
	/* An RS with an option of length 0 (RFC 4861 §6.1.1: drop). */
	size_t n = rs(out, false, false);
	uint8_t *ip6 = out + TEREDO_AUTH_MIN_LEN;
	struct in6_addr s, d;
	ip6_src(ip6, &s);
	ip6_dst(ip6, &d);
	put_be16(ip6 + 4, 16);
	memset(ip6 + 48, 0, 8);
	ip6[48] = 1; /* source link-layer address option, length 0 */
	put_be16(ip6 + 42, 0);
	put_be16(ip6 + 42, icmp6_checksum(&s, &d, ip6 + 40, 16));
	return n + 8;
}
static size_t c_ra_unsolicited(const struct ctx *c, uint8_t *out)
{
	/* An RA with a prefix of the attacker's choosing, as if from the server. */
	struct ra_params ra = { .mtu = 1280 };
	teredo_server_link_local(c->server, &ra.src);
	inet_pton(AF_INET6, "fe80::ffff:ffff:ffff", &ra.dst);
	inet_pton(AF_INET6, "2001:0:cb00:7163::", &ra.prefix);
	size_t n = ra_build(out + TEREDO_ORIGIN_LEN, &ra);
	teredo_put_origin(out, c->src);
	mark(out + TEREDO_ORIGIN_LEN);
	return TEREDO_ORIGIN_LEN + n;
}
static size_t c_from_server(const struct ctx *c, uint8_t *out)
{
	/* What a spoofer claiming the server's address could send: an indirect bubble
	 * whose origin indication aims at a private address (P-08). */
	struct in6_addr s;
	struct sw_endpoint victim = { htonl(0x0a000063), htons(80) };
	teredo_of(c, victim, &s);
	teredo_put_origin(out, victim);
	return TEREDO_ORIGIN_LEN + bubble(out + TEREDO_ORIGIN_LEN, &s, &c->tdst);
}

static const struct replay_case cases[] = {
	{ "empty", "a datagram with no payload", c_empty },
	{ "short", "7 bytes, less than any header", c_short },
	{ "truncated", "an IPv6 header cut at 39 bytes", c_truncated },
	{ "wrong-version", "an echo request whose version field says 4", c_wrong_version },
	{ "length-lies", "payload length 400 with 24 bytes present", c_length_lies },
	{ "oversized", "1472 bytes whose IPv6 header claims 65535", c_oversized },
	{ "auth-idlen", "authentication header with an ID-len past the end", c_auth_idlen },
	{ "auth-aulen", "authentication header with an AU-len past the end", c_auth_aulen },
	{ "origin-truncated", "origin indication cut short", c_origin_truncated },
	{ "origin-garbage", "origin indication followed by no IPv6 packet", c_origin_garbage },
	{ "double-auth", "two authentication headers in a row", c_double_auth },
	{ "ipv4-inside", "an IPv4 packet where the IPv6 one belongs", c_ipv4_inside },
	{ "ipv6-in-ipv6", "nested IPv6 from a Teredo source that does not match", c_ipv6_in_ipv6 },
	{ "mismatch", "echo request from a Teredo source that does not match", c_mismatch },
	{ "bubble-payload", "a bubble with a payload, from a stranger", c_bubble_payload },
	{ "link-local-src", "echo request from a link-local source", c_link_local_src },
	{ "multicast-src", "echo request from a multicast source", c_multicast_src },
	{ "multicast-dst", "echo request to a multicast destination", c_multicast_dst },
	{ "rs-bad-checksum", "router solicitation with a bad checksum", c_rs_bad_checksum },
	{ "rs-zero-option", "router solicitation with a zero-length option", c_rs_zero_option },
	{ "ra-unsolicited", "unsolicited RA with a prefix of the attacker's choosing", c_ra_unsolicited },
	{ "from-server", "indirect bubble claiming the server's address, aimed at 10.0.0.99", c_from_server },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* --- the flood: one packet of the role's mix --- */
enum mix { MIX_SERVER, MIX_RELAY, MIX_CLIENT, MIX_NATIVE };

static size_t flood_packet(const struct ctx *c, enum mix m, uint32_t i, uint8_t *out)
{
	struct in6_addr s, d;
	teredo_of(c, c->src, &s);
	uint32_t k = i % 8;
	if (k == 6)
		return cases[(i / 8) % 12].build(c, out); /* malformed ones */
	if (k == 7)
		return c_mismatch(c, out);
	switch (m) {
	case MIX_SERVER:
		if (k < 3)
			return rs(out, k == 2, k == 1);
		if (k < 5) { /* to a client of ours behind another spoofed address (S-14) */
			struct sw_endpoint ep = { c->src.ip ^ htonl(1), c->src.port };
			teredo_of(c, ep, &d);
			return k == 3 ? bubble(out, &s, &d) : echo(out, &s, &d, c->seq);
		}
		return echo(out, &s, &c->native, c->seq);
	case MIX_RELAY:
		if (k < 2)
			return bubble(out, &s, &c->native);
		return echo(out, &s, &c->native, c->seq);
	case MIX_NATIVE: /* built by native_packet */
		return 0;
	case MIX_CLIENT:
		if (k < 2)
			return bubble(out, &s, &c->tdst);
		if (k < 5)
			return echo(out, &s, &c->tdst, c->seq);
		/* from a native address nobody vouched for: a connectivity test (C-41) */
		inet_pton(AF_INET6, "2001:db8:77::", &d);
		put_be32(d.s6_addr + 12, i);
		return echo(out, &d, &c->tdst, c->seq);
	}
	return 0;
}

/* From the native side: echo requests from NATIVE to the Teredo addresses of SOURCES
 * spoofed clients, each new to a relay (a peer, a queued packet, a bubble exchange). */
static size_t native_packet(const struct ctx *c, uint8_t *out)
{
	struct in6_addr d;
	teredo_of(c, c->src, &d);
	return echo(out, &c->native, &d, c->seq);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_ep(const char *s, struct sw_endpoint *ep)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof ip)
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = 0;
	ep->port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, ip, &ep->ip) == 1 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: flood -t IP:PORT [-n COUNT] [-s SOURCES] [-r PPS] [-m server|relay|client]\n"
			"             [-S SERVER] [-6 NATIVE] [-d TEREDO-DST] [-P NETS]\n"
			"       flood -t IP:PORT -c CASE [-n COUNT] [-f SRC-IP:PORT] [...]\n"
			"       flood -l\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sw_endpoint target = { 0 }, from = { htonl(0xcb007163), htons(40000) };
	long count = -1, sources = 100000, pps = 100000, nets = 0;
	enum mix m = MIX_SERVER;
	const struct replay_case *rc = NULL;
	struct ctx c = { .server = htonl(0xc633640a) };
	inet_pton(AF_INET6, "2001:db8:1::100", &c.native);
	inet_pton(AF_INET6, "2001:0:c633:640a::1", &c.tdst);
	int opt;
	while ((opt = getopt(argc, argv, "t:n:s:r:m:S:6:d:c:f:lP:")) != -1) {
		switch (opt) {
		case 't': if (parse_ep(optarg, &target) < 0) usage(); break;
		case 'f': if (parse_ep(optarg, &from) < 0) usage(); break;
		case 'n': count = atol(optarg); break;
		case 's': sources = atol(optarg); break;
		case 'r': pps = atol(optarg); break;
		case 'P': nets = atol(optarg); break;
		case 'm':
			m = !strcmp(optarg, "relay") ? MIX_RELAY : !strcmp(optarg, "client") ? MIX_CLIENT
			    : !strcmp(optarg, "native") ? MIX_NATIVE : MIX_SERVER;
			break;
		case 'S': if (inet_pton(AF_INET, optarg, &c.server) != 1) usage(); break;
		case '6': if (inet_pton(AF_INET6, optarg, &c.native) != 1) usage(); break;
		case 'd': if (inet_pton(AF_INET6, optarg, &c.tdst) != 1) usage(); break;
		case 'c':
			for (size_t i = 0; i < NCASES; i++)
				if (!strcmp(cases[i].name, optarg))
					rc = &cases[i];
			if (!rc) {
				fprintf(stderr, "flood: no case \"%s\" (flood -l lists them)\n", optarg);
				return 2;
			}
			break;
		case 'l':
			for (size_t i = 0; i < NCASES; i++)
				printf("%-18s %s\n", cases[i].name, cases[i].what);
			return 0;
		default: usage();
		}
	}
	if ((!target.ip && m != MIX_NATIVE) || sources < 1 || pps < 0 || nets < 0 || nets > 0x7fff)
		usage();
	bool native = m == MIX_NATIVE && !rc;
	if (count < 0)
		count = rc ? 10 : 1000000;
	if (count > 10000000)
		count = 10000000; /* every loop of the lab is bounded */

	int fd = socket(native ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("flood: raw socket");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

	static uint8_t pkts[BATCH][MAXPKT];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = target.ip };
	static struct sockaddr_in6 dst6[BATCH];
	long sent = 0, errors = 0;
	double t0 = now_s();
	while (sent < count) {
		int n = 0;
		for (; n < BATCH && sent + n < count; n++) {
			uint32_t i = (uint32_t)(sent + n);
			if (rc) {
				c.src = from;
			} else {
				uint32_t k = i % (uint32_t)sources;
				c.src.ip = htonl(0xcb007100 | (1 + k % 254));
				c.src.port = htons((uint16_t)(1024 + (k / 254) % 64000));
			}
			c.seq = i;
			uint8_t *p = pkts[n];
			if (native) {
				struct ctx cn = c; /* the source of this packet, its checksum over it */
				if (nets)
					put_be16(cn.native.s6_addr + 4, (uint16_t)(0x8000 | i % (uint32_t)nets));
				size_t len = native_packet(&cn, p);
				dst6[n] = (struct sockaddr_in6){ .sin6_family = AF_INET6 };
				memcpy(&dst6[n].sin6_addr, p + 24, 16);
				iov[n] = (struct iovec){ p, len };
				msgs[n] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst6[n], .msg_namelen = sizeof dst6[n],
									 .msg_iov = &iov[n], .msg_iovlen = 1 } };
				continue;
			}
			size_t len = rc ? rc->build(&c, p + 28) : flood_packet(&c, m, i, p + 28);
			struct iphdr *ip = (struct iphdr *)p;
			memset(ip, 0, sizeof *ip);
			ip->version = 4;
			ip->ihl = 5;
			ip->ttl = 64;
			ip->protocol = IPPROTO_UDP;
			ip->saddr = c.src.ip;
			ip->daddr = target.ip;
			ip->tot_len = htons((uint16_t)(28 + len)); /* the kernel fills id and checksum */
			struct udphdr *u = (struct udphdr *)(p + 20);
			u->source = c.src.port;
			u->dest = target.port;
			u->len = htons((uint16_t)(8 + len));
			u->check = 0; /* no UDP checksum over IPv4 */
			iov[n] = (struct iovec){ p, 28 + len };
			msgs[n] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst, .msg_namelen = sizeof dst,
								 .msg_iov = &iov[n], .msg_iovlen = 1 } };
		}
		int r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r <= 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("flood: sendmmsg");
				return 1;
			}
			errors++;
			usleep(100);
			continue;
		}
		sent += r;
		if (pps) { /* pace: never ahead of the schedule */
			double ahead = (double)sent / (double)pps - (now_s() - t0);
			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
		if (now_s() - t0 > 120)
			break; /* a hard stop in time, too */
	}
	double dt = now_s() - t0;
	printf("sent %ld packets in %.2f s (%.0f pps) from %ld sources\n", sent, dt, dt > 0 ? sent / dt : 0.0,
	       rc ? 1 : (sources < sent ? sources : sent));
	return sent == count ? 0 : 1;
}
