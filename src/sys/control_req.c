#include "sys/control_req.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

int control_number(const char *s, const char *end, uint64_t max, uint64_t *v, const char **after)
{
	uint64_t x = 0;
	const char *c = s;
	for (; c < end && *c >= '0' && *c <= '9'; c++) {
		if (x > (max - (uint64_t)(*c - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*c - '0');
	}
	if (c == s)
		return -1;
	*v = x;
	*after = c;
	return 0;
}

int control_parse(const char *buf, size_t len, struct control_req *req, const char **why)
{
	const char *nl = memchr(buf, '\n', len < CONTROL_REQ_MAX ? len : CONTROL_REQ_MAX);
	if (!nl) {
		*why = len >= CONTROL_REQ_MAX ? "request too long" : "request not terminated by a newline";
		return -1;
	}
	if ((size_t)(nl - buf) + 1 != len) {
		*why = "bytes after the request line";
		return -1;
	}
	size_t n = (size_t)(nl - buf);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c > 0x7e) {
			*why = "request holds a control or non-ASCII byte";
			return -1;
		}
	}
	static const struct {
		const char *word;
		enum control_verb verb;
	} verbs[] = { { "status", CTL_STATUS }, { "peers", CTL_PEERS }, { "peer", CTL_PEER } };
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		size_t w = strlen(verbs[i].word);
		if (n < w || memcmp(buf, verbs[i].word, w) || (n > w && buf[w] != ' '))
			continue;
		req->verb = verbs[i].verb;
		size_t at = w;
		if (req->verb == CTL_PEER) {
			/* one IPv6 address, then maybe " json" */
			char a[INET6_ADDRSTRLEN];
			size_t start = at + 1, end = start;
			while (end < n && buf[end] != ' ')
				end++;
			if (at >= n || end == start || end - start >= sizeof a) {
				*why = "peer needs an IPv6 address";
				return -1;
			}
			memcpy(a, buf + start, end - start);
			a[end - start] = 0;
			if (inet_pton(AF_INET6, a, &req->addr) != 1) {
				*why = "peer needs an IPv6 address";
				return -1;
			}
			at = end;
		}
		/* `shipworm peers` pages through a large table: " from " and the slot the
		 * previous answer's "next" named. */
		req->from = 0;
		if (req->verb == CTL_PEERS && n >= at + 6 && !memcmp(buf + at, " from ", 6)) {
			uint64_t v;
			const char *after;
			if (control_number(buf + at + 6, buf + n, UINT32_MAX, &v, &after) < 0 ||
			    (after < buf + n && *after != ' ')) {
				*why = "peers from needs a slot number (0 to 4294967295)";
				return -1;
			}
			req->from = (uint32_t)v;
			at = (size_t)(after - buf);
		}
		req->prom = req->verb == CTL_STATUS && n == at + 5 && !memcmp(buf + at, " prom", 5);
		if (n == at || req->prom || (n == at + 5 && !memcmp(buf + at, " json", 5))) {
			req->json = n != at && !req->prom;
			return 0;
		}
		*why = "unknown option (json; prom for status)";
		return -1;
	}
	*why = "unknown request (status, peers or peer ADDRESS)";
	return -1;
}
