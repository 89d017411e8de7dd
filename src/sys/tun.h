/* The tunnel interface: a TUN device (IFF_TUN, no packet information header). */
#ifndef SW_SYS_TUN_H
#define SW_SYS_TUN_H

/* Create or attach to `name`; returns the non-blocking fd and sets *ifindex. */
int tun_open(const char *name, int *ifindex);

#endif
