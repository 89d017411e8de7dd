/* The control socket's request grammar (issue 5: control requests are input too). */
#include "helpers.h"

#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys/control.h"

#include "sys/control_req.h"
#include "sys/status_fmt.h"
#include "sys/peers_page.h"
#include "sys/status_peers.h"

static int parse(const char *s, struct control_req *r, const char **why)
{
	return control_parse(s, strlen(s), r, why);
}

static void accepts_the_requests(void **state)
{
	struct control_req r;
	const char *why;
	assert_int_equal(parse("status\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_false(r.json);
	assert_int_equal(parse("status json\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_true(r.json);
	assert_int_equal(parse("peers\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_PEERS);
	assert_false(r.json);
	assert_int_equal(parse("peers json\n", &r, &why), 0);
	assert_true(r.json);
	assert_int_equal(parse("peer 2001:0:c633:640a::1\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_PEER);
	assert_false(r.json);
	struct in6_addr a = A6("2001:0:c633:640a::1");
	assert_memory_equal(&r.addr, &a, 16);
	assert_int_equal(parse("peer 2001:db8::1 json\n", &r, &why), 0);
	assert_true(r.json);
	assert_int_equal(parse("status prom\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_true(r.prom);
	assert_false(r.json);
	assert_int_equal(parse("peers\n", &r, &why), 0);
	assert_int_equal(r.from, 0);
	assert_int_equal(parse("peers from 4321 json\n", &r, &why), 0);
	assert_int_equal(r.verb, CTL_PEERS);
	assert_int_equal(r.from, 4321);
	assert_true(r.json);
	assert_int_equal(parse("peers from 4294967295\n", &r, &why), 0);
	assert_int_equal(r.from, 4294967295u);
	assert_false(r.json);
}

/* `shipworm metrics` (issue 12): the Prometheus text format, with a role label, counters
 * named _total, one dropped_total family with a reason label, strings as _info, and one
 * header per family. */
static void writes_prometheus_metrics(void **state)
{
	char out[4096];
	struct status_out o;
	st_begin(&o, out, sizeof out, ST_PROM);
	st_str(&o, "mode", "client");
	st_u64(&o, "mtu", 1280);
	st_bool(&o, "local_discovery", true);
	st_arr_begin(&o, "extensions");
	st_str(&o, NULL, "hairpinning");
	st_str(&o, NULL, "symmetric-nat-support");
	st_arr_end(&o);
	st_obj_begin(&o, "limits");
	st_u64(&o, "peers", 3);
	st_obj_end(&o);
	st_obj_begin(&o, "counters");
	st_u64(&o, "from_udp", 5);
	st_obj_end(&o);
	st_obj_begin(&o, "dropped");
	st_u64(&o, "malformed", 2);
	st_u64(&o, "unknown_source", 0);
	st_obj_end(&o);
	st_str(&o, "state", "a \"quoted\" \\ value");
	out[st_end(&o)] = 0;
	static const char *const want[] = {
		"# TYPE shipworm_mode_info gauge\nshipworm_mode_info{role=\"client\",mode=\"client\"} 1\n",
		"# TYPE shipworm_mtu gauge\nshipworm_mtu{role=\"client\"} 1280\n",
		"shipworm_local_discovery{role=\"client\"} 1\n",
		"# TYPE shipworm_extensions_info gauge\nshipworm_extensions_info{role=\"client\",extensions=\"hairpinning\"} 1\n"
		"shipworm_extensions_info{role=\"client\",extensions=\"symmetric-nat-support\"} 1\n",
		"shipworm_limits_peers{role=\"client\"} 3\n",
		"# TYPE shipworm_from_udp_total counter\nshipworm_from_udp_total{role=\"client\"} 5\n",
		"# TYPE shipworm_dropped_total counter\nshipworm_dropped_total{role=\"client\",reason=\"malformed\"} 2\n"
		"shipworm_dropped_total{role=\"client\",reason=\"unknown_source\"} 0\n",
		"shipworm_state_info{role=\"client\",state=\"a \\\"quoted\\\" \\\\ value\"} 1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(out, want[i]))
			fail_msg("missing:\n%s\nin:\n%s", want[i], out);
	/* One header per family: the second array member and reason add no TYPE line. */
	int types = 0;
	for (const char *p = out; (p = strstr(p, "# TYPE")) != NULL; p++)
		types++;
	assert_int_equal(types, 8);
}

static void refuses_malformed_requests(void **state)
{
	static const struct {
		const char *req, *why;
	} bad[] = {
		{ "status", "request not terminated by a newline" },
		{ "", "request not terminated by a newline" },
		{ "\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "statusx\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "stat\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "STATUS\n", "unknown request (status, peers or peer ADDRESS)" },
		{ "status  json\n", "unknown option (json; prom for status)" },
		{ "status json \n", "unknown option (json; prom for status)" },
		{ "peers xml\n", "unknown option (json; prom for status)" },
		{ "peers prom\n", "unknown option (json; prom for status)" },
		{ "status\r\n", "request holds a control or non-ASCII byte" },
		{ "sta\ttus\n", "request holds a control or non-ASCII byte" },
		{ "status\xff\n", "request holds a control or non-ASCII byte" },
		{ "status\nstatus\n", "bytes after the request line" },
		{ "status\n\n", "bytes after the request line" },
		{ "peer\n", "peer needs an IPv6 address" },
		{ "peer \n", "peer needs an IPv6 address" },
		{ "peer 10.0.0.1\n", "peer needs an IPv6 address" },
		{ "peer 2001:db8::1 xml\n", "unknown option (json; prom for status)" },
		{ "peer  2001:db8::1\n", "peer needs an IPv6 address" },
		{ "peers from\n", "unknown option (json; prom for status)" },
		{ "peers from \n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers from x\n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers from 12x\n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers from -1\n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers from 4294967296\n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers from 99999999999999999999999\n", "peers from needs a slot number (0 to 4294967295)" },
		{ "peers json from 1\n", "unknown option (json; prom for status)" },
		{ "status from 1\n", "unknown option (json; prom for status)" },
		{ "peer 2001:db8::1 from 1\n", "unknown option (json; prom for status)" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct control_req r;
		const char *why = NULL;
		assert_int_equal(parse(bad[i].req, &r, &why), -1);
		assert_string_equal(why, bad[i].why);
	}
}

/* A NUL inside the line is a control byte, not the end of the request. */
static void refuses_embedded_nul(void **state)
{
	struct control_req r;
	const char *why;
	assert_int_equal(control_parse("status\0json\n", 12, &r, &why), -1);
	assert_string_equal(why, "request holds a control or non-ASCII byte");
}

/* The daemon reads at most CONTROL_REQ_MAX bytes; no line within them is refused. */
static void refuses_overlong_requests(void **state)
{
	char buf[CONTROL_REQ_MAX + 8];
	memset(buf, 'a', sizeof buf);
	buf[sizeof buf - 1] = '\n';
	struct control_req r;
	const char *why;
	assert_int_equal(control_parse(buf, CONTROL_REQ_MAX, &r, &why), -1);
	assert_string_equal(why, "request too long");
	assert_int_equal(control_parse(buf, sizeof buf, &r, &why), -1);
	assert_string_equal(why, "request too long");
}

/* An error answer cut to a small buffer reports what it wrote, not what it wanted to
 * (fuzz_control found status_peer returning snprintf's length). */
static void error_lines_are_cut_to_fit(void **state)
{
	char out[8];
	assert_int_equal(st_line(out, 1, "error: no such peer\n"), 0);
	assert_string_equal(out, "");
	assert_int_equal(st_line(out, sizeof out, "error: no such peer\n"), 7);
	assert_string_equal(out, "error: ");
	assert_int_equal(st_line(out, sizeof out, "ok\n"), 3);
}

/* Issue 10: `shipworm peer` says what the kernel fast path does with the peer's traffic:
 * nothing without a fast path, "daemon" without an entry, "kernel" with a fresh one (its
 * mapping, where it is sent when that is elsewhere, our port, its last packet), "stale" past the programs' 30 s (R-05, C-41). */
static void peer_shows_what_the_kernel_does(void **state)
{
	static const uint8_t key[16] = { 7 };
	struct peer_table t;
	assert_int_equal(peer_table_init(&t, 16, 4, 2, key), 0);
	struct in6_addr a = A6("2001:0:c633:640a::1");
	uint64_t now = 1000000;
	struct peer *p = peer_get(&t, &a, now);
	assert_non_null(p);
	p->trusted = true;
	p->mapping = EP("198.51.100.22", 53288);
	p->sock = 2;
	char out[4096];
	status_peer(&t, &a, TEREDO_PREFIX_DEFAULT, now, NULL, false, out, sizeof out);
	assert_null(strstr(out, "fast_path"));
	struct peer_kernel k = { .found = false };
	status_peer(&t, &a, TEREDO_PREFIX_DEFAULT, now, &k, false, out, sizeof out);
	assert_non_null(strstr(out, "\nfast_path: daemon\n"));
	k = (struct peer_kernel){ .found = true, .e = { .ip = A4("198.51.100.22"), .port = htons(53288),
							   .sport = htons(50001), .last_rx = (now - 250) * 1000000u } };
	status_peer(&t, &a, TEREDO_PREFIX_DEFAULT, now, &k, false, out, sizeof out);
	assert_non_null(strstr(out, "\nfast_path: kernel\nfast_path_mapping: 198.51.100.22:53288\n"
				    "fast_path_local_port: 50001\nfast_path_ms_since_rx: 250\n"));
	/* RFC 6081 X-26: sent to the mapping the address names, 198.51.100.24:40000. */
	struct in6_addr sym = A6("2001:0:c633:640a:0:63bf:39cc:9be7");
	p = peer_get(&t, &sym, now);
	assert_non_null(p);
	k.e.flags = FP_PEER_AT_ADDRESS;
	status_peer(&t, &sym, TEREDO_PREFIX_DEFAULT, now, &k, false, out, sizeof out);
	assert_non_null(strstr(out, "\nfast_path_mapping: 198.51.100.22:53288\nfast_path_sends_to: 198.51.100.24:40000\n"));
	k.e.last_rx = (now - 30000) * 1000000u;
	status_peer(&t, &a, TEREDO_PREFIX_DEFAULT, now, &k, true, out, sizeof out);
	assert_non_null(strstr(out, "\"fast_path\":\"stale\""));
	peer_table_free(&t);
}

/* `shipworm peers` on a table of 3000 entries (issue 10's scale: a public relay's table
 * is far larger than one 64 KiB answer): the pages, asked for as the command asks, put
 * together give exactly the document one answer without a size limit would be, in text
 * and in JSON; each page fits and says where the next begins. */
static void peers_pages_join_into_one_document(void **state)
{
	static const uint8_t key[16] = { 9 };
	enum { N = 3000, BIG = 4 << 20 };
	struct peer_table t;
	assert_int_equal(peer_table_init(&t, 4096, 4, 2, key), 0);
	uint64_t now = 5000000;
	for (uint32_t i = 0; i < N; i++) {
		struct in6_addr a = A6("2001:0:c633:640a::");
		a.s6_addr[12] = (uint8_t)(i >> 8);
		a.s6_addr[13] = (uint8_t)i;
		struct peer *p = peer_get(&t, &a, now - i);
		assert_non_null(p);
		p->trusted = i % 3 == 0;
		p->mapping = EP("198.51.100.22", 40000 + i);
	}
	/* Holes in the table: removed entries leave their slots empty. */
	for (uint32_t i = 0; i < N; i += 7) {
		struct in6_addr a = A6("2001:0:c633:640a::");
		a.s6_addr[12] = (uint8_t)(i >> 8);
		a.s6_addr[13] = (uint8_t)i;
		peer_remove(&t, peer_find(&t, &a));
	}
	char *one = malloc(BIG), *joined = malloc(BIG), page[CONTROL_ANSWER_MAX];
	assert_non_null(one);
	assert_non_null(joined);
	for (int json = 0; json < 2; json++) {
		size_t one_len = status_peers(&t, TEREDO_PREFIX_DEFAULT, now, 0, json, one, BIG);
		struct peers_page p;
		assert_int_equal(peers_page_split(one, one_len, json, &p), 0);
		assert_false(p.more);
		assert_int_equal(p.listed, t.count);
		size_t jl = 0;
		uint64_t listed = 0;
		unsigned pages = 0;
		bool any = false;
		uint32_t from = 0;
		do {
			size_t n = status_peers(&t, TEREDO_PREFIX_DEFAULT, now, from, json, page, sizeof page);
			assert_true(n < sizeof page);
			assert_int_equal(peers_page_split(page, n, json, &p), 0);
			if (!pages) {
				memcpy(joined, page, p.tail);
				jl = p.tail;
			} else {
				const char *j = peers_page_joint(json, any, &p);
				memcpy(joined + jl, j, strlen(j));
				jl += strlen(j);
				memcpy(joined + jl, page + p.body, p.tail - p.body);
				jl += p.tail - p.body;
			}
			any |= p.tail > p.body;
			listed += p.listed;
			pages++;
			if (p.more) {
				assert_true(p.next > from);
				from = p.next;
			}
		} while (p.more);
		jl += peers_page_tail(json, listed, joined + jl, BIG - jl);
		assert_true(pages >= 4);
		assert_int_equal(listed, t.count);
		assert_int_equal(jl, one_len);
		assert_memory_equal(joined, one, one_len);
	}
	/* A page past the end lists nothing and has no next; a refusal is no page. */
	size_t n = status_peers(&t, TEREDO_PREFIX_DEFAULT, now, 4096, false, page, sizeof page);
	struct peers_page p;
	assert_int_equal(peers_page_split(page, n, false, &p), 0);
	assert_int_equal(p.listed, 0);
	assert_false(p.more);
	assert_int_equal(p.body, p.tail);
	static const struct {
		const char *a;
		bool json;
	} bad[] = {
		{ "error: a server keeps no peers\n", false },
		{ "{\"count\":1,\"peers\":[],\"listed\":1,\"next\":99999999999}\n", true },
		{ "{\"count\":1,\"peers\":[],\"listed\":}\n", true },
		{ "count: 0\npeers:\nlisted: 0\nnext: 3\nmore\n", false },
		{ "count: 0\npeers:\nlisted: 0", false },
		{ "listed: 0\npeers:\n", false },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(peers_page_split(bad[i].a, strlen(bad[i].a), bad[i].json, &p), -1);
	const char *ok = "{\"count\":1,\"peers\":[],\"listed\":0,\"next\":4294967295}\n";
	assert_int_equal(peers_page_split(ok, strlen(ok), true, &p), 0);
	assert_true(p.more);
	assert_int_equal(p.next, 4294967295u);
	free(one);
	free(joined);
	peer_table_free(&t);
}

/* The daemon's side of the socket (issue 5: a peer of the control socket is input too):
 * served from the daemon's loop, which never waits for a peer. */
static const char *sock_path(void)
{
	static char p[64];
	snprintf(p, sizeof p, "/tmp/shipworm-test-control.%d.sock", (int)getpid());
	return p;
}

static unsigned answered;
static size_t answer_verb(void *ctx, const struct control_req *req, char *out, size_t cap)
{
	answered++;
	return (size_t)snprintf(out, cap, "verb %d\n", (int)req->verb);
}

static int peer(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock_path());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void say(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* What the daemon has sent fd so far, without waiting; "" when nothing, "EOF" when it
 * has closed the connection without a word. */
static const char *heard(int fd)
{
	static char b[256];
	ssize_t r = recv(fd, b, sizeof b - 1, MSG_DONTWAIT);
	if (r == 0)
		return "EOF";
	b[r > 0 ? r : 0] = 0;
	return b;
}

/* Until the daemon's descriptor says there is nothing left to do (a few rounds at most). */
static void serve(struct control *c)
{
	for (int i = 0; i < 4; i++) {
		struct pollfd p = { .fd = control_fd(c), .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			return;
		control_serve(c, answer_verb, NULL);
	}
}

static int setup_control(void **state)
{
	answered = 0;
	unlink(sock_path());
	struct control *c = control_open(sock_path(), (gid_t)-1);
	assert_non_null(c);
	*state = c;
	return 0;
}

static int teardown_control(void **state)
{
	control_close(*state);
	unlink(sock_path());
	return 0;
}

/* A peer writing its request a piece at a time holds no one up, and is answered once
 * its line is whole (before, the loop waited on it and then refused it, unterminated). */
static void control_answers_others_while_a_peer_trickles(void **state)
{
	struct control *c = *state;
	int slow = peer();
	say(slow, "sta");
	serve(c);
	assert_string_equal(heard(slow), "");
	int quick = peer();
	say(quick, "peers\n");
	serve(c);
	assert_string_equal(heard(quick), "verb 1\n");
	say(slow, "tus\n");
	serve(c);
	assert_string_equal(heard(slow), "verb 0\n");
	assert_int_equal(answered, 2);
	close(slow);
	close(quick);
}

/* A peer that stops short is refused after CONTROL_CONN_MS (its own timer wakes the
 * daemon's loop: no other peer needs to come) and closed. */
static void control_refuses_a_stalled_peer_after_its_time(void **state)
{
	struct control *c = *state;
	int silent = peer();
	say(silent, "stat");
	serve(c);
	assert_string_equal(heard(silent), "");
	usleep((CONTROL_CONN_MS + 100) * 1000);
	serve(c);
	assert_string_equal(heard(silent), "error: request not terminated by a newline\n");
	assert_string_equal(heard(silent), "EOF");
	int next = peer();
	say(next, "status\n");
	serve(c);
	assert_string_equal(heard(next), "verb 0\n");
	assert_int_equal(answered, 1);
	close(silent);
	close(next);
}

/* CONTROL_CONNS silent peers cannot lock the operator out: the oldest makes room. */
static void control_makes_room_when_every_slot_is_held(void **state)
{
	struct control *c = *state;
	int held[CONTROL_CONNS];
	for (int i = 0; i < CONTROL_CONNS; i++) {
		held[i] = peer();
		serve(c);
		usleep(2000); /* distinct ages */
	}
	int op = peer();
	say(op, "status json\n");
	serve(c);
	assert_string_equal(heard(op), "verb 0\n");
	assert_string_equal(heard(held[0]), "EOF");
	for (int i = 1; i < CONTROL_CONNS; i++)
		assert_string_equal(heard(held[i]), "");
	for (int i = 0; i < CONTROL_CONNS; i++)
		close(held[i]);
	close(op);
}

/* A peer that closes without a full line gets the parser's refusal (and the daemon goes on). */
static void control_refuses_a_cut_request(void **state)
{
	struct control *c = *state;
	int p = peer();
	say(p, "status");
	shutdown(p, SHUT_WR);
	serve(c);
	assert_string_equal(heard(p), "error: request not terminated by a newline\n");
	assert_int_equal(answered, 0);
	close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_the_requests),
		cmocka_unit_test(writes_prometheus_metrics),
		cmocka_unit_test(refuses_malformed_requests),
		cmocka_unit_test(refuses_embedded_nul),
		cmocka_unit_test(refuses_overlong_requests),
		cmocka_unit_test(error_lines_are_cut_to_fit),
		cmocka_unit_test(peer_shows_what_the_kernel_does),
		cmocka_unit_test(peers_pages_join_into_one_document),
		cmocka_unit_test_setup_teardown(control_answers_others_while_a_peer_trickles, setup_control, teardown_control),
		cmocka_unit_test_setup_teardown(control_refuses_a_stalled_peer_after_its_time, setup_control, teardown_control),
		cmocka_unit_test_setup_teardown(control_makes_room_when_every_slot_is_held, setup_control, teardown_control),
		cmocka_unit_test_setup_teardown(control_refuses_a_cut_request, setup_control, teardown_control),
	};
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
