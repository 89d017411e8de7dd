/* What the client's rule files share; the shell sees only core/client.h. The client's
 * rules (RFC 4380 §5.2 with RFC 5991 §3, RFC 6081's client side) are split by the RFC's
 * sections, one file each:
 *   client.c            the state around the rules: start, server candidates, network
 *                       changes, going offline, dormant mode, the timers (client_tick)
 *   client_qualify.c    qualification and maintenance (RFC 4380 §5.2.1, §5.2.2, §5.2.5),
 *                       the filtering probe (RFC 6081 §3), the refresh interval (§5.2.7)
 *   client_receive.c    reception (§5.2.3, cases 1-6; RFC 6081's bubbles and trailers)
 *   client_peers.c      reaching peers (§5.2.4, §5.2.6, §5.2.9): bubbles, trust, queues,
 *                       the connectivity test, ICMPv6 errors, the fast path's journal
 *   client_symmetric.c  RFC 6081 §5.3-§5.5: UPnP, random ports, the Echo Test
 *   client_discovery.c  local client discovery (§5.2.8)
 * What one file lends another carries the prefix cl_. */
#ifndef SW_CORE_CLIENT_INT_H
#define SW_CORE_CLIENT_INT_H

#include <arpa/inet.h>

#include "core/client.h"
#include "wire/encap.h"
#include "wire/teredo_addr.h"

/* RFC 4380 §5.2.7 (client_qualify.c): the steps of the refresh interval's search. */
enum { RI_IDLE, RI_QUALIFY, RI_WAIT, RI_TEST, RI_DONE, RI_SETTLE };

/* SEC-22 (CVE-2006-6264): a mapping inside one of our own subnets is only believed when
 * local discovery found it on the link; P-08 comes first. */
static inline bool mapping_ok(const struct client *c, uint32_t ip)
{
	return ipv4_is_global_unicast(ip) && !ipv4_in_nets(c->nets, c->nnets, ip);
}

static inline void begin(struct client *c, struct sw_action *acts, int cap)
{
	c->o = (struct sw_out){ .a = acts, .n = 0, .cap = cap };
}

static inline int drop(struct client *c, enum client_drop why)
{
	c->stats.dropped[why]++;
	return c->o.n;
}

static inline struct sw_endpoint server_ep(uint32_t ip)
{
	return (struct sw_endpoint){ .ip = ip, .port = htons(TEREDO_PORT) };
}

/* a direct bubble echoes the nonce of the peer's last indirect bubble, if any. */
static inline const uint8_t *nonce_for_direct(const struct client *c, const struct peer *p)
{
	return c->cfg.symmetric_nat && p && p->has_nonce_rcvd ? p->nonce_rcvd : NULL;
}

/* RFC 6081 §5.4: behind a port-preserving symmetric NAT, random ports. */
static inline bool pp_active(const struct client *c)
{
	return c->cfg.symmetric_nat && c->cfg.port_preserving_nat && c->cfg.random_ports &&
	       c->nat == NAT_SYMMETRIC && c->port_preserving;
}

/* the sequential extension needs the port-preserving one, and a symmetric
 * NAT that does not keep ports is taken for a sequential one (no test tells). */
static inline bool ss_active(const struct client *c)
{
	return c->cfg.symmetric_nat && c->cfg.port_preserving_nat && c->cfg.sequential_nat &&
	       c->cfg.random_ports && c->nat == NAT_SYMMETRIC && !c->port_preserving;
}

/* client.c */
void cl_changed(struct client *c, uint64_t now, enum client_cause why);
void cl_forget_all_peers(struct client *c);
void cl_wake(struct client *c, uint64_t now);
void cl_resume(struct client *c, uint64_t now);
uint64_t cl_count_queued(const struct client *c);

/* client_qualify.c */
void cl_start_qualification(struct client *c, uint64_t now);
void cl_send_rs(struct client *c, uint32_t server, uint64_t now);
void cl_put_rs(struct client *c, uint8_t sock, uint8_t *nonce, uint32_t server);
void cl_qualified(struct client *c, uint64_t now, uint32_t prefix);
int cl_handle_ra(struct client *c, uint64_t now, struct sw_endpoint src, const struct teredo_pkt *p);
int cl_probe_udp(struct client *c, uint64_t now, struct sw_endpoint src, const uint8_t *buf, size_t len);
void cl_probe_tick(struct client *c, uint64_t now);
void cl_ri_reset(struct client *c);
void cl_ri_tick(struct client *c, uint64_t now);

/* client_receive.c */
int cl_to_host(struct client *c, const struct teredo_pkt *p);

/* client_peers.c */
void cl_send_bubble_on(struct client *c, uint8_t sock, struct sw_endpoint dst, const struct in6_addr *to,
		       const uint8_t *nonce, uint16_t rport);
void cl_send_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to, const uint8_t *nonce);
void cl_send_nd_bubble(struct client *c, struct sw_endpoint dst, const struct in6_addr *to, uint8_t type);
void cl_send_indirect(struct client *c, struct peer *p, uint32_t server);
void cl_echo_test(struct client *c, struct peer *p, uint64_t now);
void cl_add_pending(struct client *c, struct peer *p, uint64_t now);
void cl_flush_queue(struct client *c, struct peer *p, uint64_t now);
void cl_trust_on(struct client *c, struct peer *p, uint8_t sock, struct sw_endpoint from, uint64_t now);
void cl_trust(struct client *c, struct peer *p, struct sw_endpoint from, uint64_t now);
void cl_trust_mirror(struct client *c, const struct peer *p);
void cl_restart_contact(struct client *c, struct peer *p, uint64_t now);
void cl_start_exchange(struct client *c, struct peer *p, uint64_t now);
void cl_retry_peers(struct client *c, uint64_t now);

/* client_symmetric.c */
bool cl_at_address(const struct client *c, const struct peer *p, struct sw_endpoint *to);
struct sw_endpoint cl_peer_dst(struct client *c, const struct peer *p);
void cl_indirect_due(struct client *c, struct peer *p, uint32_t server, uint64_t now);
void cl_rport_for_announced(struct client *c, struct peer *p);
void cl_random_port_bubbles(struct client *c, struct peer *p, const struct teredo_addr *t, bool embedded);
void cl_peer_random_port(struct client *c, struct peer *p, uint16_t port, uint64_t now);
void cl_rport_release(struct client *c, struct peer *p);
void cl_rport_renew(struct client *c, unsigned i);
void cl_rport_sweep(struct client *c);
void cl_peer_refresh(struct client *c, uint64_t now);
void cl_port_echo_timers(struct client *c, uint64_t now);
int cl_rport_udp(struct client *c, uint64_t now, unsigned i, struct sw_endpoint src, const uint8_t *buf, size_t len);

/* client_discovery.c */
void cl_send_discovery(struct client *c, uint64_t now);
void cl_send_discovery_soon(struct client *c, uint64_t now);

#endif
