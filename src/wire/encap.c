#include "encap.h"

#include <string.h>

#include "bytes.h"
#include "wire_err.h"

int teredo_parse(const uint8_t *buf, size_t len, struct teredo_pkt *out)
{
	size_t off = 0;

	out->has_auth = false;
	out->has_origin = false;

	/* RFC 4380 §5.1.1 (P-09): authentication first, then origin indication. */
	if (len >= 2 && buf[0] == 0 && buf[1] == 1) {
		if (len < 4)
			return WIRE_ETRUNC;
		uint8_t id_len = buf[2], au_len = buf[3];
		/* SEC-18: bound-check ID-len + AU-len + 13 against the datagram. */
		size_t need = (size_t)TEREDO_AUTH_MIN_LEN + id_len + au_len;
		if (len < need)
			return WIRE_EAUTH;
		out->has_auth = true;
		out->auth_id_len = id_len;
		out->auth_au_len = au_len;
		out->auth_id = buf + 4;
		out->auth_au = buf + 4 + id_len;
		memcpy(out->nonce, buf + 4 + id_len + au_len, TEREDO_NONCE_LEN);
		out->confirmation = buf[4 + id_len + au_len + TEREDO_NONCE_LEN];
		off = need;
	}
	if (len - off >= 2 && buf[off] == 0 && buf[off + 1] == 0) {
		if (len - off < TEREDO_ORIGIN_LEN)
			return WIRE_ETRUNC;
		uint16_t port;
		uint32_t ip;
		memcpy(&port, buf + off + 2, 2);
		memcpy(&ip, buf + off + 4, 4);
		out->has_origin = true;
		out->origin.port = (uint16_t)~port;
		out->origin.ip = ~ip;
		off += TEREDO_ORIGIN_LEN;
	}
	if (len - off < IPV6_HDR_LEN) {
		/* A known 00 xx type would have been consumed above. */
		if (len - off >= 1 && buf[off] == 0)
			return WIRE_ETYPE;
		return WIRE_ETRUNC;
	}
	const uint8_t *ip6 = buf + off;
	if ((ip6[0] >> 4) != 6)
		return ip6[0] == 0 ? WIRE_ETYPE : WIRE_EVERSION;
	/* RFC 4380 §5.2.3 as defined by RFC 6081 §4 (P-14): 40 + payload length must not
	 * exceed what is left; the rest is trailers. */
	size_t ip6_len = IPV6_HDR_LEN + (size_t)get_be16(ip6 + 4);
	if (ip6_len > len - off)
		return WIRE_ELENGTH;
	out->ip6 = ip6;
	out->ip6_len = ip6_len;
	out->trailers = ip6 + ip6_len;
	out->trailers_len = len - off - ip6_len;
	return WIRE_OK;
}

void teredo_put_origin(uint8_t *out, struct sw_endpoint ep)
{
	uint16_t port = (uint16_t)~ep.port;
	uint32_t ip = ~ep.ip;
	out[0] = 0;
	out[1] = 0;
	memcpy(out + 2, &port, 2);
	memcpy(out + 4, &ip, 4);
}

void teredo_put_auth_nonce(uint8_t *out, const uint8_t nonce[TEREDO_NONCE_LEN], uint8_t confirmation)
{
	out[0] = 0;
	out[1] = 1;
	out[2] = 0;
	out[3] = 0;
	memcpy(out + 4, nonce, TEREDO_NONCE_LEN);
	out[12] = confirmation;
}
