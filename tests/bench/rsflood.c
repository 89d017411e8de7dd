/* rsflood: a bounded load generator for `make bench`. Sends Teredo Router
 * Solicitations (nonce-only authentication header, as Miredo and shipworm clients do)
 * from NSOCK UDP ports to SERVER:3544 for at most SECONDS or COUNT packets, and counts
 * the Router Advertisements that come back.
 *
 *   rsflood SERVER SECONDS COUNT
 *
 * Prints: "sent N answered N seconds S". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

#define NSOCK 64
#define BATCH 32

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rsflood SERVER SECONDS COUNT\n");
		return 2;
	}
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(3544) };
	if (inet_pton(AF_INET, argv[1], &srv.sin_addr) != 1)
		return 2;
	double limit = atof(argv[2]);
	long count = atol(argv[3]);

	uint8_t pkt[128];
	uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	teredo_put_auth_nonce(pkt, nonce, 0);
	struct in6_addr src, dst;
	inet_pton(AF_INET6, "fe80::ffff:ffff:ffff", &src);
	inet_pton(AF_INET6, "ff02::2", &dst);
	uint8_t *ip6 = pkt + 13;
	ip6_put_header(ip6, 8, 58, 255, &src, &dst);
	memset(ip6 + 40, 0, 8);
	ip6[40] = ICMP6_RS;
	put_be16(ip6 + 42, icmp6_checksum(&src, &dst, ip6 + 40, 8));
	size_t len = 13 + 48;

	int fds[NSOCK];
	for (int i = 0; i < NSOCK; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		int buf = 4 << 20;
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&srv, sizeof srv) < 0) {
			perror("socket");
			return 1;
		}
	}
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { pkt, len };
	for (int i = 0; i < BATCH; i++)
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	static uint8_t rbuf[BATCH][256];
	struct mmsghdr rmsgs[BATCH];
	struct iovec riov[BATCH];
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){ rbuf[i], sizeof rbuf[i] };
		rmsgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &riov[i], .msg_iovlen = 1 } };
	}

	long sent = 0, answered = 0;
	double start = now(), end = start + limit, t;
	int k = 0;
	while ((t = now()) < end && sent < count) {
		int r = sendmmsg(fds[k], msgs, BATCH, 0);
		if (r > 0)
			sent += r;
		k = (k + 1) % NSOCK;
		/* Drain a few sockets each round, so that answers do not pile up. */
		for (int j = 0; j < 4; j++) {
			int n = recvmmsg(fds[(k + j * 16) % NSOCK], rmsgs, BATCH, MSG_DONTWAIT, NULL);
			if (n > 0)
				answered += n;
		}
	}
	/* Collect late answers for up to half a second. */
	double stop = now() + 0.5;
	while (now() < stop)
		for (int i = 0; i < NSOCK; i++) {
			int n = recvmmsg(fds[i], rmsgs, BATCH, MSG_DONTWAIT, NULL);
			if (n > 0)
				answered += n;
		}
	printf("sent %ld answered %ld seconds %.2f\n", sent, answered, t - start);
	return 0;
}
