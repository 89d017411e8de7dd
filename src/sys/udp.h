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
 * and never SO_BROADCAST (P-08). shared (a fixed port only): SO_REUSEADDR, so that
 * another socket with it may bind the same port too. Returns the fd or -1 with errno
 * set. */
int udp_open(uint32_t ip, uint16_t port, bool shared);

/* After udp_open failed with err: what an operator should know (the port is taken, the
 * address is not ours), or "". */
const char *udp_bind_hint(int err);

/* A receive batch: buffers and message headers reused across calls.
 *
 * With UDP GRO on the socket (udp_rx_gro), one message may hold a row of datagrams (as
 * udp_tx sends them, or as a NIC's GRO coalesced them), all gso_size long but the last;
 * the batch cuts rows back into datagrams, so a caller sees datagrams only: udp_rx_data,
 * udp_rx_len and udp_rx_src of datagram j < the count udp_rx_batch returned. */
#define UDP_ROW_MAX 128 /* datagrams in one row: UDP_MAX_SEGMENTS of newer kernels */
struct udp_rx {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_in from[UDP_BATCH];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl[UDP_BATCH];
	uint8_t (*bufs)[UDP_BUF_SIZE];
	struct {
		uint32_t off;
		uint16_t len;
		uint8_t msg;
	} dg[UDP_BATCH * UDP_ROW_MAX];
	bool gro;                /* UDP_GRO is on for the socket(s) read into this batch */
	uint64_t gro_rows;       /* messages that held two datagrams or more */
	uint64_t gro_datagrams;  /* datagrams those held */
};

int udp_rx_init(struct udp_rx *rx);
void udp_rx_free(struct udp_rx *rx);
/* recvmmsg into rx; returns the number of datagrams (0 when none is waiting). */
int udp_rx_batch(int fd, struct udp_rx *rx);
static inline const uint8_t *udp_rx_data(const struct udp_rx *rx, int j)
{
	return rx->bufs[rx->dg[j].msg] + rx->dg[j].off;
}
static inline size_t udp_rx_len(const struct udp_rx *rx, int j)
{
	return rx->dg[j].len;
}
static inline struct sw_endpoint udp_rx_src(const struct udp_rx *rx, int j)
{
	const struct sockaddr_in *f = &rx->from[rx->dg[j].msg];
	return (struct sw_endpoint){ .ip = f->sin_addr.s_addr, .port = f->sin_port };
}
/* Ask for rows on fd (UDP_GRO, Linux 5.0). Only where the kernel fast path does not
 * read the socket's traffic first: GRO in the kernel would coalesce the datagrams its
 * ingress program decapsulates into rows it must leave to the daemon. Returns 0 or -1. */
int udp_rx_gro(int fd, struct udp_rx *rx);

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
/* udp_gro: on, or off and why (fast_path: the kernel fast path reads the socket's
 * traffic first); its counters. */
void udp_gro_status(struct status_out *o, const struct udp_rx *rx, bool fast_path, bool configured);
void udp_gro_status_counters(struct status_out *o, const struct udp_rx *rx);

/* Queue action a (SW_ACT_UDP) on tx; a must stay valid until udp_tx_flush. */
void udp_tx_add(struct udp_tx *tx, const struct sw_action *a);
/* sendmmsg everything queued; returns how many datagrams could not be sent. */
int udp_tx_flush(int fd, struct udp_tx *tx);

#endif
