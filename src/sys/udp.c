#include "sys/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int udp_open(uint32_t ip, uint16_t port, int reuseport)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	int one = 1, pmtu = IP_PMTUDISC_DONT, buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0)
		goto fail;
	/* Larger buffers absorb bursts; failure only costs throughput. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = ip };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

int udp_rx_init(struct udp_rx *rx)
{
	memset(rx, 0, sizeof *rx);
	rx->bufs = malloc(sizeof(*rx->bufs) * UDP_BATCH);
	if (!rx->bufs)
		return -1;
	for (int i = 0; i < UDP_BATCH; i++) {
		rx->iov[i].iov_base = rx->bufs[i];
		rx->iov[i].iov_len = UDP_BUF_SIZE;
		rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 1;
		rx->msgs[i].msg_hdr.msg_name = &rx->from[i];
	}
	return 0;
}

void udp_rx_free(struct udp_rx *rx)
{
	free(rx->bufs);
	rx->bufs = NULL;
}

int udp_rx_batch(int fd, struct udp_rx *rx)
{
	for (int i = 0; i < UDP_BATCH; i++)
		rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->from[i];
	int n = recvmmsg(fd, rx->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	return n;
}

void udp_tx_add(struct udp_tx *tx, const struct sw_action *a)
{
	int i = tx->n++;
	struct msghdr *h = &tx->msgs[i].msg_hdr;
	int k = 0;
	if (a->hdr_len) {
		tx->iov[i][k].iov_base = (void *)a->hdr;
		tx->iov[i][k++].iov_len = a->hdr_len;
	}
	if (a->body_len) {
		tx->iov[i][k].iov_base = (void *)a->body;
		tx->iov[i][k++].iov_len = a->body_len;
	}
	tx->to[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = a->dst.port,
					  .sin_addr.s_addr = a->dst.ip };
	memset(h, 0, sizeof *h);
	h->msg_name = &tx->to[i];
	h->msg_namelen = sizeof tx->to[i];
	h->msg_iov = tx->iov[i];
	h->msg_iovlen = (size_t)k;
}

int udp_tx_flush(int fd, struct udp_tx *tx)
{
	int failed = 0, off = 0;
	while (off < tx->n) {
		int r = sendmmsg(fd, tx->msgs + off, (unsigned)(tx->n - off), MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* Skip the datagram that failed (unreachable, buffer full) and go on. */
			failed++;
			off++;
			continue;
		}
		off += r;
	}
	tx->n = 0;
	return failed;
}
