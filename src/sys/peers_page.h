/* `shipworm peers` on a table larger than one answer (CONTROL_ANSWER_MAX): the daemon
 * answers a page at a time ("peers from SLOT", status_peers), and the command puts the
 * pages together into the one document a single answer would have been, text or JSON.
 * Pure: the splitting of one answer, apart from any I/O so that it can be fuzzed. */
#ifndef SW_SYS_PEERS_PAGE_H
#define SW_SYS_PEERS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct peers_page {
	size_t body, tail; /* the entries are answer[body, tail): the head before, the rest after */
	uint64_t listed;
	bool more;     /* the answer has a "next" */
	uint32_t next; /* where the next page starts */
};

/* Splits one answer to "peers [from N] [json]". Returns 0, or -1 when it is not one
 * (an error, another daemon's format). */
int peers_page_split(const char *answer, size_t len, bool json, struct peers_page *p);

/* What joins two pages' entries: JSON's comma when both have some, else nothing. */
const char *peers_page_joint(bool json, bool before, const struct peers_page *p);

/* The end of the merged document, with the listed count of all pages, into out (cap
 * bytes at least 48); returns its length. */
size_t peers_page_tail(bool json, uint64_t listed, char *out, size_t cap);

#endif
