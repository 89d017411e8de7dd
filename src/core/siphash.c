#include "core/siphash.h"

#include <string.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	struct siphash_state s = siphash_begin(siphash_le64(key), siphash_le64(key + 8));
	size_t n = len & ~(size_t)7;
	for (size_t i = 0; i < n; i += 8)
		siphash_block(&s, siphash_le64(in + i));
	uint8_t tail[8] = { 0 };
	memcpy(tail, in + n, len - n);
	return siphash_end(&s, (uint64_t)len << 56 | siphash_le64(tail));
}
