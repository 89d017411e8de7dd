/* RFC 6081 §5.3.3 and §5.3.5: a port mapping on a UPnP IGD for the
 * client's Teredo port, held by a helper process.
 *
 * libminiupnpc blocks (SSDP discovery, then HTTP/SOAP), so a child forked before the
 * daemon drops its privileges and enters its sandbox does it, beside qualification. It
 * sends one result over a socketpair, then keeps the mapping alive (AddPortMapping again
 * every UPNP_RENEW_S: an IGD reboot forgets it, miniupnpd caps the lease) until the
 * daemon's end of the socketpair closes, whatever ended the daemon, and then removes
 * it. */
#ifndef SW_SYS_UPNP_H
#define SW_SYS_UPNP_H

#include <stdint.h>

#define UPNP_DISCOVER_MS 2000 /* SSDP: how long to wait for an IGD to answer */
#define UPNP_SEARCHES 2       /* searches before a silent network counts as without an IGD */
#define UPNP_RENEW_S 1200

struct upnp_result {
	uint32_t ext_ip;     /* network byte order; 0 = no mapping */
	uint16_t ext_port;   /* network byte order */
	char why[80];        /* what happened, for the log and the status */
};

/* Forks the helper for local UDP port `port` (network byte order), with the internal
 * client `bind_ip` (0: the address the IGD's network sees us at). `user` is the account
 * the helper runs as. Returns the fd the result arrives on, or -1. */
int upnp_start(uint16_t port, uint32_t bind_ip, const char *user);
/* Reads the result once the fd is readable: 0 done (r filled, also for "no mapping"),
 * -1 nothing yet. Keep the fd open while the mapping should live. */
int upnp_read(int fd, struct upnp_result *r);

#endif
