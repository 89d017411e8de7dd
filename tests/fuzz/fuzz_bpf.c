/* libFuzzer, differential: the kernel fast path's programs (src/bpf/teredo_in.bpf.c,
 * teredo_out.bpf.c) against the cores whose rules they mirror (issue 10: "rules live in
 * core/ and are mirrored, never invented, in the programs"). Each input is one packet,
 * run through its program with BPF_PROG_TEST_RUN in three lanes, each with its own core,
 * programs and maps, living as the daemon does (every datagram its socket would receive
 * and every packet its TUN would read go to the core, the trust journal is mirrored into
 * the peer map after each step, the ring buffer's reports go back, the client's address
 * into the programs' configuration): a relay, a host-specific relay whose host has the
 * native address 2001:db8:1::100 (H-01, H-05), a qualified client behind a cone NAT, one
 * behind a port-preserving symmetric NAT whose peer the core trusts on the random port it
 * lent that peer (RFC 6081 §5.4, X-38 (d)), a host relay with a second socket (one
 * behind a NAT, RFC 4380 §8.2) whose peer answered on that one, and a client behind a
 * single UPnP-enabled symmetric NAT whose symmetric peer it sends to at the mapping the
 * peer's address names (RFC 6081 §5.3.4, X-25, X-26), whose IGD mapping goes away and
 * comes back every 512 inputs (X-26 then stops and starts again for the trusted peer).
 *
 * What must hold, whatever the packet:
 * - a packet a program leaves to the daemon (TC_ACT_UNSPEC: to the next filter, then on)
 *   is untouched, byte for byte;
 * - a packet teredo_in decapsulates is a well-formed UDP datagram to our address and
 *   port, checksum right or none, carrying exactly one bare IPv6 packet, which comes out
 *   alone behind the frame's Ethernet header; and the core, given that datagram as the
 *   daemon's socket would, writes the same IPv6 packet to the TUN;
 * - a packet teredo_out encapsulates comes out as IPv4 (checksum right) + UDP from our
 *   port + the same IPv6 packet; and the core, given that packet as the TUN would, sends
 *   the same bytes to the same mapping;
 * - nothing else (TC_ACT_SHOT is for a helper failing halfway, which a test run never
 *   meets);
 * - and, checked every 64 inputs, the peer map holds no peer the core does not trust at
 *   that very mapping and through that very socket (the trust journal lost nothing the
 *   kernel still acts on).
 * Leaving more to the daemon than the core would carry is allowed (the programs are
 * conservative); carrying what the core would not is the bug this target looks for.
 *
 * Each lane has a peer its core trusts from the start (the relays: a client at
 * 203.0.113.7:40000; the client: another client at 203.0.113.8:40001; the symmetric
 * one: a client at 198.51.100.24:60000, trusted on the random port 50001; the host relay
 * with two sockets: the relays' client, on its socket at 50002; the UPnP one: a client
 * writing from 198.51.100.25:61234 whose address names :40002) and an address
 * of its own side ("here": the native host for the relays, its Teredo address for the
 * clients). Byte 0 of an input: bit 0 the direction (0: a frame arriving on the IPv4
 * interface, 1: a packet the host routes into the tunnel). Inward: bit 1 the rest is
 * the whole IPv4 packet, else bits 2-3 pick the UDP source (0: the lane's peer, whose
 * address and ours replace the inner packet's; 1: the mapping inside the inner packet's
 * Teredo source; 2: bytes 1-6; 3: the lane's peer, addresses as they are), bits 4-5 its
 * checksum (none, right, wrong), bit 6 another port (the other socket's in the lanes that
 * have one), bit 7 another address, and bytes
 * 7- are the payload. Outward: bit 1 makes the packet go from here to the lane's peer,
 * bytes 1- are the IPv6 packet. Needs root (CAP_BPF), as test_bpf does. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/client.h"
#include "core/relay.h"
#include "frames.h"
#include "sys/fastpath.h"
#include "wire/encap.h"
#include "wire/teredo_addr.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

#include "fuzz_qualify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF_IP 0xc633641eu /* 198.51.100.30: ours, in every lane */
#define PORT 3544
#define LANES 6

struct lane {
	const char *name;
	enum fp_role role;
	bool random;      /* behind a symmetric NAT, the peer on a random port */
	bool upnp;        /* behind a single UPnP-enabled symmetric NAT, the peer symmetric */
	uint8_t osock;    /* the other core socket its peer is trusted on (0: none) */
	uint16_t oport;   /* that socket's port (host order) */
	uint16_t port;    /* our Teredo port (host order) */
	struct relay rl;  /* the relays */
	struct client cl; /* the client */
	struct fastpath *fp;
	struct fp_config f;
	int in_fd, out_fd;
	struct in6_addr here, peer;
	struct sw_endpoint peer_map;
	unsigned long n_in, n_decap, n_out, n_encap;
	unsigned long n_decap_osock, n_encap_osock, restarts; /* on the other socket */
	unsigned long n_encap_at_address, upnp_flips;         /* */
};
static struct lane lanes[LANES] = {
	{ .name = "relay", .role = FP_ROLE_RELAY },
	{ .name = "host relay", .role = FP_ROLE_HOST_RELAY },
	{ .name = "client", .role = FP_ROLE_CLIENT },
	{ .name = "client, random port", .role = FP_ROLE_CLIENT, .random = true, .osock = CLIENT_SOCK_RANDOM,
	  .oport = 50001 },
	{ .name = "host relay, socket 1", .role = FP_ROLE_HOST_RELAY, .osock = 1, .oport = 50002 },
	{ .name = "client, UPnP (X-26)", .role = FP_ROLE_CLIENT, .upnp = true },
};
static int ready;
static const char *cur = "setup"; /* the lane being run */
static uint8_t pkt[2048], out[2048];

/* The mismatch, with what the fuzzer needs to see it, then a crash libFuzzer keeps. */
#define MUST(cond, ...)                                                                    \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_bpf (%s): %s: ", cur, #cond);                \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

static void rng(void *ctx, void *o, size_t len)
{
	memset(o, 0x42, len);
}

/* The daemon's clock (CLOCK_BOOTTIME ms): the programs read the same clock. */
static uint64_t boot_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A datagram on core socket `sock` (0: the Teredo socket). */
static int core_udp(struct lane *l, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *b, size_t n,
		    struct sw_action *acts)
{
	return l->role == FP_ROLE_CLIENT ? client_udp_on(&l->cl, now, sock, src, b, n, acts, 32)
					 : relay_udp_on(&l->rl, now, sock, src, b, n, acts, 32);
}

/* Our port of core socket `sock` in lane l (host order), 0 for none. */
static uint16_t sock_port(const struct lane *l, uint8_t sock)
{
	return sock == 0 ? l->port : l->osock && sock == l->osock ? l->oport : 0;
}

static int core_tun(struct lane *l, uint64_t now, const uint8_t *b, size_t n, struct sw_action *acts)
{
	return l->role == FP_ROLE_CLIENT ? client_tun(&l->cl, now, b, n, acts, 32)
					 : relay_tun(&l->rl, now, b, n, acts, 32);
}

static void on_seen(void *ctx, const struct in6_addr *a, uint64_t at, uint32_t n, uint64_t sent)
{
	struct lane *l = ctx;
	if (l->role == FP_ROLE_CLIENT) {
		client_peer_seen(&l->cl, a, at, n);
		if (sent)
			client_peer_sent(&l->cl, a, sent);
	} else {
		relay_peer_seen(&l->rl, a, at, n);
	}
}

/* What the shell does after each call into a core (relay_io.c fp_sync, fp_seen;
 * client_io.c fp_sync, fp_address). */
static void shell(struct lane *l, const struct sw_action *acts, int n)
{
	for (int i = 0; i < n; i++)
		if (acts[i].kind == SW_ACT_SET_ADDR || acts[i].kind == SW_ACT_CLEAR_ADDR) {
			memset(l->f.self6, 0, 16);
			if (acts[i].kind == SW_ACT_SET_ADDR)
				memcpy(l->f.self6, &acts[i].addr, 16);
			MUST(fastpath_configure(l->fp, &l->f) == 0, "fastpath_configure");
		}
	struct trust_log *log = l->role == FP_ROLE_CLIENT ? &l->cl.trust : &l->rl.trust;
	uint16_t sports[CLIENT_SOCK_RANDOM + 1];
	for (uint8_t i = 0; i <= CLIENT_SOCK_RANDOM; i++)
		sports[i] = htons(sock_port(l, i));
	fastpath_apply(l->fp, log, sports, l->osock + 1u);
	fastpath_seen_drain(l->fp, on_seen, l);
}

static int run(int prog, size_t len, uint32_t *out_len)
{
	struct __sk_buff ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof out, .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = 1);
	int r = bpf_prog_test_run_opts(prog, &o);
	MUST(r == 0, "test run failed (%d)", r);
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/* How far the run went, printed at exit: a target that never reached the programs'
 * deepest paths would pass while testing nothing. */
static void report(void)
{
	for (int i = 0; i < LANES; i++)
		fprintf(stderr,
			"fuzz_bpf: %-20s teredo_in ran %lu times, decapsulated %lu; teredo_out ran %lu, encapsulated %lu\n",
			lanes[i].name, lanes[i].n_in, lanes[i].n_decap, lanes[i].n_out, lanes[i].n_encap);
	for (int i = 0; i < LANES; i++)
		if (lanes[i].osock)
			fprintf(stderr, "fuzz_bpf: %-20s on socket %u: decapsulated %lu, encapsulated %lu; restarted %lu times\n",
				lanes[i].name, lanes[i].osock, lanes[i].n_decap_osock, lanes[i].n_encap_osock, lanes[i].restarts);
		else if (lanes[i].upnp)
			fprintf(stderr,
				"fuzz_bpf: %-20s encapsulated %lu to the mapping the address names; UPnP mapping lost or found "
				"%lu times; restarted %lu times\n",
				lanes[i].name, lanes[i].n_encap_at_address, lanes[i].upnp_flips, lanes[i].restarts);
}

static struct in6_addr teredo(uint32_t ip, uint16_t port)
{
	struct teredo_addr t = { .prefix = TEREDO_PREFIX_DEFAULT, .server = htonl(0xc633640a),
				 .mapped = { htonl(ip), htons(port) } };
	struct in6_addr a;
	teredo_addr_encode(&t, &a);
	return a;
}

/* The host writes to the lane's peer (an echo request), which starts contact; the
 * packet stays in static storage, since the core's actions may borrow from it. */
static int host_writes(struct lane *l, uint64_t now, struct sw_action *acts)
{
	static uint8_t b[48];
	memset(b, 0, sizeof b);
	b[0] = 0x60;
	b[5] = 8;
	b[6] = 58;
	b[7] = 64;
	memcpy(b + 8, &l->here, 16);
	memcpy(b + 24, &l->peer, 16);
	b[40] = 128;
	return client_tun(&l->cl, now, b, sizeof b, acts, 32);
}

/* RFC 6081 §5.4 as the core's unit test walks it (test_client.c,
 * rfc6081_s5_4_x35_x38_port_preserving_random_port): the host writes to a peer behind
 * 198.51.100.24, which lends the peer our random port; the peer's indirect
 * bubble announces its own random port 60000; its bubble from there on our random
 * port makes it trusted on that port (X-38 (d)). */
static void trust_on_random_port(struct lane *l, uint64_t now)
{
	struct sw_action acts[32];
	l->peer = teredo(0xc6336418, 40000);
	l->peer_map = (struct sw_endpoint){ htonl(0xc6336418), htons(60000) };
	shell(l, acts, host_writes(l, now, acts));
	uint8_t b[128];
	/* Its indirect bubble through our server: origin, bubble, nonce, random port. */
	static const uint8_t nonce[8] = { 0xa, 0xb, 0xc, 0xd };
	teredo_put_origin(b, (struct sw_endpoint){ htonl(0xc6336418), htons(41000) });
	uint8_t *six = b + 8;
	memset(six, 0, 40);
	six[0] = 0x60;
	six[6] = 59;
	six[7] = 64;
	memcpy(six + 8, &l->peer, 16);
	memcpy(six + 24, &l->here, 16);
	size_t len = 48 + trailer_put_nonce(b + 48, nonce);
	len += trailer_put_random_port(b + len, htons(60000));
	shell(l, acts, core_udp(l, now, 0, (struct sw_endpoint){ htonl(0xc633640a), htons(3544) }, b, len, acts));
	shell(l, acts, core_udp(l, now, CLIENT_SOCK_RANDOM, l->peer_map, six, 40, acts));
	const struct peer *p = peer_find(&l->cl.peers, &l->peer);
	MUST(p && p->trusted && p->sock == CLIENT_SOCK_RANDOM, "the core did not trust its peer on the random port");
	struct fp_peer v;
	MUST(bpf_map_lookup_elem(fastpath_peers_fd(l->fp), &l->peer, &v) == 0 && v.sport == htons(l->oport),
	     "the peer is not in the map at its random port");
}

/* RFC 6081 §5.3.4 as the core's unit test walks it (test_client.c,
 * rfc6081_s5_3_4_x25_x26_symmetric_peer_reached_at_its_address): the host writes to a
 * peer whose address names 198.51.100.25:40002; its direct bubble comes from :61234 with
 * the nonce of our indirect one, which makes it a Symmetric Peer, trusted
 * where it writes from and sent to at the mapping its address names. */
static void trust_symmetric_peer(struct lane *l, uint64_t now)
{
	struct sw_action acts[32];
	struct sw_endpoint named = { htonl(0xc6336419), htons(40002) };
	l->peer = teredo(0xc6336419, 40002);
	l->peer_map = (struct sw_endpoint){ htonl(0xc6336419), htons(61234) };
	int n = host_writes(l, now, acts);
	struct teredo_trailers t = { 0 };
	for (int i = 0; i < n; i++) {
		struct teredo_pkt p;
		if (acts[i].kind == SW_ACT_UDP && acts[i].dst.port == htons(3544) &&
		    teredo_parse(acts[i].hdr, acts[i].hdr_len, &p) == WIRE_OK)
			teredo_trailers_parse(p.trailers, p.trailers_len, &t);
	}
	MUST(t.has_nonce, "no nonce in the indirect bubble");
	shell(l, acts, n);
	uint8_t six[64] = { 0x60 };
	six[6] = 59;
	six[7] = 64;
	memcpy(six + 8, &l->peer, 16);
	memcpy(six + 24, &l->here, 16);
	size_t len = 40 + trailer_put_nonce(six + 40, t.nonce);
	shell(l, acts, core_udp(l, now, 0, l->peer_map, six, len, acts));
	const struct peer *p = peer_find(&l->cl.peers, &l->peer);
	MUST(p && p->trusted && p->symmetric_peer, "the core did not trust its symmetric peer");
	struct fp_peer v;
	MUST(bpf_map_lookup_elem(fastpath_peers_fd(l->fp), &l->peer, &v) == 0 && (v.flags & FP_PEER_AT_ADDRESS) &&
		     v.ip == l->peer_map.ip && v.port == l->peer_map.port,
	     "the peer is not in the map to be sent to at %08x:%u", ntohl(named.ip), ntohs(named.port));
}

/* The lane's core from the start, its peer trusted; the programs' peer map emptied. */
static void start_lane(struct lane *l)
{
	struct sw_action acts[32];
	int n = 0;
	uint64_t now = boot_ms();
	cur = l->name;
	uint8_t key[16];
	while (bpf_map_get_next_key(fastpath_peers_fd(l->fp), NULL, key) == 0)
		bpf_map_delete_elem(fastpath_peers_fd(l->fp), key);
	/* Behind the port-preserving NAT, our port is the one our first mapping kept. */
	l->port = l->random ? 40000 : PORT;
	l->f = (struct fp_config){ .prefix = htonl(TEREDO_PREFIX_DEFAULT), .self_ip = htonl(SELF_IP),
				   .port = htons(l->port), .role = (uint8_t)l->role, .tun_hlen = 14,
				   .tun_ifindex = 1, .out_ifindex = 1 };
	MUST(fastpath_configure(l->fp, &l->f) == 0, "fastpath_configure");
	if (l->role == FP_ROLE_CLIENT) {
		struct client_config c = { .server = htonl(0xc633640a), .server2 = htonl(0xc633640b),
					   .prefix = TEREDO_PREFIX_DEFAULT, .refresh_ms = 30000, .peer_capacity = 64,
					   .queue_pool = 32, .queue_per_peer = 4, .local_port = htons(l->port),
					   .symmetric_nat = l->random || l->upnp, .port_preserving_nat = l->random,
					   .random_ports = l->random, .upnp = l->upnp };
		client_init(&l->cl, &c, rng, NULL);
		client_fast_path(&l->cl);
		if (l->random)
			client_random_port_ready(&l->cl, 0, htons(l->oport));
		if (l->upnp) /* the IGD's mapping is the one the server sees */
			client_upnp(&l->cl, htonl(0xcb007107), htons(40000));
		MUST(fuzz_qualify(&l->cl, &c, now, l->random || l->upnp, &l->here), "the client did not qualify");
		MUST(!l->upnp || client_upnp_symmetric(&l->cl), "not behind a single UPnP-enabled symmetric NAT");
		memcpy(l->f.self6, &l->here, 16);
		MUST(fastpath_configure(l->fp, &l->f) == 0, "fastpath_configure");
		l->peer_map = (struct sw_endpoint){ htonl(0xcb007108), htons(40001) }; /* 203.0.113.8 */
		l->peer = teredo(0xcb007108, 40001);
		if (l->random) {
			trust_on_random_port(l, now);
			return;
		}
		if (l->upnp) {
			trust_symmetric_peer(l, now);
			return;
		}
	} else {
		struct relay_config c = { .prefix = TEREDO_PREFIX_DEFAULT, .host_only = l->role == FP_ROLE_HOST_RELAY,
					  .unknown_rate = RELAY_UNKNOWN_ALL, .self = { htonl(SELF_IP), htons(PORT) },
					  .peer_capacity = 64, .queue_pool = 32, .queue_per_peer = 4,
					  .nsocks = (uint8_t)(l->osock + 1) };
		relay_init(&l->rl, &c, rng, NULL);
		relay_fast_path(&l->rl);
		inet_pton(AF_INET6, "2001:db8:1::100", &l->here);
		if (c.host_only) { /* as relay_io.c does with the host's addresses */
			relay_set_local(&l->rl, &l->here, 1);
			fastpath_set_locals(l->fp, l->rl.local, l->rl.nlocal);
		}
		l->peer_map = (struct sw_endpoint){ htonl(0xcb007107), htons(40000) }; /* 203.0.113.7 */
		l->peer = teredo(0xcb007107, 40000);
	}
	/* The peer sends from the mapping in its address (R-11 for a relay, C-35 for a
	 * client): trusted, so that inputs reach the programs' deepest paths at once. */
	uint8_t six[48] = { 0x60 };
	six[5] = 8;
	six[6] = 59;
	six[7] = 64;
	memcpy(six + 8, &l->peer, 16);
	memcpy(six + 24, &l->here, 16);
	n = core_udp(l, now, l->osock, l->peer_map, six, sizeof six, acts);
	MUST(l->role == FP_ROLE_CLIENT ? l->cl.trust.n > 0 : l->rl.trust.n > 0, "the core did not trust its peer");
	shell(l, acts, n);
}

static void setup_lane(struct lane *l)
{
	char why[160];
	cur = l->name;
	l->fp = fastpath_open(64, 0, 0, why, sizeof why);
	MUST(l->fp, "fastpath_open: %s (needs root and eBPF)", why);
	l->in_fd = fastpath_prog_fd(l->fp, false);
	l->out_fd = fastpath_prog_fd(l->fp, true);
	start_lane(l);
}

/* Inputs soon move the symmetric lane's peer to our Teredo port (its bubble from the
 * mapping its address names there: X-38 (c)), for good, and may end the UPnP lane's
 * trust in its peer; a lane starts again when its peer has left its other socket or is
 * no longer trusted, so that what the lane is for stays under test. */
static void keep_lane(struct lane *l)
{
	const struct peer *p = peer_find(l->role == FP_ROLE_CLIENT ? &l->cl.peers : &l->rl.peers, &l->peer);
	if (p && p->trusted && p->sock == l->osock && (!l->upnp || p->symmetric_peer))
		return;
	if (l->role == FP_ROLE_CLIENT)
		client_free(&l->cl);
	else
		relay_free(&l->rl);
	start_lane(l);
	l->restarts++;
}

static void setup(void)
{
	for (int i = 0; i < LANES; i++)
		setup_lane(&lanes[i]);
	atexit(report);
	ready = 1;
}

/* teredo_in's input for lane l: the IPv4 frame, built from the fuzzer's bytes. */
static size_t inward(const struct lane *l, const uint8_t *d, size_t n)
{
	uint8_t op = d[0];
	if (op & 2) { /* the whole IPv4 packet */
		size_t len = n - 1 > sizeof pkt - 14 ? sizeof pkt - 14 : n - 1;
		memcpy(pkt, "\x02\0\0\0\0\0\x02\0\0\0\0\x01\x08\x00", 14);
		memcpy(pkt + 14, d + 1, len);
		return 14 + len;
	}
	if (n < 7)
		return 0;
	uint8_t pay[1500];
	size_t plen = n - 7 > sizeof pay ? sizeof pay : n - 7;
	memcpy(pay, d + 7, plen);
	struct sw_endpoint src;
	switch ((op >> 2) & 3) {
	case 0:
		if (plen >= 40) {
			memcpy(pay + 8, &l->peer, 16);
			memcpy(pay + 24, &l->here, 16);
		}
		/* fall through */
	case 3: src = l->peer_map; break;
	case 1:
		if (plen >= 40) {
			struct in6_addr s6;
			struct teredo_addr t;
			memcpy(&s6, pay + 8, 16);
			teredo_addr_decode(&s6, &t);
			src = t.mapped;
			break;
		}
		/* fall through */
	default:
		memcpy(&src.ip, d + 1, 4);
		memcpy(&src.port, d + 5, 2);
	}
	int sum = (op >> 4) & 3;
	size_t len = udp4_frame(pkt, "\x02\0\0\0\0\0", "\x02\0\0\0\0\x01", src, htonl(SELF_IP ^ (op & 0x80 ? 1 : 0)),
				(uint16_t)(op & 0x40 ? (l->osock ? l->oport : l->port + 1) : l->port), pay, plen, sum != 0);
	if (sum == 2)
		pkt[14 + 26] ^= 1;
	return len;
}

/* The datagram one of the daemon's sockets would hand the core for this frame (outer
 * headers as the kernel checks them) and that socket's number, or false when none
 * would see it. */
static bool as_socket_sees(const struct lane *l, size_t len, struct sw_endpoint *src, const uint8_t **pay,
			   size_t *plen, uint8_t *sock)
{
	struct sw_endpoint dst;
	if (!udp4_received(pkt, len, src, &dst, pay, plen) || dst.ip != htonl(SELF_IP))
		return false;
	for (uint8_t i = 0; i <= CLIENT_SOCK_RANDOM; i++)
		if (sock_port(l, i) && dst.port == htons(sock_port(l, i))) {
			*sock = i;
			return true;
		}
	return false;
}

/* Every entry of the programs' peer map is a peer the core trusts, at the entry's mapping,
 * reached through the socket whose port the entry names (never the client's NAT probe
 * socket): what the kernel carries, the core would. */
static void check_mirror(struct lane *l)
{
	int fd = fastpath_peers_fd(l->fp);
	struct in6_addr k, next;
	const void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		struct fp_peer v;
		if (bpf_map_lookup_elem(fd, &k, &v) < 0)
			continue;
		const struct peer *p = peer_find(l->role == FP_ROLE_CLIENT ? &l->cl.peers : &l->rl.peers, &k);
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &k, a, sizeof a);
		MUST(p && p->trusted, "the kernel carries %s, which the core does not trust", a);
		MUST(endpoint_eq(p->mapping, (struct sw_endpoint){ v.ip, v.port }),
		     "the kernel has %s at another mapping than the core", a);
		MUST(!(l->role == FP_ROLE_CLIENT && p->sock == 1) && v.sport == htons(sock_port(l, p->sock)),
		     "the kernel reaches %s through another socket than the core (port %u, core socket %u)", a,
		     ntohs(v.sport), p->sock);
	}
}

static void step_in(struct lane *l, const uint8_t *d, size_t n)
{
	size_t len = inward(l, d, n);
	if (len < 14 + 20)
		return; /* BPF_PROG_TEST_RUN builds no IPv4 skb shorter than its header */
	uint64_t now = boot_ms();
	uint32_t olen;
	int r = run(l->in_fd, len, &olen);
	MUST(r == TC_ACT_UNSPEC || r == TC_ACT_REDIRECT, "teredo_in returned %d", r);
	l->n_in++;
	l->n_decap += r == TC_ACT_REDIRECT;
	struct sw_endpoint src;
	const uint8_t *pay;
	size_t plen;
	uint8_t sock = 0;
	bool seen = as_socket_sees(l, len, &src, &pay, &plen, &sock);
	struct sw_action acts[32];
	int k = 0;
	if (r == TC_ACT_UNSPEC) {
		MUST(olen == len && !memcmp(out, pkt, len), "teredo_in changed a packet it passed on");
		if (seen)
			k = core_udp(l, now, sock, src, pay, plen, acts);
		shell(l, acts, k);
		return;
	}
	MUST(seen, "teredo_in decapsulated what the socket would not receive");
	MUST(plen >= 40 && (pay[0] >> 4) == 6 && 40 + (size_t)get_be16(pay + 4) == plen,
	     "teredo_in decapsulated a payload that is not one bare IPv6 packet");
	/* Bytes after the IPv4 packet (a frame's padding) stay after the inner one: the
	 * IPv6 receive path trims them as the IPv4 one would have. */
	MUST(olen == len - 28 && !memcmp(out, pkt, 14) && !memcmp(out + 14, pay, len - 14 - 28),
	     "teredo_in's output is not the inner packet behind the frame's header");
	k = core_udp(l, now, sock, src, pay, plen, acts);
	int tun = 0;
	for (int i = 0; i < k; i++)
		if (acts[i].kind == SW_ACT_TUN && acts[i].body == pay) {
			MUST(!acts[i].hdr_len && acts[i].body_len == plen, "the core writes other bytes to the TUN");
			tun++;
		}
	MUST(tun == 1, "teredo_in decapsulated what the core does not write to the TUN");
	l->n_decap_osock += l->osock && sock == l->osock;
	shell(l, acts, k);
}

static void step_out(struct lane *l, const uint8_t *d, size_t n)
{
	size_t ilen = n - 1 > 1500 ? 1500 : n - 1;
	if (ilen < 40)
		return; /* nor an IPv6 one shorter than its header */
	memcpy(pkt, "\0\0\0\0\0\0\0\0\0\0\0\0\x86\xdd", 14);
	memcpy(pkt + 14, d + 1, ilen);
	if (d[0] & 2) {
		memcpy(pkt + 14 + 8, &l->here, 16);
		memcpy(pkt + 14 + 24, &l->peer, 16);
	}
	/* Read before the program reads its clock: a peer fresh for the program is fresh
	 * for the core at this earlier time too. */
	uint64_t now = boot_ms();
	uint32_t olen;
	size_t len = 14 + ilen;
	int r = run(l->out_fd, len, &olen);
	MUST(r == TC_ACT_UNSPEC || r == TC_ACT_REDIRECT, "teredo_out returned %d", r);
	l->n_out++;
	l->n_encap += r == TC_ACT_REDIRECT;
	struct sw_action acts[32];
	int k;
	if (r == TC_ACT_UNSPEC) {
		MUST(olen == len && !memcmp(out, pkt, len), "teredo_out changed a packet it passed on");
		k = core_tun(l, now, pkt + 14, ilen, acts);
		shell(l, acts, k);
		return;
	}
	const uint8_t *ip = out + 14;
	MUST(olen == len + 28 && get_be16(out + 12) == 0x0800, "teredo_out's frame is not IPv4 of the right size");
	MUST(ip[0] == 0x45 && get_be16(ip + 2) == ilen + 28 && ip[9] == 17 && ones_sum(ip, 20, 0) == 0xffff &&
		     !(get_be16(ip + 6) & 0x3fff),
	     "teredo_out's IPv4 header is wrong");
	uint32_t s4;
	memcpy(&s4, ip + 12, 4);
	MUST(s4 == htonl(SELF_IP) && get_be16(ip + 24) == ilen + 8,
	     "teredo_out's source or UDP length is wrong");
	MUST(!memcmp(ip + 28, pkt + 14, ilen), "teredo_out changed the IPv6 packet");
	struct sw_endpoint to;
	memcpy(&to.ip, ip + 16, 4);
	memcpy(&to.port, ip + 22, 2);
	k = core_tun(l, now, pkt + 14, ilen, acts);
	int udp = 0;
	for (int i = 0; i < k; i++)
		if (acts[i].kind == SW_ACT_UDP && !acts[i].hdr_len && acts[i].body == pkt + 14) {
			MUST(acts[i].body_len == ilen && endpoint_eq(acts[i].dst, to) &&
				     get_be16(ip + 20) == sock_port(l, acts[i].sock),
			     "the core sends it otherwise (to another mapping or from another port)");
			udp++;
			l->n_encap_osock += l->osock && acts[i].sock == l->osock;
			l->n_encap_at_address += l->upnp && !endpoint_eq(to, l->peer_map);
		}
	/* The one difference that is the clocks' and not the rules': the program read its
	 * clock after `now`, and a peer last heard by the program (the map's time) a moment
	 * after the core's record of it can be fresh for one and 30 s old for the other. */
	if (!udp) {
		struct in6_addr d6;
		memcpy(&d6, pkt + 14 + 24, 16);
		const struct peer *p = peer_find(l->role == FP_ROLE_CLIENT ? &l->cl.peers : &l->rl.peers, &d6);
		if (p && p->trusted && now - p->last_rx >= CLIENT_PEER_VALID_MS &&
		    now - p->last_rx < CLIENT_PEER_VALID_MS + 1000)
			udp = 1;
	}
	MUST(udp == 1, "teredo_out encapsulated what the core does not send as it is");
	shell(l, acts, k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long inputs;
	if (!ready)
		setup();
	if (size < 1)
		return 0;
	bool mirror = ++inputs % 64 == 0;
	for (int i = 0; i < LANES; i++) {
		cur = lanes[i].name;
		if (lanes[i].osock || lanes[i].upnp)
			keep_lane(&lanes[i]);
		if (data[0] & 1)
			step_out(&lanes[i], data, size);
		else
			step_in(&lanes[i], data, size);
		if (mirror)
			check_mirror(&lanes[i]);
		if (lanes[i].upnp && inputs % 256 == 0) {
			/* As the helper's answer would: the mapping lost, or found again. */
			bool on = inputs % 512 == 0;
			client_upnp(&lanes[i].cl, on ? htonl(0xcb007107) : 0, on ? htons(40000) : 0);
			shell(&lanes[i], NULL, 0);
			lanes[i].upnp_flips++;
		}
	}
	return 0;
}
