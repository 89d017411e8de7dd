/* SipHash-2-4 (Aumasson and Bernstein): the keyed hash of the peer tables, so that remote
 * parties who choose addresses cannot choose hash collisions (RFC 4380 §7.3.3, SEC-05). */
#ifndef SW_CORE_SIPHASH_H
#define SW_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
