/* libFuzzer: the Teredo payload parser, the ICMPv6 checkers behind it (SEC-18) and the
 * RFC 6081 trailer parser, on the trailers of a valid payload and on raw input. */
#include <stddef.h>
#include <stdint.h>

#include "wire/encap.h"
#include "wire/icmpv6.h"
#include "wire/trailer.h"
#include "wire/wire_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct teredo_pkt p;
	struct teredo_trailers t;
	(void)teredo_trailers_parse(data, size, &t);
	if (t.nalt > TRAILER_ALT_MAX)
		__builtin_trap();
	if (teredo_parse(data, size, &p) != WIRE_OK)
		return 0;
	(void)teredo_trailers_parse(p.trailers, p.trailers_len, &t);
	/* Every view must lie inside the input. */
	if (p.ip6 < data || p.ip6 + p.ip6_len + p.trailers_len != data + size)
		__builtin_trap();
	struct ra_info ri;
	(void)ra_parse(p.ip6, p.ip6_len, &ri);
	(void)icmp6_check_rs(p.ip6, p.ip6_len);
	(void)icmp6_type(p.ip6, p.ip6_len);
	return 0;
}
