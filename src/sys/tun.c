#include "sys/tun.h"

#include "sys/daemon.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tun_open(const char *name, int *ifindex)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	*ifindex = (int)if_nametoindex(ifr.ifr_name);
	return fd;
}

void tun_drain(int fd, uint8_t (*bufs)[TUN_BUF],
	       void (*packet)(void *ctx, int slot, size_t len, uint64_t now),
	       void (*round_done)(void *ctx), void *ctx)
{
	for (int round = 0, k = TUN_BATCH; round < 8 && k == TUN_BATCH; round++) {
		uint64_t now = daemon_now_ms();
		for (k = 0; k < TUN_BATCH; k++) {
			ssize_t len = read(fd, bufs[k], TUN_BUF);
			if (len <= 0)
				break;
			packet(ctx, k, (size_t)len, now);
		}
		round_done(ctx);
	}
}
