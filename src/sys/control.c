#include "sys/control.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys/log.h"
#include "sys/status_fmt.h"

static int listen_at(const char *path, gid_t group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	char dir[sizeof sa.sun_path];
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A socket left by a daemon that died is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	unlink(path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	/* The mode is set on the path before listen(): no one connects in between. */
	if (r == 0 && group != (gid_t)-1 && (chown(path, (uid_t)-1, group) < 0 || chmod(path, 0660) < 0))
		r = -1;
	if (r < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The daemon's one control socket. Its connections are served from the daemon's own
 * loop without ever waiting for a peer: a peer that writes its request a byte at a time,
 * or never, or never reads the answer, holds one slot for at most CONTROL_CONN_MS and
 * costs the loop nothing in between (before, the loop waited up to 200 ms on each read
 * and write of a connection: a peer trickling its request stopped the data path for
 * seconds). Static storage: one per process, and nothing for a leak check to find when
 * the daemon returns from its loop with an answer half written. */
/* epoll tags: a connection's is its slot. */
enum { LISTENER = CONTROL_CONNS, TIMER };

struct conn {
	int fd; /* -1: free */
	uint64_t since;
	size_t n;   /* request bytes so far */
	size_t len; /* answer length, 0 while reading */
	size_t off; /* answer bytes sent */
	char req[CONTROL_REQ_MAX];
	char out[CONTROL_ANSWER_MAX];
};

struct control {
	int lfd, ep;
	int tfd; /* fires at the oldest connection's end */
	struct conn conn[CONTROL_CONNS];
};

static struct control the_control = { .lfd = -1, .ep = -1, .tfd = -1 };

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct control *control_open(const char *path, gid_t group)
{
	struct control *c = &the_control;
	if (c->lfd >= 0) {
		errno = EBUSY;
		return NULL;
	}
	for (int i = 0; i < CONTROL_CONNS; i++)
		c->conn[i].fd = -1;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		return NULL;
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->lfd = listen_at(path, group);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTENER };
	struct epoll_event tev = { .events = EPOLLIN, .data.u32 = TIMER };
	if (c->tfd < 0 || c->lfd < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, c->lfd, &ev) < 0 ||
	    epoll_ctl(c->ep, EPOLL_CTL_ADD, c->tfd, &tev) < 0) {
		int e = errno;
		control_close(c);
		errno = e;
		return NULL;
	}
	return c;
}

int control_fd(const struct control *c)
{
	return c->ep;
}

static void conn_close(struct control *c, struct conn *k)
{
	/* Unread bytes would turn close() into a reset that hides the answer from the peer. */
	char sink[256];
	for (int i = 0; i < 16 && recv(k->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
		;
	epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	k->fd = -1;
}

void control_close(struct control *c)
{
	for (int i = 0; i < CONTROL_CONNS; i++)
		if (c->conn[i].fd >= 0)
			conn_close(c, &c->conn[i]);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->ep >= 0)
		close(c->ep);
	c->lfd = c->ep = c->tfd = -1;
}

/* Send what the socket takes now; the rest when it says it can take more. */
static void conn_write(struct control *c, struct conn *k)
{
	while (k->off < k->len) {
		ssize_t w = send(k->fd, k->out + k->off, k->len - k->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)(k - c->conn) };
			if (epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev) == 0)
				return;
		}
		if (w <= 0)
			break; /* the peer has gone: nothing more to tell it */
		k->off += (size_t)w;
	}
	conn_close(c, k);
}

static void conn_answer(struct control *c, struct conn *k, control_fn fn, void *ctx);

/* Read what has come; answer once the request line is whole (or can no longer be). */
static void conn_read(struct control *c, struct conn *k, control_fn fn, void *ctx)
{
	bool done = false;
	while (!done && k->n < sizeof k->req) {
		ssize_t r = recv(k->fd, k->req + k->n, sizeof k->req - k->n, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* more to come */
		if (r <= 0)
			break; /* the peer closed or failed: answer what it sent */
		k->n += (size_t)r;
		done = memchr(k->req, '\n', k->n) != NULL;
	}
	conn_answer(c, k, fn, ctx);
}

static void conn_answer(struct control *c, struct conn *k, control_fn fn, void *ctx)
{
	struct control_req rq;
	const char *why;
	if (control_parse(k->req, k->n, &rq, &why) == 0) {
		k->len = fn(ctx, &rq, k->out, sizeof k->out);
	} else {
		k->len = st_line(k->out, sizeof k->out, "error: %s\n", why);
		log_info("control socket: refused a request: %s", why);
	}
	k->off = 0;
	conn_write(c, k);
}

/* At most a slot's worth a round: a peer connecting in a loop gets turns with the
 * data path (epoll reports the rest next round), never the loop to itself. */
static void conn_accept(struct control *c, control_fn fn, void *ctx, uint64_t now)
{
	for (int a = 0; a < CONTROL_CONNS; a++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		/* All slots taken: the oldest connection makes room (it has had the longest to
		 * say what it wants), so that stalled peers never lock the operator out. */
		struct conn *k = NULL;
		for (int i = 0; i < CONTROL_CONNS; i++) {
			struct conn *x = &c->conn[i];
			if (x->fd < 0) {
				k = x;
				break;
			}
			if (!k || x->since < k->since)
				k = x;
		}
		if (k->fd >= 0) {
			log_info("control socket: %d connections open; closed the oldest unanswered", CONTROL_CONNS);
			conn_close(c, k);
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(k - c->conn) };
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		k->fd = fd;
		k->since = now;
		k->n = k->len = k->off = 0;
		/* The request has usually come with the connection. */
		conn_read(c, k, fn, ctx);
	}
}

/* The timer fires when the oldest open connection's time is up (none open: disarmed). */
static void arm(struct control *c)
{
	uint64_t first = 0;
	for (int i = 0; i < CONTROL_CONNS; i++)
		if (c->conn[i].fd >= 0 && (!first || c->conn[i].since < first))
			first = c->conn[i].since;
	struct itimerspec t = { 0 };
	if (first) {
		uint64_t end = first + CONTROL_CONN_MS;
		t.it_value = (struct timespec){ .tv_sec = (time_t)(end / 1000u), .tv_nsec = (long)(end % 1000u) * 1000000L };
	}
	timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &t, NULL);
}

void control_serve(struct control *c, control_fn fn, void *ctx)
{
	uint64_t now = mono_ms();
	struct epoll_event evs[CONTROL_CONNS + 2];
	int n = epoll_wait(c->ep, evs, CONTROL_CONNS + 2, 0);
	for (int i = 0; i < n; i++) {
		uint32_t s = evs[i].data.u32;
		if (s == TIMER) {
			uint64_t ticks;
			ssize_t r = read(c->tfd, &ticks, sizeof ticks); /* clears it; the time is checked below */
			(void)r;
			continue;
		}
		if (s == LISTENER) {
			conn_accept(c, fn, ctx, now);
			continue;
		}
		struct conn *k = &c->conn[s];
		if (k->fd < 0)
			continue; /* closed by an earlier event of this round */
		if (k->len)
			conn_write(c, k);
		else
			conn_read(c, k, fn, ctx);
	}
	for (int i = 0; i < CONTROL_CONNS; i++) {
		struct conn *k = &c->conn[i];
		if (k->fd < 0 || now - k->since < CONTROL_CONN_MS)
			continue;
		if (k->len) {
			log_info("control socket: closed a connection that had not taken its answer within %d ms",
				 CONTROL_CONN_MS);
			conn_close(c, k);
		} else {
			/* What it sent is all it will have sent: the parser's refusal, once. */
			k->since = now - CONTROL_CONN_MS + 1; /* once more at most, should the answer wait */
			conn_answer(c, k, fn, ctx);
		}
	}
	arm(c);
}

int control_ask(const char *path, const char *request, char *buf, size_t cap, size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A daemon that is stopped or stuck gets a clear error, not a hung command. */
	struct timeval tv = { .tv_sec = CONTROL_CLIENT_TIMEOUT_S };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		goto fail;
	size_t rl = strlen(request);
	if (write(fd, request, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1)
		goto fail;
	ssize_t r;
	*len = 0;
	while ((r = read(fd, buf + *len, cap - *len)) > 0) {
		*len += (size_t)r;
		if (*len == cap) {
			errno = EMSGSIZE; /* no answer is that long */
			goto fail;
		}
	}
	if (r < 0)
		goto fail;
	close(fd);
	buf[*len] = 0; /* a string too, for whoever reports it */
	return *len >= 6 && !memcmp(buf, "error:", 6) ? 1 : 0;
fail:;
	int e = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
	close(fd);
	errno = e;
	return -1;
}

int control_request(const char *path, const char *request, int out, int err)
{
	static char buf[CONTROL_ANSWER_MAX + 1];
	size_t len;
	int r = control_ask(path, request, buf, sizeof buf, &len);
	if (r < 0)
		return -1;
	if (write(r ? err : out, buf, len) != (ssize_t)len)
		return -1;
	return r;
}
