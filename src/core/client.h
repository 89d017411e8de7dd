/* The Teredo client (RFC 4380 §5.2 with RFC 5991 §3): qualification, maintenance,
 * reception and transmission rules, bubbles and the direct IPv6 connectivity test, as a
 * pure state machine. Every entry point takes `now` (milliseconds, monotonic) and fills
 * actions into caller storage; randomness comes from the rng the shell provides
 * (getrandom in production, a fixed sequence in tests). */
#ifndef SW_CORE_CLIENT_H
#define SW_CORE_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/action.h"
#include "core/peer.h"
#include "core/ratelimit.h"
#include "wire/endpoint.h"
#include "wire/ipv4.h"

/* RFC 4380 §5.2.1 (C-13): T = 4 s, N = 3. */
#define CLIENT_RS_TIMEOUT_MS 4000
#define CLIENT_RS_TRIES 3
/* RFC 4380 §5.2.4, §5.2.6, §5.2.9 (C-45, C-42): 2 s, at most 3 repetitions. */
#define CLIENT_RETRY_MS 2000
#define CLIENT_RETRIES 3
#define CLIENT_PEER_VALID_MS 30000     /* C-40 */
#define CLIENT_OFFLINE_RETRY_MS 10000  /* after a failed qualification */
/* RFC 4380 §5.2.8 (C-43, C-67): discovery bubbles every 200-300 s; a peer seen within
 * 600 s counts as local. */
#define CLIENT_DISCOVERY_MIN_MS 200000
#define CLIENT_DISCOVERY_MAX_MS 300000
#define CLIENT_LOCAL_VALID_MS 600000
#define TEREDO_DISCOVERY_GROUP 0xe00000fdu /* 224.0.0.253, host byte order */
#define CLIENT_ICMP_RATE 10            /* ICMPv6 errors to the host per second (burst 10) */
/* RFC 4380 §5.2.3 case 6, §5.2.9 with CVE-2006-6266 (C-38, SEC-22): direct IPv6
 * connectivity tests started because a native peer wrote first, in all per second
 * (burst as many); a relay stays vouched for this long after our server introduced it. */
#define CLIENT_STRANGER_RATE 10
#define CLIENT_INTRO_VALID_MS 30000
#define CLIENT_INTRO_MAX 16
/* RFC 6081 §5.4, §5.5: local sockets on random ports, each lent to one peer that is
 * being reached from behind a symmetric NAT. The shell opens them; core socket numbers
 * CLIENT_SOCK_RANDOM + i. A slot the core gives back is reopened by the shell on a
 * fresh port (SW_ACT_RENEW_SOCK), since a port-preserving NAT keeps a port's number for
 * the first destination only. */
#define CLIENT_RANDOM_PORTS 32
#define CLIENT_SOCK_RANDOM 2
#define CLIENT_PEER_REFRESH_MS 30000  /* the Peer Refresh Timer */
#define CLIENT_PEER_REFRESH_MAX 20    /* direct bubbles without data in between */
#define CLIENT_REFRESH_MAX_MS 120000  /* C-60: the longest interval the procedure tries */
#define CLIENT_FIRST_REFRESH_MS 5000  /* a new mapping's first refresh (client_qualify.c first_refresh) */

/* Server candidates (issue 11): the addresses every ServerAddress resolves to, in order
 * of preference; each with its secondary address. */
#define CLIENT_SERVERS_MAX 8

typedef void (*sw_rng_fn)(void *ctx, void *buf, size_t len);

/* Why the state last changed (the status shows it). */
enum client_cause {
	CAUSE_START,
	CAUSE_QUALIFIED,
	CAUSE_NO_ANSWER,       /* C-13: the server never answered our RSs */
	CAUSE_SERVER_LOST,     /* RFC 4380 §5.2.5: a refresh got no answer */
	CAUSE_MAPPING_CHANGED, /* C-26: the refresh found another mapping */
	CAUSE_NETWORK_CHANGED, /* the host's route to the server changed (rtnetlink) */
	CAUSE_NO_NETWORK,      /* no IPv4 route to the server: offline until one comes */
	CAUSE_SERVERS_CHANGED, /* the names resolved to other addresses */
	CAUSE_IDLE,            /* dormant: the host sent nothing for dormant_idle_ms */
	CAUSE_WOKEN,           /* the host sent a packet while dormant */
};
const char *client_cause_name(enum client_cause c);

/* RFC 4380 §5.2's per-interface state (C-04): this status (Initial and Starting are
 * CLIENT_PROBING's first RS and its retries), the mapping, prefix and address below. */
enum client_state {
	CLIENT_PROBING,           /* RS to the primary address */
	CLIENT_PROBING_SECONDARY, /* RS to the secondary address: the symmetric-NAT check */
	CLIENT_QUALIFIED,
	CLIENT_OFFLINE,           /* the server did not answer; retrying */
};
const char *client_state_name(enum client_state s);

/* The NAT in front of us in RFC 6081's terms (§3). Qualification tells symmetric from
 * the rest (C-17); the filtering probe (client_qualify.c, nat_probe_*) tells the rest apart. */
enum client_nat {
	NAT_UNKNOWN,
	NAT_CONE_OR_RESTRICTED, /* not symmetric; the probe has not finished (or is off) */
	NAT_SYMMETRIC,
	NAT_CONE,               /* endpoint-independent filtering */
	NAT_RESTRICTED,         /* address-dependent filtering */
	NAT_PORT_RESTRICTED,    /* address-and-port-dependent filtering */
};
const char *client_nat_name(enum client_nat n);

enum client_drop {
	CL_DROP_MALFORMED,        /* C-30 */
	CL_DROP_NOT_QUALIFIED,    /* C-10 */
	CL_DROP_BAD_RA,           /* C-14 */
	CL_DROP_NOT_FOR_US,       /* C-31 */
	CL_DROP_LINK_LOCAL,       /* C-71 */
	CL_DROP_UNKNOWN_SOURCE,   /* C-38: not trusted, no nonce proof, no matching mapping */
	CL_DROP_TUN_INVALID,      /* from the host: not IPv6, bad length, wrong source */
	CL_DROP_TUN_SCOPE,        /* from the host: link-local or multicast destination */
	CL_DROP_NOT_GLOBAL,       /* C-46, P-08 */
	CL_DROP_QUEUE_FULL,       /* C-47 */
	CL_DROP_UNREACHABLE,      /* bubbles or echo tests gave up */
	CL_DROP_DISCOVERY,        /* C-68: an invalid local discovery bubble */
	CL_DROP_LOCAL_SUBNET,     /* SEC-22 (CVE-2006-6264): mapping in one of our subnets */
	CL_DROP_STRANGER_LIMITED, /* SEC-22 (CVE-2006-6266): connectivity test not started */
	CL_DROP_TRAILER,          /* RFC 6081 §5.1.2: an unknown trailer of type 01xxxxxx */
	CL_DROP__COUNT
};
const char *client_drop_name(enum client_drop d);

struct client_config {
	uint32_t server;    /* primary, network byte order */
	uint32_t server2;   /* secondary */
	uint32_t prefix;    /* expected Teredo prefix, host byte order */
	uint32_t refresh_ms;   /* the initial refresh interval (C-27) */
	/* RFC 4380 §5.2.7 (C-60..C-62): find how long the NAT keeps an idle mapping, between
	 * refresh_min_ms and CLIENT_REFRESH_MAX_MS; needs the second socket (nat_probe). */
	bool refresh_discovery;
	uint32_t refresh_min_ms;
	uint32_t peer_capacity, queue_pool;
	uint16_t queue_per_peer;
	bool local_discovery;  /* RFC 4380 §5.2.8, on by default (LocalDiscovery) */
	bool symmetric_nat;    /* RFC 6081 §5.2, on by default (SymmetricNATSupport) */
	bool load_reduction;   /* RFC 6081 §5.7, on by default (ServerLoadReduction) */
	bool hairpinning;      /* RFC 6081 §5.6, on by default (Hairpinning) */
	bool nat_probe;        /* a second socket (sock 1) exists for the filtering probe */
	bool port_preserving_nat; /* RFC 6081 §5.4, on by default (PortPreservingNAT) */
	bool sequential_nat;   /* RFC 6081 §5.5, on by default (SequentialPortNAT) */
	bool upnp;             /* RFC 6081 §5.3: the shell asks the IGD (UPnP) and reports */
	uint8_t random_ports;  /* random-port sockets the shell opened (<= CLIENT_RANDOM_PORTS) */
	uint16_t local_port;   /* our UDP socket's port, network byte order, 0 unknown */
	/* Dormant mode (issue 11, `Dormant yes`): after this long without a packet from the
	 * host, stop refreshing; the host's next packet waits while a refresh checks the
	 * mapping. 0: never dormant. */
	uint32_t dormant_idle_ms;
};

struct client_stats {
	uint64_t rs_sent, ra_accepted, qualifications, address_changes, server_losses;
	uint64_t bubbles_sent, echo_tests, to_tun, to_udp, from_tun, from_udp;
	uint64_t icmp_errors, icmp_errors_limited;
	uint64_t discovery_sent, discovery_received;
	uint64_t ra_new_key;     /* C-19: RAs whose confirmation byte asked for a new key */
	uint64_t stranger_tests; /* C-38: connectivity tests for a native peer that wrote first */
	uint64_t stranger_queued, stranger_delivered;
	uint64_t origin_fallback; /* C-32: bubbles answered by the source's embedded mapping */
	uint64_t nonce_accepted;  /* direct bubbles taken on their nonce */
	uint64_t moved_port_accepted; /* bubbles taken from another port of the peer's address */
	uint64_t solicitations, advertisements; /* RFC 6081 §5.7: sent */
	uint64_t alt_bubbles;   /* RFC 6081 §5.6: direct bubbles to a peer's alternate address */
	uint64_t random_ports_taken;   /* RFC 6081 §5.4.4.2, §5.5.4.1: a random port lent to a peer */
	uint64_t random_ports_busy;    /* ... wanted, none free: the peer goes without */
	uint64_t port_echo_tests;      /* Echo Tests that predict a sequential port */
	uint64_t port_predictions;     /* both answers came, a Random Port predicted */
	uint64_t random_port_trusted;  /* X-38 (d): a peer trusted on a random port */
	uint64_t peer_random_port_accepted; /* a bubble from the random port a peer announced */
	uint64_t peer_refresh_bubbles; /* */
	uint64_t upnp_embedded_sends;  /* data or bubbles to a peer's embedded mapping */
	uint64_t failovers;            /* qualification moved on to the next server candidate */
	uint64_t network_changes;      /* the route to the server changed or went away */
	uint64_t ri_tests, ri_test_ok; /* RFC 4380 §5.2.7 test bubbles: rounds, answered */
	uint64_t dormant_entered, wakeups; /* Dormant mode */
	uint64_t dormant_lost;         /* packets queued at a wake-up that the new address made stale */
	uint64_t mapping_jumps;        /* refreshes that found a new mapping right after one
					* that did (a NAT or server that churns our address) */
	uint64_t dropped[CL_DROP__COUNT];
};

struct client {
	struct client_config cfg;
	sw_rng_fn rng;
	void *rng_ctx;
	enum client_state state;
	enum client_nat nat;
	/* cfg.server and cfg.server2 are the candidate in use, servers[server_idx]. */
	struct client_server {
		uint32_t primary, secondary; /* network byte order */
	} servers[CLIENT_SERVERS_MAX];
	uint8_t nservers, server_idx;
	uint8_t servers_tried; /* candidates that failed in a row */
	bool no_network;       /* offline for want of a route: wait for client_network() */
	bool mapping_moved;    /* the last refresh found a new mapping */
	/* Dormant mode: qualified, address kept, no refresh; waking: the host's packets
	 * queue while the wake-up's RS checks the mapping. */
	bool dormant, waking;
	uint64_t last_use;     /* ms, the host's last packet into the tunnel */
	/* RFC 4380 §5.2.7: the refresh interval in use, and the search for it on socket 1
	 * (ri_step: 0 not started, 1 RS out, 2 idle until the candidate interval has
	 * passed, 3 test bubble out, 4 done). */
	uint32_t refresh_now_ms;
	uint8_t ri_step, ri_tries;
	bool ri_found;         /* refresh_now_ms came from the search */
	bool ri_settled;       /* the secondary flow has had its second exchange */
	uint32_t ri_candidate, ri_max; /* ms */
	uint64_t ri_deadline, ri_last;  /* ms; ri_last: the secondary mapping's last packet */
	struct in6_addr ri_addr;        /* the secondary Teredo address */
	uint8_t ri_nonce[8];
	enum client_cause cause;
	uint64_t changed_at;   /* ms, when the state last changed (cause) */
	bool maintenance;      /* an RS of maintenance (not qualification) is outstanding */
	uint8_t rs_tries;
	uint8_t rs_nonce[8];
	uint64_t rs_deadline;  /* ms: next RS retry or qualification restart */
	uint64_t next_refresh; /* ms */
	uint64_t last_server_rx, qualified_at;
	uint64_t next_discovery; /* ms */
	uint64_t last_discovery; /* ms, when the last discovery bubble left */
	struct sw_endpoint mapped, mapped2;
	/* The filtering probe: from socket 1, a fresh mapping that never sent to the
	 * secondary address, an RS with C = 1 that the server answers from there (S-17). */
	uint8_t probe_step;    /* 0 idle, 1 first RS out, 2 second RS out (after opening) */
	uint8_t probe_tries;   /* RSs of this step so far */
	uint64_t probe_deadline;
	uint8_t probe_nonce[8];
	bool port_preserving;  /* RFC 6081 §5.4.4: mapped port = local port */
	/* RFC 6081 §5.3.1: the UPnP-Enabled NAT flag and the mapping the IGD
	 * reserved (as the IGD reported it; client_upnp_mapped() gives the RFC's field,
	 * zero behind a single NAT, X-24). */
	bool upnp_enabled;
	struct sw_endpoint upnp_map;
	bool have_addr;
	struct in6_addr addr;
	uint32_t mtu;
	struct peer_table peers;
	struct peer_pending pending;
	struct ratelimit icmp; /* ICMPv6 errors to the host (RFC 4443 §2.4 (f)) */
	struct ratelimit stranger; /* CLIENT_STRANGER_RATE */
	/* Endpoints our server introduced (an origin indication we answered with a direct
	 * bubble): the relays that may bring a native peer's first packet (C-32, C-38). */
	struct sw_endpoint intro[CLIENT_INTRO_MAX];
	uint64_t intro_at[CLIENT_INTRO_MAX];
	unsigned intro_next;
	/* The host's own IPv4 subnets, from the shell (SEC-22, C-68). */
	struct ipv4_net nets[IPV4_NETS_MAX];
	unsigned nnets;
	uint32_t local_ip;     /* our own IPv4 address, for RFC 6081 §5.6 (0 unknown) */
	struct client_rport {
		uint16_t port;        /* network byte order; 0 while the shell reopens it */
		uint32_t peer;        /* the peer it is lent to, PEER_NONE when free */
		struct in6_addr addr; /* that peer's address (it may have left the table) */
		bool renew;           /* to be reopened; the request found no room yet */
		/* The state of RFC 6081 §5.4.1 and §5.5.1 that only a peer with a random
		 * port has: kept here, not in every peer entry. */
		uint16_t rand_port;   /* Random Port: the external port predicted, network order */
		uint8_t refresh_count;
		uint64_t last_data_tx; /* ms, data only */
		uint8_t et_nonce1[8], et_nonce2[8];
		uint16_t et_lower, et_upper; /* network byte order, 0 = no answer yet */
		uint8_t et_retry;
		uint64_t et_deadline; /* ms, the Echo Test Failover Timer, 0 = not running */
	} rport[CLIENT_RANDOM_PORTS];
	uint64_t next_peer_refresh; /* ms, X-32 */
	struct client_stats stats;
	struct trust_log trust; /* the kernel fast path's journal (used once enabled) */
	struct sw_out o; /* output of the current call */
};

int client_init(struct client *c, const struct client_config *cfg, sw_rng_fn rng, void *rng_ctx);
void client_free(struct client *c);
/* The host's attached IPv4 subnets (at most IPV4_NETS_MAX are kept). */
void client_set_nets(struct client *c, const struct ipv4_net *nets, unsigned n);
/* Our own IPv4 address (network byte order), advertised to peers by RFC 6081 §5.6. */
void client_set_local_ip(struct client *c, uint32_t ip);

/* The shell opened random-port socket i (core socket CLIENT_SOCK_RANDOM + i) on `port`
 * (network byte order), at start and after each SW_ACT_RENEW_SOCK. */
void client_random_port_ready(struct client *c, unsigned i, uint16_t port);

/* The server candidates (1..CLIENT_SERVERS_MAX, in order of preference). The one in use
 * stays in use while it is on the list; otherwise qualification starts over with the
 * first. */
int client_set_servers(struct client *c, uint64_t now, const struct client_server *s, unsigned n,
		       struct sw_action *acts, int cap);
/* The shell followed rtnetlink: the route to the server changed (have_route: source
 * address, gateway or interface; qualify again at once) or there is none (offline,
 * quietly, until a route comes back). */
int client_network(struct client *c, uint64_t now, bool have_route, struct sw_action *acts, int cap);

/* RFC 6081 §5.3.3: what the IGD answered. The shell runs AddPortMapping
 * and GetExternalIPAddress (they block on HTTP) beside qualification, not before it, so
 * that a NAT without UPnP costs nothing; ext_ip 0 means no mapping. */
void client_upnp(struct client *c, uint32_t ext_ip, uint16_t ext_port);
/* The UPnP-Mapped Address/Port of RFC 6081 §5.3.1: the IGD's mapping, zeroed when the
 * server saw that very mapping (a single NAT, X-24). */
struct sw_endpoint client_upnp_mapped(const struct client *c);
/* X-26's first three conditions: behind a single symmetric NAT that forwards our mapped
 * port to us whoever writes. */
bool client_upnp_symmetric(const struct client *c);

/* The kernel fast path (issue 10): from now on every peer that becomes trusted at a
 * mapping data may go to directly from the Teredo socket, and every trusted peer that
 * stops being one, is recorded in c->trust for the shell to mirror and empty. */
void client_fast_path(struct client *c);
/* The fast path saw `pkts` data packets from trusted peer `a`, the last at `at` (ms),
 * that the core never saw: heard as if it had (its eviction keeps busy peers). */
void client_peer_seen(struct client *c, const struct in6_addr *a, uint64_t at, uint32_t pkts);
/* The fast path sent data to trusted peer `a` at `at` (ms) from the random port lent to
 * it: counted as the core counts its own. */
void client_peer_sent(struct client *c, const struct in6_addr *a, uint64_t at);

/* Each returns the number of actions written to acts (at most cap; cap >= 16 keeps a
 * whole queue flush in one call). */
int client_start(struct client *c, uint64_t now, struct sw_action *acts, int cap);
int client_tick(struct client *c, uint64_t now, struct sw_action *acts, int cap);
int client_udp(struct client *c, uint64_t now, struct sw_endpoint src, const uint8_t *buf,
	       size_t len, struct sw_action *acts, int cap);
/* A datagram on local socket `sock`: 0 is the Teredo socket (client_udp), 1 the NAT
 * probe's, CLIENT_SOCK_RANDOM + i the random ports of RFC 6081 §5.4, §5.5. */
int client_udp_on(struct client *c, uint64_t now, uint8_t sock, struct sw_endpoint src, const uint8_t *buf,
		  size_t len, struct sw_action *acts, int cap);
int client_tun(struct client *c, uint64_t now, const uint8_t *pkt, size_t len,
	       struct sw_action *acts, int cap);
/* A datagram that arrived on the local discovery group 224.0.0.253 (RFC 4380 §5.2.8);
 * on_link tells whether its IPv4 source is on one of the host's own subnets (C-68). */
int client_discovery(struct client *c, uint64_t now, struct sw_endpoint src, bool on_link,
		     const uint8_t *buf, size_t len, struct sw_action *acts, int cap);

#endif
