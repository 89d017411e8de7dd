/* Parse errors of the wire formats: negative codes, each with a short reason that logs
 * and the drop counters of `shipworm status` show. */
#ifndef SW_WIRE_ERR_H
#define SW_WIRE_ERR_H

enum wire_err {
	WIRE_OK = 0,
	WIRE_ETRUNC = -1,      /* shorter than the header it announces */
	WIRE_EAUTH = -2,       /* authentication encapsulation lengths overrun the datagram */
	WIRE_EVERSION = -3,    /* first nibble is not 6 */
	WIRE_ELENGTH = -4,     /* IPv6 payload length exceeds the datagram */
	WIRE_ETYPE = -5,       /* unknown encapsulation type (00 xx other than 00/01) */
	WIRE_ECHECKSUM = -6,   /* ICMPv6 checksum wrong */
	WIRE_EICMP = -7,       /* ICMPv6 message malformed (code, hop limit, options) */
	WIRE_ETRAILER = -8,    /* RFC 6081 trailer that requires discarding the packet */
	WIRE_ENOSPACE = -9,    /* output buffer too small */
};
#define WIRE_ERR_COUNT 10

const char *wire_strerror(int err);

#endif
