#include "sys/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/status_fmt.h"

int udp_open(uint32_t ip, uint16_t port, bool shared)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	int one = 1, pmtu = IP_PMTUDISC_DONT, buf = 4 << 20;
	/* Only for a port of our choosing. With port 0 the kernel counts a port that other
	 * SO_REUSEADDR sockets hold as free and may hand it out again: a client's NAT probe
	 * or random-port socket then shared its Teredo socket's port and took the RAs meant
	 * for it, and the client never qualified (seen twice in the lab, test_hostnat and
	 * interop, once in some hundred client starts). And only where sharing is meant: a
	 * server's or relay's port held by two sockets splits its traffic between them
	 * (a relay with the default port on a server's host bound 0.0.0.0:3544 beside the
	 * server's 198.51.100.10:3544, sent from the server's address and never heard the
	 * answers): one of them must fail to start instead. */
	if (port && shared)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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

const char *udp_bind_hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " (another daemon on this host holds that port: a Teredo server, relay or client, shipworm's or "
		       "Miredo's? Give each its own BindAddress or BindPort)";
	case EADDRNOTAVAIL:
		return " (no interface of this host has that address)";
	default:
		return "";
	}
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

int udp_rx_gro(int fd, struct udp_rx *rx)
{
	int one = 1;
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0)
		return -1;
	rx->gro = true;
	return 0;
}

/* The row size of message i: the UDP_GRO control message's, or 0. */
static int gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof v);
			return v;
		}
	return 0;
}

int udp_rx_batch(int fd, struct udp_rx *rx)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &rx->msgs[i].msg_hdr;
		h->msg_namelen = sizeof rx->from[i];
		h->msg_control = rx->gro ? rx->ctl[i].buf : NULL;
		h->msg_controllen = rx->gro ? sizeof rx->ctl[i].buf : 0;
	}
	int n = recvmmsg(fd, rx->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	int d = 0;
	for (int i = 0; i < n; i++) {
		size_t len = rx->msgs[i].msg_len;
		size_t seg = rx->gro ? (size_t)gro_size(&rx->msgs[i].msg_hdr) : 0;
		if (!seg || seg >= len) {
			rx->dg[d].off = 0;
			rx->dg[d].len = (uint16_t)len;
			rx->dg[d++].msg = (uint8_t)i;
			continue;
		}
		/* A row: gso_size bytes each, the last the rest (never more than a row holds:
		 * the batch has room for UDP_ROW_MAX datagrams a message). */
		int k = 0;
		for (size_t off = 0; off < len && k < UDP_ROW_MAX; off += seg, k++) {
			rx->dg[d].off = (uint32_t)off;
			rx->dg[d].len = (uint16_t)(len - off < seg ? len - off : seg);
			rx->dg[d++].msg = (uint8_t)i;
		}
		rx->gro_rows++;
		rx->gro_datagrams += (uint64_t)k;
	}
	return d;
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

/* sendmmsg msgs[0..n), skipping each datagram that fails (unreachable, buffer full).
 * With rows, a row the kernel refuses as a row (the route's device cannot checksum for
 * GSO: EIO, as on 6.1 without checksum offload; datagrams larger than the path's MTU, or
 * a socket without UDP checksums: EINVAL) goes again one datagram at a time, and rows
 * stop for good: a probe by use, as the TUN's offloads are probed at start. A row that
 * fails for its destination (unreachable, rejected) goes again one by one too.
 * Returns how many of the batch's datagrams could not be sent. */
static int send_all(int fd, struct udp_tx *tx, struct mmsghdr *msgs, int n, bool rows)
{
	int failed = 0, off = 0;
	while (off < n) {
		int r = sendmmsg(fd, msgs + off, (unsigned)(n - off), MSG_DONTWAIT);
		if (r > 0) {
			off += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		int e = errno;
		if (rows && tx->row_count[off] > 1) {
			if (e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS) {
				/* Only a refusal of GSO itself stops rows; an unreachable peer or a
				 * firewall's reject (EHOSTUNREACH, EPERM) says nothing about them. */
				if (e == EIO || e == EINVAL || e == EOPNOTSUPP || e == ENOPROTOOPT) {
					tx->gso = false;
					tx->gso_failed = true;
				}
				tx->gso_sends--;
				tx->gso_datagrams -= (uint64_t)tx->row_count[off];
				failed += send_all(fd, tx, tx->msgs + tx->row_first[off], tx->row_count[off], false);
				off++;
				continue;
			}
		}
		failed += rows ? tx->row_count[off] : 1;
		off++;
	}
	return failed;
}

static size_t msg_len(const struct msghdr *h)
{
	size_t n = 0;
	for (size_t k = 0; k < h->msg_iovlen; k++)
		n += h->msg_iov[k].iov_len;
	return n;
}

static bool same_dst(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* The batch as rows: datagrams in a row to one destination, each as long as the
 * first but the last (no longer), at most UDP_GSO_SEGS and UDP_GSO_BYTES. */
static int make_rows(struct udp_tx *tx)
{
	int nrows = 0, niov = 0;
	for (int i = 0; i < tx->n;) {
		size_t len = msg_len(&tx->msgs[i].msg_hdr), total = len;
		int j = i + 1;
		while (len && j < tx->n && j - i < UDP_GSO_SEGS && same_dst(&tx->to[i], &tx->to[j])) {
			size_t l = msg_len(&tx->msgs[j].msg_hdr);
			if (l > len || !l || total + l > UDP_GSO_BYTES)
				break;
			total += l;
			j++;
			if (l < len)
				break; /* a shorter one ends the row */
		}
		struct msghdr *h = &tx->rows[nrows].msg_hdr;
		memset(h, 0, sizeof *h);
		h->msg_name = &tx->to[i];
		h->msg_namelen = sizeof tx->to[i];
		h->msg_iov = &tx->row_iov[niov];
		for (int k = i; k < j; k++)
			for (size_t v = 0; v < tx->msgs[k].msg_hdr.msg_iovlen; v++)
				tx->row_iov[niov++] = tx->msgs[k].msg_hdr.msg_iov[v];
		h->msg_iovlen = (size_t)(&tx->row_iov[niov] - h->msg_iov);
		if (j - i > 1) {
			h->msg_control = tx->row_cmsg[nrows].buf;
			h->msg_controllen = sizeof tx->row_cmsg[nrows].buf;
			struct cmsghdr *c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t seg = (uint16_t)len;
			memcpy(CMSG_DATA(c), &seg, sizeof seg);
			tx->gso_sends++;
			tx->gso_datagrams += (uint64_t)(j - i);
		}
		tx->row_first[nrows] = i;
		tx->row_count[nrows] = j - i;
		nrows++;
		i = j;
	}
	return nrows;
}

void udp_tx_gso(struct udp_tx *tx, bool on)
{
	tx->gso = on && !tx->gso_failed;
}

int udp_tx_flush(int fd, struct udp_tx *tx)
{
	int failed;
	if (tx->gso && tx->n > 1)
		failed = send_all(fd, tx, tx->rows, make_rows(tx), true);
	else
		failed = send_all(fd, tx, tx->msgs, tx->n, false);
	tx->n = 0;
	return failed;
}

void udp_gso_status(struct status_out *o, const struct udp_tx *tx, bool configured)
{
	st_str(o, "udp_offload", tx->gso ? "on (UDP GSO rows)"
			       : tx->gso_failed ? "off (the kernel refused a UDP GSO row on this route)"
			       : configured ? "off" : "off (UdpOffload no)");
}

void udp_gso_status_counters(struct status_out *o, const struct udp_tx *tx, int n, const struct udp_tx *more,
			     int nmore)
{
	uint64_t sends = 0, datagrams = 0;
	for (int i = 0; i < n + nmore; i++) {
		const struct udp_tx *t = i < n ? &tx[i] : &more[i - n];
		sends += t->gso_sends;
		datagrams += t->gso_datagrams;
	}
	st_u64(o, "udp_gso_sends", sends);
	st_u64(o, "udp_gso_datagrams", datagrams);
}

void udp_gro_status(struct status_out *o, const struct udp_rx *rx, bool fast_path, bool configured)
{
	st_str(o, "udp_gro", rx->gro	     ? "on (rows received whole, cut by the daemon)"
			    : !configured ? "off (UdpOffload no)"
			    : fast_path	     ? "off (the fast path's ingress program reads the traffic first)"
					     : "off (the kernel refused UDP_GRO)");
}

void udp_gro_status_counters(struct status_out *o, const struct udp_rx *rx)
{
	st_u64(o, "udp_gro_rows", rx->gro_rows);
	st_u64(o, "udp_gro_datagrams", rx->gro_datagrams);
}
