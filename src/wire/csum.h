/* The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit big-endian words,
 * accumulated wide and folded at the end, over possibly unaligned bytes. */
#ifndef SW_WIRE_CSUM_H
#define SW_WIRE_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

/* Add len bytes at p to acc; an odd last byte counts as its word's high half, so only
 * the last piece of a message may have an odd length. */
static inline uint64_t csum_add(uint64_t acc, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		acc += get_be16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += (uint64_t)p[0] << 8;
	return acc;
}

/* RFC 8200 §8.1: the IPv6 pseudo-header's sum — source and destination (16 bytes each),
 * the upper-layer length and the next header. */
static inline uint64_t csum_ip6_pseudo(const uint8_t *src, const uint8_t *dst, uint32_t len, uint8_t nh)
{
	uint8_t tail[8] = { 0 };
	put_be32(tail, len);
	tail[7] = nh;
	return csum_add(csum_add(csum_add(0, src, 16), dst, 16), tail, 8);
}

/* Fold to 16 bits and complement: the value the checksum field carries. */
static inline uint16_t csum_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

#endif
