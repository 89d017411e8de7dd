#include "wire_err.h"

const char *wire_strerror(int err)
{
	switch (err) {
	case WIRE_OK: return "ok";
	case WIRE_ETRUNC: return "truncated";
	case WIRE_EAUTH: return "bad authentication header";
	case WIRE_EVERSION: return "not IPv6";
	case WIRE_ELENGTH: return "IPv6 length exceeds datagram";
	case WIRE_ETYPE: return "unknown encapsulation";
	case WIRE_ECHECKSUM: return "bad ICMPv6 checksum";
	case WIRE_EICMP: return "malformed ICMPv6";
	case WIRE_ETRAILER: return "trailer requires discard";
	case WIRE_ENOSPACE: return "no space";
	}
	return "unknown error";
}
