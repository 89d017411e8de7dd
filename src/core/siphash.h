/* SipHash-2-4 (Aumasson and Bernstein): the keyed hash of the peer tables, so that remote
 * parties who choose addresses cannot choose hash collisions (RFC 4380 §7.3.3, SEC-05).
 * The four-byte form is inline and free of libc so that the server's XDP program
 * (src/bpf/teredo_srv.bpf.c) picks the very RA-limit bucket the core picks. */
#ifndef SW_CORE_SIPHASH_H
#define SW_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND(v0, v1, v2, v3)                                                      \
	do {                                                                               \
		v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = SIPHASH_ROTL(v0, 32); \
		v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2;                            \
		v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0;                            \
		v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = SIPHASH_ROTL(v2, 32); \
	} while (0)

/* The state after the key, and the last block (b: the tail and the length) with the
 * four finalization rounds: the two ends of every SipHash-2-4. */
struct siphash_state {
	uint64_t v0, v1, v2, v3;
};
static inline struct siphash_state siphash_begin(uint64_t k0, uint64_t k1)
{
	return (struct siphash_state){ 0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
				       0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1 };
}
static inline void siphash_block(struct siphash_state *s, uint64_t m)
{
	s->v3 ^= m;
	SIPHASH_ROUND(s->v0, s->v1, s->v2, s->v3);
	SIPHASH_ROUND(s->v0, s->v1, s->v2, s->v3);
	s->v0 ^= m;
}
static inline uint64_t siphash_end(struct siphash_state *s, uint64_t b)
{
	siphash_block(s, b);
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPHASH_ROUND(s->v0, s->v1, s->v2, s->v3);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* siphash24(key, &v, 4) with the key as its two little-endian words k0, k1 and v as
 * its four bytes in memory order read little-endian (x86 and BPF on x86 alike). */
static inline uint64_t siphash24_u32(uint64_t k0, uint64_t k1, uint32_t v)
{
	struct siphash_state s = siphash_begin(k0, k1);
	return siphash_end(&s, (uint64_t)4 << 56 | v);
}

/* The key's two words, as siphash24_u32() takes them. */
static inline uint64_t siphash_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
