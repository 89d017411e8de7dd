/* The Teredo UDP payload: optional authentication encapsulation, optional origin
 * indication, then an IPv6 packet, then (RFC 6081) trailers. RFC 4380 §5.1.1 (P-09..P-11),
 * RFC 6081 §4 (P-14, X-03, X-04). */
#ifndef SW_WIRE_ENCAP_H
#define SW_WIRE_ENCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "ipv6.h"

#define TEREDO_ORIGIN_LEN 8
#define TEREDO_AUTH_MIN_LEN 13
#define TEREDO_NONCE_LEN 8

struct teredo_pkt {
	bool has_auth;
	uint8_t auth_id_len, auth_au_len;
	const uint8_t *auth_id, *auth_au;
	uint8_t nonce[TEREDO_NONCE_LEN];
	uint8_t confirmation;

	bool has_origin;
	struct sw_endpoint origin; /* de-obfuscated, network byte order */

	const uint8_t *ip6;  /* the IPv6 packet: 40-byte header and payload */
	size_t ip6_len;      /* 40 + payload length */
	const uint8_t *trailers; /* bytes after the IPv6 packet (RFC 6081 §4) */
	size_t trailers_len;
};

/* Parse a UDP payload. Never reads outside [buf, buf + len). Returns WIRE_OK or a
 * negative wire_err; on error *out is unspecified. */
int teredo_parse(const uint8_t *buf, size_t len, struct teredo_pkt *out);

/* Write an origin indication (8 bytes) for ep. */
void teredo_put_origin(uint8_t *out, struct sw_endpoint ep);

/* Write a nonce-only authentication encapsulation (13 bytes: ID-len = AU-len = 0). */
void teredo_put_auth_nonce(uint8_t *out, const uint8_t nonce[TEREDO_NONCE_LEN], uint8_t confirmation);

#endif
