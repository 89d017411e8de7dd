/* The send batch's UDP GSO rows (sys/udp.c, issue 10's fallback-path offloads), through
 * real sockets on loopback: whatever leaves as rows, the receivers must see exactly the
 * datagrams that were queued, in order, each its own length and bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/udp.h"

#define LOOPBACK htonl(INADDR_LOOPBACK)

static int tx_fd, rx_a, rx_b;
static uint16_t port_a, port_b;
static struct udp_tx tx;
static uint8_t data[UDP_BATCH][1400];
static struct sw_action acts[UDP_BATCH];

static uint16_t port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &l);
	return sa.sin_port;
}

static int setup(void **state)
{
	tx_fd = udp_open(LOOPBACK, 0, false);
	rx_a = udp_open(LOOPBACK, 0, false);
	rx_b = udp_open(LOOPBACK, 0, false);
	if (tx_fd < 0 || rx_a < 0 || rx_b < 0)
		return -1;
	port_a = port_of(rx_a);
	port_b = port_of(rx_b);
	memset(&tx, 0, sizeof tx);
	return 0;
}

static int teardown(void **state)
{
	close(tx_fd);
	close(rx_a);
	close(rx_b);
	return 0;
}

/* Queue datagram i of len bytes to port (each byte says which datagram it belongs to,
 * and where in it); a header of 8 bytes first when hdr, as the cores' actions carry. */
static void queue(int i, size_t len, uint16_t port, bool hdr)
{
	for (size_t k = 0; k < len; k++)
		data[i][k] = (uint8_t)(i * 31 + k);
	struct sw_action *a = &acts[i];
	memset(a, 0, sizeof *a);
	a->kind = SW_ACT_UDP;
	a->dst = (struct sw_endpoint){ .ip = LOOPBACK, .port = port };
	size_t h = hdr && len >= 8 ? 8 : 0;
	memcpy(a->hdr, data[i], h);
	a->hdr_len = h;
	a->body = data[i] + h;
	a->body_len = len - h;
	udp_tx_add(&tx, a);
}

/* The next datagram on fd must be datagram i, len bytes. */
static void expect(int fd, int i, size_t len)
{
	uint8_t buf[2048];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, data[i], len);
}

static void nothing_more(int fd)
{
	uint8_t buf[16];
	assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Rows form where a TCP stream's datagrams lie: equal lengths in a row to one
 * destination, a shorter one ends a row, another destination or a longer one starts the
 * next; every datagram arrives as it was queued. */
static void rows_carry_every_datagram_as_queued(void **state)
{
	udp_tx_gso(&tx, true);
	int i = 0;
	for (; i < 5; i++)
		queue(i, 1000, port_a, i % 2); /* a row of 5 ... */
	queue(i++, 500, port_a, false);        /* ... and its shorter last */
	queue(i++, 1000, port_b, true);        /* a row of 2 to another port */
	queue(i++, 1000, port_b, false);
	queue(i++, 700, port_a, false);        /* a row of 3 */
	queue(i++, 700, port_a, true);
	queue(i++, 700, port_a, false);
	queue(i++, 900, port_a, false);        /* longer: alone */
	queue(i++, 0, port_a, false);          /* empty: alone */
	assert_int_equal(udp_tx_flush(tx_fd, &tx), 0);
	assert_int_equal(tx.gso_sends, 3);
	assert_int_equal(tx.gso_datagrams, 11);
	for (int k = 0; k < 5; k++)
		expect(rx_a, k, 1000);
	expect(rx_a, 5, 500);
	expect(rx_b, 6, 1000);
	expect(rx_b, 7, 1000);
	for (int k = 8; k < 11; k++)
		expect(rx_a, k, 700);
	expect(rx_a, 11, 900);
	expect(rx_a, 12, 0);
	nothing_more(rx_a);
	nothing_more(rx_b);
}

/* A whole batch of Teredo-sized datagrams to one peer: rows stay within one IPv4
 * datagram's payload (65,507 bytes: 51 of 1,280). */
static void rows_stay_within_one_datagram(void **state)
{
	udp_tx_gso(&tx, true);
	for (int i = 0; i < UDP_BATCH; i++)
		queue(i, 1280, port_a, false);
	assert_int_equal(udp_tx_flush(tx_fd, &tx), 0);
	assert_int_equal(tx.gso_sends, 2); /* 51 + 13 */
	assert_int_equal(tx.gso_datagrams, UDP_BATCH);
	for (int i = 0; i < UDP_BATCH; i++)
		expect(rx_a, i, 1280);
	nothing_more(rx_a);
}

static void off_sends_one_by_one(void **state)
{
	udp_tx_gso(&tx, false);
	for (int i = 0; i < 4; i++)
		queue(i, 600, port_a, false);
	assert_int_equal(udp_tx_flush(tx_fd, &tx), 0);
	assert_int_equal(tx.gso_sends, 0);
	for (int i = 0; i < 4; i++)
		expect(rx_a, i, 600);
	nothing_more(rx_a);
}

/* A socket the kernel will not send rows from (no UDP checksums: EINVAL; a device
 * without checksum offload gives EIO on 6.1): the row goes again one datagram at a time,
 * nothing is lost, and rows stop for good. */
static void refused_row_goes_one_by_one_and_rows_stop(void **state)
{
	int one = 1;
	assert_int_equal(setsockopt(tx_fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
	udp_tx_gso(&tx, true);
	for (int i = 0; i < 4; i++)
		queue(i, 600, port_a, false);
	assert_int_equal(udp_tx_flush(tx_fd, &tx), 0);
	assert_int_equal(tx.gso_sends, 0);
	assert_int_equal(tx.gso_datagrams, 0);
	assert_false(tx.gso);
	assert_true(tx.gso_failed);
	for (int i = 0; i < 4; i++)
		expect(rx_a, i, 600);
	nothing_more(rx_a);
	udp_tx_gso(&tx, true); /* asking again changes nothing */
	assert_false(tx.gso);
}

/* The receiving side: with UDP_GRO on the socket a row arrives whole (on loopback the
 * sender's row is never cut on the way) and the batch cuts it back into the datagrams
 * that were queued, each with its source; single datagrams pass as they are. */
static void rows_received_whole_come_out_as_datagrams(void **state)
{
	static struct udp_rx rx;
	assert_int_equal(udp_rx_init(&rx), 0);
	assert_int_equal(udp_rx_gro(rx_a, &rx), 0);
	udp_tx_gso(&tx, true);
	int i = 0;
	for (; i < 5; i++)
		queue(i, 1000, port_a, false);
	queue(i++, 333, port_a, false); /* the row's shorter last */
	queue(i++, 1200, port_a, false); /* a row of two: a shorter one ends a row */
	for (; i < 10; i++)
		queue(i, 64, port_a, true); /* ... and a row of the two left */
	assert_int_equal(udp_tx_flush(tx_fd, &tx), 0);
	int n = udp_rx_batch(rx_a, &rx);
	assert_int_equal(n, 10);
	size_t want[10] = { 1000, 1000, 1000, 1000, 1000, 333, 1200, 64, 64, 64 };
	for (int k = 0; k < n; k++) {
		assert_int_equal(udp_rx_len(&rx, k), want[k]);
		assert_memory_equal(udp_rx_data(&rx, k), data[k], want[k]);
		struct sw_endpoint src = udp_rx_src(&rx, k);
		assert_int_equal(src.ip, LOOPBACK);
		assert_int_equal(src.port, port_of(tx_fd));
	}
	assert_int_equal(tx.gso_sends, 3);
	assert_int_equal(rx.gro_rows, 3);
	assert_int_equal(rx.gro_datagrams, 10);
	assert_int_equal(udp_rx_batch(rx_a, &rx), 0);
	udp_rx_free(&rx);
}

/* Sockets the kernel gives a port (port 0) never share one: with SO_REUSEADDR set on
 * them, Linux handed out ports other such sockets held (about 14 pairs among 900), and a
 * client whose NAT probe socket landed on its Teredo socket's port never qualified. */
static void kernel_chosen_ports_are_never_shared(void **state)
{
	enum { N = 900 };
	static int fds[N];
	static uint8_t seen[65536];
	memset(seen, 0, sizeof seen);
	int shared = 0, n = 0;
	for (; n < N; n++) {
		fds[n] = udp_open(LOOPBACK, 0, false);
		if (fds[n] < 0)
			break; /* out of descriptors: test with what we have */
		uint16_t p = ntohs(port_of(fds[n]));
		shared += seen[p];
		seen[p] = 1;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_true(n >= 500);
	assert_int_equal(shared, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rows_carry_every_datagram_as_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(rows_stay_within_one_datagram, setup, teardown),
		cmocka_unit_test_setup_teardown(off_sends_one_by_one, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_row_goes_one_by_one_and_rows_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(rows_received_whole_come_out_as_datagrams, setup, teardown),
		cmocka_unit_test_setup_teardown(kernel_chosen_ports_are_never_shared, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
