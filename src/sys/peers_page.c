#include "sys/peers_page.h"

#include "sys/control_req.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The last occurrence of needle in [h, h + n). */
static const char *find_last(const char *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = n >= k ? n - k + 1 : 0; i-- > 0;)
		if (!memcmp(h + i, needle, k))
			return h + i;
	return NULL;
}

/* status_peers writes, in text:   count: C\npeers:\n<entries>listed: L\n[next: N\n]
 *                    in JSON:   {"count":C,"peers":[<entries>],"listed":L[,"next":N]}\n
 * Addresses and mappings never hold the markers, so the first "peers" opening and the
 * last "listed" are the array's ends. */
int peers_page_split(const char *a, size_t len, bool json, struct peers_page *p)
{
	const char *end = a + len;
	const char *mark = json ? ",\"peers\":[" : "\npeers:\n";
	const char *open = memmem(a, len, mark, strlen(mark));
	const char *close = find_last(a, len, json ? "],\"listed\":" : "\nlisted: ");
	if (!open || !close || close < open)
		return -1;
	memset(p, 0, sizeof *p);
	p->body = (size_t)(open - a) + (json ? 10 : 8);
	/* In text the entries' last line ends with the newline before "listed". */
	p->tail = (size_t)(close - a) + (json ? 0 : 1);
	if (p->tail < p->body)
		return -1;
	const char *c = close + (json ? 11 : 9), *after;
	uint64_t v;
	if (control_number(c, end, UINT64_MAX, &p->listed, &after) < 0)
		return -1;
	const char *next = json ? ",\"next\":" : "\nnext: ";
	size_t nl = strlen(next);
	if ((size_t)(end - after) >= nl && !memcmp(after, next, nl)) {
		if (control_number(after + nl, end, UINT32_MAX, &v, &after) < 0)
			return -1;
		p->more = true;
		p->next = (uint32_t)v;
	}
	/* What must follow: the document's end, and nothing else. */
	const char *rest = json ? "}\n" : "\n";
	size_t rl = strlen(rest);
	return (size_t)(end - after) == rl && !memcmp(after, rest, rl) ? 0 : -1;
}

const char *peers_page_joint(bool json, bool before, const struct peers_page *p)
{
	return json && before && p->tail > p->body ? "," : "";
}

size_t peers_page_tail(bool json, uint64_t listed, char *out, size_t cap)
{
	int n = snprintf(out, cap, json ? "],\"listed\":%" PRIu64 "}\n" : "listed: %" PRIu64 "\n", listed);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
