#include "sys/control.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys/log.h"
#include "sys/status_fmt.h"

int control_listen(const char *path, gid_t group)
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

void control_serve(int lfd, control_fn fn, void *ctx)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	char req[CONTROL_REQ_MAX];
	size_t n = 0;
	/* A slow or silent peer costs at most 200 ms per read, and one request line. */
	while (n < sizeof req) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			break;
		ssize_t r = read(fd, req + n, sizeof req - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(req, '\n', n))
			break;
	}
	char *out = malloc(CONTROL_ANSWER_MAX);
	if (out) {
		struct control_req rq;
		const char *why;
		size_t len;
		if (control_parse(req, n, &rq, &why) == 0) {
			len = fn(ctx, &rq, out, CONTROL_ANSWER_MAX);
		} else {
			len = st_line(out, CONTROL_ANSWER_MAX, "error: %s\n", why);
			log_info("control socket: refused a request: %s", why);
		}
		size_t off = 0;
		while (off < len) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, 200) <= 0)
				break;
			ssize_t w = send(fd, out + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w <= 0 && errno != EAGAIN)
				break;
			if (w > 0)
				off += (size_t)w;
		}
		free(out);
	}
	/* Unread bytes would turn close() into a reset that hides the answer from the peer. */
	char sink[4096];
	for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

int control_request(const char *path, const char *request, int out, int err)
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
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		goto fail;
	size_t len = strlen(request);
	if (write(fd, request, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		goto fail;
	char buf[4096];
	ssize_t r;
	size_t total = 0;
	bool refused = false;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		if (total == 0 && r >= 6 && !memcmp(buf, "error:", 6))
			refused = true;
		total += (size_t)r;
		if (write(refused ? err : out, buf, (size_t)r) != r)
			goto fail;
	}
	close(fd);
	return r < 0 ? -1 : refused ? 1 : 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}
