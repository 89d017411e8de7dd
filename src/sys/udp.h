/* UDP/IPv4 sockets for Teredo, with batched receive and send. */
#ifndef SW_SYS_UDP_H
#define SW_SYS_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/action.h"
#include "wire/endpoint.h"

#define UDP_BATCH 64
#define UDP_BUF_SIZE 65536

/* Open a non-blocking UDP socket bound to ip:port (network byte order; 0 = any).
 * Sets IP_MTU_DISCOVER to "don't" (RFC 4380 §5.1.2, P-17: no DF on the outer header)
 * and never SO_BROADCAST (P-08). Returns the fd or -1 with errno set. */
int udp_open(uint32_t ip, uint16_t port, int reuseport);

/* A receive batch: buffers and message headers reused across calls. */
struct udp_rx {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_in from[UDP_BATCH];
	uint8_t (*bufs)[UDP_BUF_SIZE];
};

int udp_rx_init(struct udp_rx *rx);
void udp_rx_free(struct udp_rx *rx);
/* recvmmsg into rx; returns the number of datagrams (0 when none is waiting). */
int udp_rx_batch(int fd, struct udp_rx *rx);
static inline struct sw_endpoint udp_rx_src(const struct udp_rx *rx, int i)
{
	return (struct sw_endpoint){ .ip = rx->from[i].sin_addr.s_addr, .port = rx->from[i].sin_port };
}

/* A send batch of actions for one socket.
 *
 * With gso on (udp_tx_gso), datagrams in a row to one destination, all of one length but
 * the last (which may be shorter), leave in one sendmsg with UDP_SEGMENT (UDP GSO, Linux
 * 4.18): the stack is crossed once for the row and the datagrams are cut where the
 * device (or the receiving socket) needs them. Such rows are what a TCP stream makes:
 * the segments the client cuts from the TUN's super-packets, and a relay's batch of one
 * flow's packets to one client. Every datagram is on the wire exactly as before. */
#define UDP_GSO_SEGS 64          /* UDP_MAX_SEGMENTS of Linux 6.1 */
#define UDP_GSO_BYTES 65507      /* one IPv4 datagram's payload at most */
struct udp_tx {
	int n;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	struct sockaddr_in to[UDP_BATCH];
	/* UDP GSO: the rows of the batch, and what it did. */
	bool gso;                 /* coalesce rows (until a send says the route cannot) */
	bool gso_failed;          /* it was on and the kernel refused it: off for good */
	struct mmsghdr rows[UDP_BATCH];
	struct iovec row_iov[UDP_BATCH * 2];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(uint16_t))];
	} row_cmsg[UDP_BATCH];
	int row_first[UDP_BATCH], row_count[UDP_BATCH];
	uint64_t gso_sends;       /* sendmsg calls that carried a row of two or more */
	uint64_t gso_datagrams;   /* datagrams those carried */
};

/* Coalesce rows of equal datagrams with UDP GSO from now on (on), or not. */
void udp_tx_gso(struct udp_tx *tx, bool on);

/* Status: udp_offload (on, or off and why) of a daemon's main batch, and the rows'
 * counters summed over its n batches and nmore others (a client's random ports). */
struct status_out;
void udp_gso_status(struct status_out *o, const struct udp_tx *tx, bool configured);
void udp_gso_status_counters(struct status_out *o, const struct udp_tx *tx, int n, const struct udp_tx *more,
			     int nmore);

/* Queue action a (SW_ACT_UDP) on tx; a must stay valid until udp_tx_flush. */
void udp_tx_add(struct udp_tx *tx, const struct sw_action *a);
/* sendmmsg everything queued; returns how many datagrams could not be sent. */
int udp_tx_flush(int fd, struct udp_tx *tx);

#endif
