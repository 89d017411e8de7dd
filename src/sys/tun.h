/* The tunnel interface: a TUN device (IFF_TUN, no packet information header), with the
 * offloads a NIC would have where the kernel offers them (issue 10, the fallback path):
 * IFF_VNET_HDR with TUN_F_CSUM | TUN_F_TSO6 hands the daemon a host's TCP super-packet
 * (up to 64 KiB) in one read instead of ~50, and a checksum to finish instead of a
 * packet the kernel summed first; the daemon cuts and sums them itself (wire/tcp_gso.h).
 * The other way, consecutive segments of one TCP flow leave in one write as a GSO
 * super-packet (wire/tcp_gro.h), as a NIC's GRO would hand them to the stack. */
#ifndef SW_SYS_TUN_H
#define SW_SYS_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "wire/tcp_gro.h"
#include "wire/tcp_gso.h"

struct status_out;

#define TUN_BATCH 32
#define TUN_BUF 65536
/* Segments of super-packets handed on before round_done() must be called: a 64 KiB
 * packet at the smallest MSS an MTU of 1280 gives (1208) is 55 of them. */
#define TUN_SEGS 64
/* Action slots a round can use: one per read, one per segment. */
#define TUN_SLOTS (TUN_BATCH + TUN_SEGS)

struct tun_rx {
	bool vnet;          /* every read and write starts with a virtio_net_hdr */
	char offload[80];   /* for the status: "tso6" or "off (why)" */
	uint64_t gso_packets, gso_segments, csum_completed, refused;
	uint8_t buf[TUN_BATCH][VNET_HDR_LEN + TUN_BUF];
	uint8_t seg[2 * TUN_BUF]; /* a super-packet's segments, headers repeated */
};

/* Create or attach to `name`, with offloads if `offload` and the kernel takes them
 * (rx->vnet, rx->offload say what it got); returns the non-blocking fd and sets *ifindex. */
int tun_open(const char *name, bool offload, int *ifindex, struct tun_rx *rx);
/* After tun_open failed with err: what an operator should know, or "". */
const char *tun_in_use(int err);

/* Write one packet in n pieces (n <= 3), behind a "no offload" virtio_net_hdr if the fd
 * has one. */
int tun_write(int fd, const struct tun_rx *rx, const struct iovec *v, int n);

/* Writes to the TUN: TCP segments of one flow held and joined (tcp_gro.h) until
 * something else comes or tun_tx_flush; everything else written at once, in order. */
struct tun_tx {
	bool gro;            /* joining: the TUN has a vnet header and the kernel took it */
	char state[80];      /* for the status: "on" or "off (why)" */
	struct tcp6_gro g;
	uint64_t gro_packets, gro_segments; /* super-packets written, segments in them */
	uint8_t buf[TCP_GRO_MAX];
	uint8_t seg[TCP_GRO_MAX]; /* a refused super-packet, cut again */
};
void tun_tx_init(struct tun_tx *tx, const struct tun_rx *rx, bool offload);
/* Write (or hold) one packet in n pieces (n <= 3); returns the number of failed writes. */
int tun_tx_add(int fd, const struct tun_rx *rx, struct tun_tx *tx, const struct iovec *v, int n);
/* Write what is held; returns the number of failed writes. */
int tun_tx_flush(int fd, const struct tun_rx *rx, struct tun_tx *tx);
void tun_tx_status(struct status_out *o, const struct tun_tx *tx);
void tun_tx_status_counters(struct status_out *o, const struct tun_tx *tx);

/* Read packets waiting on a TUN fd, handing each to packet() with an action slot below
 * TUN_SLOTS and the packet (which stays valid until round_done() is called), segments of
 * a super-packet one by one; calling round_done() after each round and whenever the
 * segments' room is full, which must finish with the slots (send what points into
 * them). As many rounds as an event loop gives its UDP socket, so that a flood on one
 * side does not starve the other (the lab's flood test saw the TUN queue overflow with
 * one round); stops at a short round. Returns 0, or -errno when the TUN is gone (its
 * interface deleted under the daemon: EBADFD, and epoll would report it forever). */
int tun_drain(int fd, struct tun_rx *rx,
	       void (*packet)(void *ctx, int slot, uint8_t *pkt, size_t len, uint64_t now),
	       void (*round_done)(void *ctx), void *ctx);

/* After tun_drain() said the TUN is gone: log it. The caller then stops with a failure:
 * nothing is left to carry, and its unprivileged process cannot rebuild the interface;
 * systemd (Restart=on-failure) or Mode auto's supervisor starts it again, rather than
 * the loop spinning on the dead descriptor. */
void tun_gone(const char *ifname, int err);

/* For `shipworm status`: which offloads the TUN has, and what the daemon finished. */
void tun_status(struct status_out *o, const struct tun_rx *rx);
void tun_status_counters(struct status_out *o, const struct tun_rx *rx);

#endif
