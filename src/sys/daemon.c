#include "sys/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/log.h"

static int ready_fd = -1;

int daemon_start(const struct run_opts *o)
{
	if (o->foreground)
		return 0;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		/* The parent reports the daemon's set-up result as its own exit status. */
		close(p[1]);
		char c;
		ssize_t r = read(p[0], &c, 1);
		if (r == 1)
			_exit(0);
		int st;
		waitpid(pid, &st, 0);
		_exit(WIFEXITED(st) ? (WEXITSTATUS(st) ? WEXITSTATUS(st) : 1) : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	return 0;
}

/* systemd's readiness protocol (Type=notify), without libsystemd: one datagram with
 * "READY=1" to $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	static bool warned; /* once: the watchdog and the state would repeat it forever */
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path))) < 0 &&
	    !warned) {
		log_warn("cannot notify systemd at %s: %s (not said again)", path, strerror(errno));
		warned = true;
	}
	close(fd);
}

static uint64_t wd_every_ms, wd_next_ms; /* 0: no watchdog */

static void watchdog_init(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	wd_every_ms = 0;
	if (!us || (pid && strtol(pid, &end, 10) != (long)getpid()))
		return;
	unsigned long long v = strtoull(us, &end, 10);
	if (*end || v == 0) {
		log_warn("WATCHDOG_USEC=%s is not a number of microseconds: no watchdog", us);
		return;
	}
	wd_every_ms = v / 2000u ? v / 2000u : 1; /* half the interval, as sd_watchdog_enabled(3) advises */
	wd_next_ms = 0;
	log_info("systemd watchdog: every %llu ms", (unsigned long long)wd_every_ms);
}

static int beat_fd = -1;
static uint64_t beat_every_ms, beat_next_ms;

void daemon_heartbeat(int fd, uint64_t every_ms)
{
	beat_fd = fd;
	beat_every_ms = every_ms ? every_ms : 1;
	beat_next_ms = 0;
}

uint64_t daemon_watchdog_every(void)
{
	return wd_every_ms;
}

void daemon_watchdog(uint64_t now_ms)
{
	if (beat_fd >= 0 && now_ms >= beat_next_ms) {
		/* Non-blocking: a full pipe already holds beats enough for the supervisor. */
		if (write(beat_fd, "b", 1) < 0 && errno != EAGAIN)
			beat_fd = -1; /* the supervisor is gone; its end of the pipe with it */
		beat_next_ms = now_ms + beat_every_ms;
	}
	if (!wd_every_ms || now_ms < wd_next_ms)
		return;
	notify_systemd("WATCHDOG=1");
	wd_next_ms = now_ms + wd_every_ms;
}

int daemon_watchdog_wait(uint64_t now_ms)
{
	int w = -1;
	if (wd_every_ms)
		w = wd_next_ms > now_ms ? (int)(wd_next_ms - now_ms) : 0;
	if (beat_fd >= 0) {
		int b = beat_next_ms > now_ms ? (int)(beat_next_ms - now_ms) : 0;
		if (w < 0 || b < w)
			w = b;
	}
	return w;
}

void daemon_notify_status(const char *status)
{
	char msg[256];
	snprintf(msg, sizeof msg, "STATUS=%s", status);
	notify_systemd(msg);
}

void daemon_notify_ready(const char *status)
{
	char msg[256];
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
	notify_systemd(msg);
	watchdog_init();
	daemon_watchdog(daemon_now_ms());
}

void daemon_ready(void)
{
	if (ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			log_warn("cannot notify the parent process: %s", strerror(errno));
		close(ready_fd);
		ready_fd = -1;
	}
}

int daemon_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

const char *daemon_user(const struct run_opts *o)
{
	if (o->user)
		return o->user;
	return getpwnam("shipworm") ? "shipworm" : "nobody";
}

int daemon_drop_privileges(const char *user, unsigned keep)
{
	if (!strcmp(user, "root"))
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		errno = ENOENT;
		return -1;
	}
	if (keep && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return -1;
	cap_t caps = cap_init(); /* empty: no capability at all */
	if (!caps)
		return -1;
	cap_value_t kept[2];
	int nkept = 0, r = 0;
	if (keep & DROP_KEEP_NET_ADMIN)
		kept[nkept++] = CAP_NET_ADMIN;
	if (keep & DROP_KEEP_BPF)
		kept[nkept++] = CAP_BPF;
	/* Inheritable too, so that a ClientHook can be given CAP_NET_ADMIN as an ambient
	 * capability (Miredo's hook runs `ip`). */
	if (nkept)
		r = cap_set_flag(caps, CAP_PERMITTED, nkept, kept, CAP_SET) |
		    cap_set_flag(caps, CAP_EFFECTIVE, nkept, kept, CAP_SET) |
		    cap_set_flag(caps, CAP_INHERITABLE, nkept, kept, CAP_SET);
	if (!r)
		r = cap_set_proc(caps);
	cap_free(caps);
	if (r < 0)
		return -1;
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -1;
#ifdef __SANITIZE_ADDRESS__
	/* Sanitizer builds only: LeakSanitizer needs to ptrace itself at exit, which a
	 * process that changed its uid may not do unless it stays dumpable. */
	prctl(PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
#endif
	return 0;
}

int daemon_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int daemon_epoll(const int *fds, int n)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; ep >= 0 && i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		if (fds[i] < 0)
			continue; /* an optional socket that is not there */
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			close(ep);
			return -1;
		}
	}
	return ep;
}

bool daemon_stop_requested(int sfd)
{
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo == SIGHUP)
		return false;
	log_info("stopping on signal %u", si.ssi_signo);
	return true;
}

static uint64_t start_ms;

void daemon_mark_start(void)
{
	start_ms = daemon_now_ms();
}

uint64_t daemon_uptime_s(void)
{
	return (daemon_now_ms() - start_ms) / 1000u;
}

uint64_t daemon_now_ms(void)
{
	struct timespec ts;
	/* CLOCK_BOOTTIME counts time spent suspended (issue 11): after a laptop wakes,
	 * every timer the cores keep is seen as due, so the client refreshes its mapping at
	 * once and no peer is trusted on the strength of a packet from before the sleep. */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void daemon_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	uint8_t *p = buf;
	while (len) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err("getrandom: %s", strerror(errno));
			abort();
		}
		p += r;
		len -= (size_t)r;
	}
}
