#include "sys/tun.h"

#include "sys/daemon.h"
#include "sys/log.h"
#include "sys/status_fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

_Static_assert(sizeof(struct virtio_net_hdr) == VNET_HDR_LEN, "the TUN's default header");

static int open_as(const char *name, short flags, int *ifindex)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = flags;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*ifindex = (int)if_nametoindex(ifr.ifr_name);
	return fd;
}

int tun_open(const char *name, bool offload, int *ifindex, struct tun_rx *rx)
{
	rx->vnet = false;
	if (!offload) {
		snprintf(rx->offload, sizeof rx->offload, "off (TunOffload no)");
		return open_as(name, IFF_TUN | IFF_NO_PI, ifindex);
	}
	int fd = open_as(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, ifindex);
	if (fd < 0) {
		snprintf(rx->offload, sizeof rx->offload, "off (IFF_VNET_HDR: %s)", strerror(errno));
		return open_as(name, IFF_TUN | IFF_NO_PI, ifindex);
	}
	rx->vnet = true;
	int hl = VNET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hl) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO6)) < 0) {
		/* The header stays (every read then says "no offload"): the kernel finishes
		 * and cuts everything before the TUN, as without it. */
		snprintf(rx->offload, sizeof rx->offload, "off (TUNSETOFFLOAD: %s)", strerror(errno));
		return fd;
	}
	snprintf(rx->offload, sizeof rx->offload, "tso6");
	return fd;
}

const char *tun_in_use(int err)
{
	/* TUNSETIFF on a TUN interface another process has attached. */
	return err == EBUSY ? " (another daemon on this host, shipworm's or Miredo's, has an interface by that "
			      "name: give each its own InterfaceName)"
			    : "";
}

int tun_write(int fd, const struct tun_rx *rx, const struct iovec *v, int n)
{
	static const uint8_t none[VNET_HDR_LEN]; /* flags 0, GSO_NONE */
	struct iovec w[4];
	int k = 0;
	if (rx->vnet)
		w[k++] = (struct iovec){ (void *)none, sizeof none };
	for (int i = 0; i < n && k < 4; i++)
		w[k++] = v[i];
	return writev(fd, w, k) < 0 ? -1 : 0;
}

/* One packet read with its header: finish its checksum, or cut it, or hand it on as is;
 * *segs and *used: the segments' slots and room taken in this round. */
static void one(struct tun_rx *rx, uint8_t *p, size_t len, int k, int *segs, size_t *used,
	       void (*packet)(void *, int, uint8_t *, size_t, uint64_t), void (*round_done)(void *),
	       void *ctx, uint64_t now)
{
	struct vnet_hdr h;
	vnet_hdr_get(p, &h);
	p += VNET_HDR_LEN;
	len -= VNET_HDR_LEN;
	if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE) {
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			if (csum_complete(p, len, h.csum_start, h.csum_offset) < 0) {
				rx->refused++;
				return;
			}
			rx->csum_completed++;
		}
		packet(ctx, k, p, len, now);
		return;
	}
	struct tcp6_gso g;
	if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV6 ||
	    tcp6_gso_init(&g, p, len, h.csum_start, h.gso_size) < 0) {
		rx->refused++; /* only TSO6 was offered: nothing else should come */
		return;
	}
	rx->gso_packets++;
	while (g.off < g.len - g.hdr) {
		if (*segs == TUN_SEGS || sizeof rx->seg - *used < g.hdr + g.mss) {
			round_done(ctx); /* the segments before are sent: their room is free */
			*segs = 0;
			*used = 0;
		}
		long n = tcp6_gso_next(&g, rx->seg + *used, sizeof rx->seg - *used);
		if (n <= 0)
			break;
		packet(ctx, TUN_BATCH + *segs, rx->seg + *used, (size_t)n, now);
		rx->gso_segments++;
		*used += (size_t)n;
		(*segs)++;
	}
}

int tun_drain(int fd, struct tun_rx *rx,
	      void (*packet)(void *ctx, int slot, uint8_t *pkt, size_t len, uint64_t now),
	      void (*round_done)(void *ctx), void *ctx)
{
	int gone = 0;
	for (int round = 0, k = TUN_BATCH; round < 8 && k == TUN_BATCH && !gone; round++) {
		uint64_t now = daemon_now_ms();
		int segs = 0;
		size_t used = 0;
		for (k = 0; k < TUN_BATCH; k++) {
			ssize_t len = read(fd, rx->buf[k], sizeof rx->buf[k]);
			if (len < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				gone = -errno;
			if (len <= 0)
				break;
			if (!rx->vnet)
				packet(ctx, k, rx->buf[k], (size_t)len, now);
			else if ((size_t)len > VNET_HDR_LEN && (size_t)len < sizeof rx->buf[k])
				one(rx, rx->buf[k], (size_t)len, k, &segs, &used, packet, round_done, ctx, now);
			else
				rx->refused++; /* no header, or larger than a TUN hands over */
		}
		round_done(ctx);
	}
	return gone;
}

void tun_gone(const char *ifname, int err)
{
	log_err("the tunnel interface %s is gone (%s): stopping", ifname, strerror(-err));
}

void tun_status(struct status_out *o, const struct tun_rx *rx)
{
	st_str(o, "tun_offload", rx->offload);
}

void tun_status_counters(struct status_out *o, const struct tun_rx *rx)
{
	if (!rx->vnet)
		return;
	st_u64(o, "tun_gso_packets", rx->gso_packets);
	st_u64(o, "tun_gso_segments", rx->gso_segments);
	st_u64(o, "tun_csum_completed", rx->csum_completed);
	st_u64(o, "tun_refused", rx->refused);
}

void tun_tx_init(struct tun_tx *tx, const struct tun_rx *rx, bool offload)
{
	tcp6_gro_init(&tx->g, tx->buf);
	tx->gro = rx->vnet && !strcmp(rx->offload, "tso6");
	snprintf(tx->state, sizeof tx->state, "%s",
		 tx->gro ? "on (TCP segments joined before the TUN)" : !offload ? "off (TunOffload no)" : "off (no TUN offloads)");
}

/* A super-packet the kernel refused (it never should: its checks are the ones
 * tcp6_gro_add made): cut it again and write the segments one by one. */
static int write_cut(int fd, const struct tun_rx *rx, struct tun_tx *tx, const uint8_t *p, size_t len,
		     const struct vnet_hdr *h)
{
	struct tcp6_gso g;
	int errs = 0;
	if (tcp6_gso_init(&g, p, len, h->csum_start, h->gso_size) < 0)
		return 1;
	long n;
	while ((n = tcp6_gso_next(&g, tx->seg, sizeof tx->seg)) > 0) {
		struct iovec v = { tx->seg, (size_t)n };
		errs += tun_write(fd, rx, &v, 1) < 0;
	}
	return errs;
}

int tun_tx_flush(int fd, const struct tun_rx *rx, struct tun_tx *tx)
{
	if (!tx->g.segs)
		return 0;
	uint16_t segs = tx->g.segs;
	struct vnet_hdr h;
	size_t len = tcp6_gro_finish(&tx->g, &h);
	if (segs == 1) {
		struct iovec v = { tx->buf, len };
		return tun_write(fd, rx, &v, 1) < 0;
	}
	uint8_t vh[VNET_HDR_LEN];
	vnet_hdr_put(vh, &h);
	struct iovec w[2] = { { vh, sizeof vh }, { tx->buf, len } };
	if (writev(fd, w, 2) < 0) {
		if (errno != EINVAL)
			return 1;
		/* Probe by use: a kernel that takes no GSO write from a TUN says EINVAL once. */
		tx->gro = false;
		snprintf(tx->state, sizeof tx->state, "off (a joined write: %s)", strerror(errno));
		return write_cut(fd, rx, tx, tx->buf, len, &h);
	}
	tx->gro_packets++;
	tx->gro_segments += segs;
	return 0;
}

int tun_tx_add(int fd, const struct tun_rx *rx, struct tun_tx *tx, const struct iovec *v, int n)
{
	/* One piece (what the cores forward: a borrowed slice of the datagram) can join. */
	const struct iovec *one = NULL;
	for (int i = 0; i < n; i++)
		if (v[i].iov_len)
			one = one ? NULL : &v[i];
	enum tcp_gro_verdict r = tx->gro && one ? tcp6_gro_add(&tx->g, one->iov_base, one->iov_len) : TCP_GRO_NEVER;
	if (r == TCP_GRO_TAKEN)
		return 0;
	/* What is held goes first; a segment that only was not the next starts a new run. */
	int errs = tun_tx_flush(fd, rx, tx);
	if (r == TCP_GRO_NOT_NEXT && tcp6_gro_add(&tx->g, one->iov_base, one->iov_len) == TCP_GRO_TAKEN)
		return errs;
	return errs + (tun_write(fd, rx, v, n) < 0);
}

void tun_tx_status(struct status_out *o, const struct tun_tx *tx)
{
	st_str(o, "tun_gro", tx->state);
}

void tun_tx_status_counters(struct status_out *o, const struct tun_tx *tx)
{
	st_u64(o, "tun_gro_packets", tx->gro_packets);
	st_u64(o, "tun_gro_segments", tx->gro_segments);
}
