#include "trailer.h"

#include <string.h>

#include "bytes.h"
#include "wire_err.h"

/* RFC 6081 §4.1: the two high-order bits of an unknown type say what to do; 01 means
 * discard the packet, anything else skip the trailer. */
static bool unknown_discards(uint8_t type)
{
	return (type & 0xc0) == 0x40;
}

int teredo_trailers_parse(const uint8_t *buf, size_t len, struct teredo_trailers *out)
{
	memset(out, 0, sizeof *out);
	size_t off = 0;
	while (off < len) {
		/* §5.1.2: a trailer is malformed when its header or value overruns the
		 * datagram; processing stops there. */
		if (len - off < 2 || len - off - 2 < buf[off + 1]) {
			out->malformed = true;
			break;
		}
		uint8_t type = buf[off], vlen = buf[off + 1];
		const uint8_t *v = buf + off + 2;
		off += 2 + (size_t)vlen;
		switch (type) {
		case TRAILER_NONCE:
			if (vlen != TRAILER_NONCE_LEN) {
				out->invalid++;
			} else if (!out->has_nonce) {
				out->has_nonce = true;
				memcpy(out->nonce, v, TRAILER_NONCE_LEN);
			}
			break;
		case TRAILER_RANDOM_PORT:
			if (vlen != 2 || (v[0] == 0 && v[1] == 0)) {
				out->invalid++;
			} else if (!out->has_random_port) {
				out->has_random_port = true;
				memcpy(&out->random_port, v, 2);
			}
			break;
		case TRAILER_ND_OPTION:
			if (vlen != 4 || v[0] > TRAILER_ND_ADVERTISEMENT) {
				out->invalid++;
			} else if (!out->has_nd) {
				out->has_nd = true;
				out->nd_type = v[0];
			}
			break;
		case TRAILER_ALT_ADDRESS: {
			/* §4.3: 2 reserved bytes, then 1..4 entries of 6; each a unicast
			 * address and a non-zero port. */
			if (vlen < 8 || vlen > 26 || (vlen - 2) % 6) {
				out->invalid++;
				out->alt_invalid = true;
				break;
			}
			unsigned n = (vlen - 2u) / 6u;
			struct sw_endpoint alt[TRAILER_ALT_MAX];
			bool ok = true;
			for (unsigned i = 0; i < n; i++) {
				memcpy(&alt[i].ip, v + 2 + 6 * i, 4);
				memcpy(&alt[i].port, v + 6 + 6 * i, 2);
				uint32_t h = get_be32(v + 2 + 6 * i);
				if (!alt[i].port || !h || (h >> 28) >= 14 || h == 0xffffffffu)
					ok = false;
			}
			if (!ok) {
				out->invalid++;
				out->alt_invalid = true;
			} else if (!out->has_alt) {
				out->has_alt = true;
				out->nalt = (uint8_t)n;
				memcpy(out->alt, alt, sizeof alt[0] * n);
			}
			break;
		}
		default:
			if (unknown_discards(type))
				return WIRE_ETRAILER;
			out->unknown++;
			break;
		}
	}
	return WIRE_OK;
}

size_t trailer_put_nonce(uint8_t *out, const uint8_t nonce[TRAILER_NONCE_LEN])
{
	out[0] = TRAILER_NONCE;
	out[1] = TRAILER_NONCE_LEN;
	memcpy(out + 2, nonce, TRAILER_NONCE_LEN);
	return 2 + TRAILER_NONCE_LEN;
}

size_t trailer_put_random_port(uint8_t *out, uint16_t port_net)
{
	out[0] = TRAILER_RANDOM_PORT;
	out[1] = 2;
	memcpy(out + 2, &port_net, 2);
	return 4;
}

size_t trailer_put_nd(uint8_t *out, uint8_t discovery_type)
{
	out[0] = TRAILER_ND_OPTION;
	out[1] = 4;
	out[2] = discovery_type;
	out[3] = out[4] = out[5] = 0;
	return 6;
}

size_t trailer_put_alt(uint8_t *out, const struct sw_endpoint *alt, unsigned n)
{
	out[0] = TRAILER_ALT_ADDRESS;
	out[1] = (uint8_t)(2 + 6 * n);
	out[2] = out[3] = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(out + 4 + 6 * i, &alt[i].ip, 4);
		memcpy(out + 8 + 6 * i, &alt[i].port, 2);
	}
	return 4 + 6 * n;
}
