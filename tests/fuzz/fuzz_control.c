/* libFuzzer: the control socket (control requests are input too, issue 5). Byte 0 is
 * the length n of a prefix (bytes 1..n) that fills the peer table and sizes the answer
 * buffer; the rest is what a local peer writes to the socket. It goes through the same
 * parser the daemon uses, and an accepted request is answered, so that the answer
 * writer's escaping and truncation are exercised too. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/peer.h"
#include "sys/control_req.h"
#include "sys/peers_page.h"
#include "sys/status_fmt.h"
#include "sys/status_peers.h"
#include "wire/bytes.h"
#include "wire/teredo_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct peer_table table;
static struct peer_pending pending;
static int ready;
static char answer[65536];

/* Braces and brackets outside strings balance, and the answer ends with "}\n". */
static void check_json(const char *s, size_t len)
{
	int depth = 0;
	int in_str = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth < 0)
				__builtin_trap();
		}
	}
	if (depth || in_str || len < 2 || s[len - 2] != '}' || s[len - 1] != '\n')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		static const uint8_t key[16] = { 1, 2, 3 };
		peer_table_init(&table, 64, 16, 4, key);
		ready = 1;
	}
	if (size < 1)
		return 0;
	size_t n = data[0] < size - 1 ? data[0] : size - 1;
	const uint8_t *tb = data + 1;
	data += 1 + n;
	size -= 1 + n;
	struct control_req req;
	const char *why = NULL;
	if (control_parse((const char *)data, size, &req, &why) < 0) {
		if (!why || !*why || strchr(why, '\n'))
			__builtin_trap();
		return 0;
	}
	if (size > CONTROL_REQ_MAX || data[size - 1] != '\n' ||
	    (req.verb != CTL_STATUS && req.verb != CTL_PEERS && req.verb != CTL_PEER))
		__builtin_trap();

	/* Peers from the request bytes themselves: varied addresses, flags and clocks. */
	uint64_t now = 1000000;
	for (size_t i = 0; i + 3 <= n; i += 3) {
		struct in6_addr a;
		memset(&a, tb[i], sizeof a);
		put_be32(a.s6_addr, (tb[i + 2] & 0x80) ? TEREDO_PREFIX_DEFAULT : 0x20010db8);
		a.s6_addr[15] = tb[i + 1];
		struct peer *p = peer_get(&table, &a, now - tb[i]);
		if (!p)
			continue;
		p->trusted = tb[i + 2] & 1;
		p->local = tb[i + 2] & 2;
		p->echo_pending = tb[i + 2] & 4;
		p->next_retry = (tb[i + 2] & 8) ? now : 0;
		if (p->next_retry)
			peer_pending_add(&pending, &table, p);
		if (tb[i + 2] & 0x40)
			peer_remove(&table, p);
	}
	size_t cap = 1 + (n ? (size_t)tb[0] * 64 : sizeof answer - 1);
	/* What the kernel's map holds for the peer: none (fast path off), no entry, or one
	 * whose fields and age come from the prefix too. */
	struct peer_kernel k = { .found = n >= 2 && (tb[1] & 2) };
	if (n >= 8)
		memcpy(&k.e, tb, n - 1 < sizeof k.e ? n - 1 : sizeof k.e);
	if (n >= 2)
		k.e.last_rx = (now - (uint64_t)tb[n - 1] * 1000u) * 1000000u;
	size_t len = req.verb == CTL_PEER
			     ? status_peer(&table, &req.addr, TEREDO_PREFIX_DEFAULT, now, n >= 1 && (tb[0] & 1) ? &k : NULL,
					   req.json, answer, cap)
			     : status_peers(&table, TEREDO_PREFIX_DEFAULT, now, req.from, req.json, answer, cap);
	if (len >= cap || answer[len] != 0)
		__builtin_trap();
	/* The command's page splitter on the page (whole or cut) and on the peer's bytes:
	 * the entries lie within the answer, and a whole page is always split. */
	struct peers_page pg;
	if (req.verb == CTL_PEERS) {
		int r = peers_page_split(answer, len, req.json, &pg);
		if (r == 0 && (pg.body > pg.tail || pg.tail > len))
			__builtin_trap();
		if (len + 1 < cap && len > 0 && r < 0 && len + 1024 < cap)
			__builtin_trap();
	}
	if (peers_page_split((const char *)data, size, req.json, &pg) == 0 && (pg.body > pg.tail || pg.tail > size))
		__builtin_trap();
	struct status_out o;
	st_begin(&o, answer, sizeof answer, req.prom ? ST_PROM : req.json);
	status_limits(&o, &table, &pending);
	len = st_end(&o);
	if (req.json)
		check_json(answer, len);
	return 0;
}
