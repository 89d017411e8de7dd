/* The tunnel interface: a TUN device (IFF_TUN, no packet information header). */
#ifndef SW_SYS_TUN_H
#define SW_SYS_TUN_H

#include <stddef.h>
#include <stdint.h>

/* Create or attach to `name`; returns the non-blocking fd and sets *ifindex. */
int tun_open(const char *name, int *ifindex);

#define TUN_BATCH 32
#define TUN_BUF 65536

/* Read packets waiting on a TUN fd into bufs (TUN_BATCH slots), handing each to
 * packet() with its slot (its buffer stays valid until the round ends), and calling
 * round_done() after each round, which must finish with the slots (send what points
 * into them). As many rounds as an event loop gives its UDP socket, so that a flood on
 * one side does not starve the other (the lab's flood test saw the TUN queue overflow
 * with one round); stops at a short round. */
void tun_drain(int fd, uint8_t (*bufs)[TUN_BUF],
	       void (*packet)(void *ctx, int slot, size_t len, uint64_t now),
	       void (*round_done)(void *ctx), void *ctx);

#endif
