/* RFC 6081 §4 trailers: type-length-value options after the IPv6 packet in a Teredo UDP
 * payload (P-14, X-03, X-04). The parser never reads outside its span and never
 * allocates. */
#ifndef SW_WIRE_TRAILER_H
#define SW_WIRE_TRAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define TRAILER_NONCE 0x01        /* §4.2, length 4 */
#define TRAILER_ALT_ADDRESS 0x03  /* §4.3, length 8, 14, 20 or 26 */
#define TRAILER_ND_OPTION 0x04    /* §4.4, length 4 */
#define TRAILER_RANDOM_PORT 0x05  /* §4.5, length 2 */
#define TRAILER_NONCE_LEN 4
#define TRAILER_ALT_MAX 4
#define TRAILER_ND_SOLICITATION 0x00
#define TRAILER_ND_ADVERTISEMENT 0x01

struct teredo_trailers {
	bool has_nonce, has_random_port, has_alt, has_nd;
	uint8_t nonce[TRAILER_NONCE_LEN];
	uint16_t random_port;     /* network byte order */
	uint8_t nd_type;
	uint8_t nalt;
	struct sw_endpoint alt[TRAILER_ALT_MAX];
	/* What processing met: unknown trailers skipped (type bits 00, 10, 11), known ones
	 * whose length or contents break §4 (skipped and not used), and a malformed trailer
	 * that stopped processing (§5.1.2: the rest is ignored, the packet kept). */
	uint8_t unknown, invalid;
	bool alt_invalid;         /* an Alternate Address Trailer broke §4.3 */
	bool malformed;
};

/* Parse the trailers in [buf, buf + len) in order (RFC 6081 §5.1.2). Returns WIRE_OK, or
 * WIRE_ETRAILER when an unrecognised trailer's type starts with the bits 01: the whole
 * packet must then be discarded. A repeated trailer: the first one counts. */
int teredo_trailers_parse(const uint8_t *buf, size_t len, struct teredo_trailers *out);

/* Writers; each returns the bytes written. */
size_t trailer_put_nonce(uint8_t *out, const uint8_t nonce[TRAILER_NONCE_LEN]);
size_t trailer_put_random_port(uint8_t *out, uint16_t port_net);
size_t trailer_put_nd(uint8_t *out, uint8_t discovery_type);
/* n (1..TRAILER_ALT_MAX) alternate address/port entries. */
size_t trailer_put_alt(uint8_t *out, const struct sw_endpoint *alt, unsigned n);

#endif
