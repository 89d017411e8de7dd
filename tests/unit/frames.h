/* Ethernet + IPv4 + UDP frames and their sums, for the tests that feed the fast path's
 * programs through BPF_PROG_TEST_RUN (test_bpf.c, test_bpf_srv.c), and the IPv6 TCP
 * segments and upper-layer sum the TUN offload tests use (test_tcp_gso.c,
 * test_tcp_gro.c). */
#ifndef SW_TEST_FRAMES_H
#define SW_TEST_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/endpoint.h"

#include <netinet/in.h>

/* The one's-complement sum of n bytes (RFC 1071: an odd last byte padded), added to s. */
static inline uint16_t ones_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get_be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The UDP sum of the IPv4 packet at ip, pseudo-header included (0xffff when valid). */
static inline uint16_t udp4_sum(const uint8_t *ip)
{
	uint16_t ulen = get_be16(ip + 24);
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	put_be16(ph + 10, ulen);
	return ones_sum(ip + 20, ulen, ones_sum(ph, 12, 0));
}

/* The sum over the RFC 8200 §8.1 pseudo-header and the upper-layer message at l4 of the
 * IPv6 packet pkt (0xffff when its checksum is right). */
static inline uint16_t ip6_l4_sum(const uint8_t *pkt, size_t len, size_t l4, uint8_t nh)
{
	uint8_t ph[40];
	memcpy(ph, pkt + 8, 32);
	put_be32(ph + 32, (uint32_t)(len - l4));
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = nh;
	return ones_sum(pkt + l4, len - l4, ones_sum(ph, 40, 0));
}


/* The 72 bytes of headers of an IPv6 TCP segment as Linux sends a bulk flow's: traffic
 * class and flow label set (they must survive cutting and joining), ports 40000 -> 5201,
 * ack 77, window 512, NOP NOP timestamps (TCP6_THL 32); the timestamps' values, the
 * payload and the checksum are the caller's. */
#define TCP6_THL 32
static inline void tcp6_headers(uint8_t *p, const struct in6_addr *src, const struct in6_addr *dst, uint8_t hlim,
				uint32_t seq, uint8_t flags, size_t pay)
{
	memset(p, 0, 40 + TCP6_THL);
	p[0] = 0x60;
	p[1] = 0x0a;
	p[3] = 0x42;
	put_be16(p + 4, (uint16_t)(TCP6_THL + pay));
	p[6] = 6;
	p[7] = hlim;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	uint8_t *th = p + 40;
	put_be16(th, 40000);
	put_be16(th + 2, 5201);
	put_be32(th + 4, seq);
	put_be32(th + 8, 77);
	th[12] = (TCP6_THL / 4) << 4;
	th[13] = flags;
	put_be16(th + 14, 512);
	th[20] = 1, th[21] = 1, th[22] = 8, th[23] = 10;
}

/* Into pkt: Ethernet (to `to`, from `from`) + IPv4 + UDP from src to dst:dport (network
 * byte order address) + body, with a UDP checksum or none; returns the frame's length. */
static inline size_t udp4_frame(uint8_t *pkt, const char *to, const char *from, struct sw_endpoint src,
				uint32_t dst, uint16_t dport, const uint8_t *body, size_t blen, bool udp_check)
{
	memcpy(pkt, to, 6);
	memcpy(pkt + 6, from, 6);
	put_be16(pkt + 12, 0x0800);
	uint8_t *ip = pkt + 14;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(28 + blen));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src.ip, 4);
	memcpy(ip + 16, &dst, 4);
	put_be16(ip + 10, (uint16_t)~ones_sum(ip, 20, 0));
	memcpy(ip + 20, &src.port, 2);
	put_be16(ip + 22, dport);
	put_be16(ip + 24, (uint16_t)(8 + blen));
	memcpy(ip + 28, body, blen);
	if (udp_check)
		put_be16(ip + 26, (uint16_t)~udp4_sum(ip));
	return 14 + 28 + blen;
}

/* The UDP datagram an IPv4 host's stack would hand a socket for the Ethernet frame of
 * len bytes (IPv4 without options or fragments, its header checksum, the lengths, the UDP
 * checksum right or none), with its source and destination; false when the stack would
 * drop it. The differential fuzzers ask it what the daemon's socket would receive. */
static inline bool udp4_received(const uint8_t *frame, size_t len, struct sw_endpoint *src,
				 struct sw_endpoint *dst, const uint8_t **pay, size_t *plen)
{
	const uint8_t *ip = frame + 14;
	if (len < 14 + 28 || get_be16(frame + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17)
		return false;
	size_t tot = get_be16(ip + 2);
	if (tot < 28 || tot > len - 14 || (get_be16(ip + 6) & 0x3fff) || ones_sum(ip, 20, 0) != 0xffff ||
	    get_be16(ip + 24) != tot - 20 || (get_be16(ip + 26) && udp4_sum(ip) != 0xffff))
		return false;
	memcpy(&src->ip, ip + 12, 4);
	memcpy(&src->port, ip + 20, 2);
	memcpy(&dst->ip, ip + 16, 4);
	memcpy(&dst->port, ip + 22, 2);
	*pay = ip + 28;
	*plen = tot - 28;
	return true;
}

#endif
