/* The control socket's request grammar, apart from any I/O so that it can be fuzzed:
 *
 *     request = ( "status" [ " json" / " prom" ] / "peers" [ " from " slot ] [ " json" ]
 *               / "peer " ipv6-address [ " json" ] ) LF
 *     slot    = 1*DIGIT     ; at most 4294967295: where a previous answer's "next" says
 *
 * Anything else (no LF within CONTROL_REQ_MAX bytes, bytes after the LF, control or
 * non-ASCII bytes, unknown verbs or options) is refused with a one-line reason. */
#ifndef SW_SYS_CONTROL_REQ_H
#define SW_SYS_CONTROL_REQ_H

#include <stdbool.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_REQ_MAX 64

enum control_verb { CTL_STATUS, CTL_PEERS, CTL_PEER };

struct control_req {
	enum control_verb verb;
	bool json;
	bool prom;            /* CTL_STATUS in the Prometheus format (`shipworm metrics`) */
	struct in6_addr addr; /* CTL_PEER: the peer asked about */
	uint32_t from;        /* CTL_PEERS: the table slot to list from (0: the start) */
};

/* Parses the bytes a peer sent. Returns 0, or -1 with a reason (a static string)
 * in *why. */
int control_parse(const char *buf, size_t len, struct control_req *req, const char **why);

/* A decimal number at s (bytes up to end, no terminator needed), at most max: 0 with
 * the value in *v and the first byte after it in *after, or -1 (no digit, too large).
 * The request's slot and, in `shipworm peers`, the answer's numbers. */
int control_number(const char *s, const char *end, uint64_t max, uint64_t *v, const char **after);

#endif
