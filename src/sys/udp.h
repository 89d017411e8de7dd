/* UDP/IPv4 sockets for Teredo, with batched receive and send. */
#ifndef SW_SYS_UDP_H
#define SW_SYS_UDP_H

#include <netinet/in.h>
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

/* A send batch of actions for one socket. */
struct udp_tx {
	int n;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	struct sockaddr_in to[UDP_BATCH];
};

/* Queue action a (SW_ACT_UDP) on tx; a must stay valid until udp_tx_flush. */
void udp_tx_add(struct udp_tx *tx, const struct sw_action *a);
/* sendmmsg everything queued; returns how many datagrams could not be sent. */
int udp_tx_flush(int fd, struct udp_tx *tx);

#endif
