#include "sys/auto_io.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/client_io.h"
#include "sys/log.h"
#include "sys/netlink.h"
#include "sys/relay_io.h"

#define AUTO_RESTART_MS 2000 /* a role that ended on its own starts again after this */
#define AUTO_STOP_MS 10000   /* a child that does not stop on SIGTERM within this is killed */
/* Under systemd's watchdog the role beats to the supervisor (daemon_heartbeat); one
 * silent for twice the watchdog's interval, at least AUTO_HUNG_MIN_MS, or silent
 * AUTO_FIRST_BEAT_MS after its start (its set-up: the fast path's programs take a
 * while to load), has a loop that stopped turning. */
#define AUTO_HUNG_MIN_MS 10000
#define AUTO_FIRST_BEAT_MS 30000

static int native_now(struct nl *q, const struct sw_config *cfg)
{
	int r = nl_native_ipv6(q, (int)if_nametoindex(cfg->ifname));
	if (r < 0) {
		log_warn("auto: cannot read the IPv6 addresses and routes: %s", strerror(-r));
		return 0;
	}
	return r;
}

static pid_t start(const struct sw_config *cfg, const struct run_opts *opts, bool native, int close1, int close2,
		   int close3, const int beat[2], uint64_t beat_ms)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	close(close1);
	close(close2);
	close(close3);
	/* Readiness and the watchdog are the supervisor's to tell (NotifyAccess=main); the
	 * role tells the supervisor that its loop turns. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (beat[0] >= 0) {
		close(beat[0]);
		daemon_heartbeat(beat[1], beat_ms);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	static struct sw_config c;
	c = *cfg;
	if (native) {
		/* H-02: a dual-stack host with native IPv6 may serve Teredo clients itself. */
		c.mode = MODE_HOST_RELAY;
		if (!c.bind_port)
			c.bind_port = 3544;
		snprintf(c.auto_reason, sizeof c.auto_reason, "native IPv6 (a global address and a default route)");
		_exit(relay_io_run(&c, opts));
	}
	/* C-70: Teredo only as the last resort, when nothing else gives IPv6. */
	c.mode = MODE_CLIENT;
	snprintf(c.auto_reason, sizeof c.auto_reason, "no native IPv6");
	_exit(client_io_run(&c, opts));
}

/* When a child silent since last_beat (0: none yet since its start) counts as hung. */
static uint64_t hung_deadline(uint64_t last_beat, uint64_t since, uint64_t hung_ms)
{
	return last_beat ? last_beat + hung_ms : since + AUTO_FIRST_BEAT_MS;
}

static void close_beat(int beat[2])
{
	if (beat[0] >= 0)
		close(beat[0]);
	beat[0] = -1;
}

/* Wait (bounded) for the child to end after SIGTERM, SIGKILL after AUTO_STOP_MS. The
 * child runs as another user by then: root may signal it only with CAP_KILL (the
 * units' bounding set holds it for this). */
static void stop(pid_t child)
{
	if (kill(child, SIGTERM) < 0)
		log_err("auto: cannot stop the role (pid %d): %s", (int)child, strerror(errno));
	for (int i = 0; i < AUTO_STOP_MS / 50; i++) {
		if (waitpid(child, NULL, WNOHANG) == child)
			return;
		usleep(50000);
	}
	log_warn("auto: the role did not stop within %d s; killed", AUTO_STOP_MS / 1000);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

int auto_io_run(const struct sw_config *cfg, const struct run_opts *opts)
{
	struct nl *q = nl_open(), *mon = nl_monitor_open6();
	if (!q || !mon) {
		log_err("auto: rtnetlink: %s", strerror(errno));
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_err("auto: signalfd: %s", strerror(errno));
		return 1;
	}
	bool native = native_now(q, cfg);
	pid_t child = -1;
	uint64_t restart_at = 0, settle_at = 0, since = daemon_now_ms();
	log_info("auto: %s: starting the %s", native ? "native IPv6" : "no native IPv6",
		 native ? "host-specific relay" : "client");
	/* Ready once supervising: a background start returns, systemd hears it from the
	 * main process; the roles' own notices go nowhere (ready_fd is closed for them). */
	daemon_ready();
	daemon_notify_ready("auto: supervising");
	/* The role's beats (with the watchdog only): a pipe per child, read here. */
	uint64_t beat_ms = daemon_watchdog_every(), hung_ms = 4 * beat_ms, last_beat = 0;
	if (hung_ms < AUTO_HUNG_MIN_MS)
		hung_ms = AUTO_HUNG_MIN_MS;
	int beat[2] = { -1, -1 };
	for (;;) {
		uint64_t now = daemon_now_ms();
		if (child < 0 && now >= restart_at) {
			if (beat_ms && pipe2(beat, O_NONBLOCK | O_CLOEXEC) < 0) {
				log_warn("auto: pipe: %s: the role's loop is not watched", strerror(errno));
				beat[0] = beat[1] = -1;
			}
			child = start(cfg, opts, native, nl_fd(q), nl_fd(mon), sfd, beat, beat_ms);
			if (beat[1] >= 0)
				close(beat[1]);
			beat[1] = -1;
			if (child < 0) {
				log_err("auto: fork: %s", strerror(errno));
				restart_at = now + AUTO_RESTART_MS;
				close_beat(beat);
			}
			since = now;
			last_beat = 0;
		}
		int timeout = -1;
		uint64_t next = settle_at ? settle_at : child < 0 ? restart_at : 0;
		uint64_t hung_at = child > 0 && beat[0] >= 0 ? hung_deadline(last_beat, since, hung_ms) : 0;
		if (hung_at && (!next || hung_at < next))
			next = hung_at;
		if (next)
			timeout = next > now ? (int)(next - now) : 0;
		/* systemd's watchdog hears the supervisor (NotifyAccess=main): it covers this
		 * loop; a role that stops turning is not seen by it. */
		int wd = daemon_watchdog_wait(now);
		if (wd >= 0 && (timeout < 0 || wd < timeout))
			timeout = wd;
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN }, { .fd = nl_fd(mon), .events = POLLIN },
				       { .fd = beat[0], .events = POLLIN } };
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents && nl_drain(mon))
			settle_at = daemon_now_ms() + AUTO_SETTLE_MS;
		if (p[2].revents & POLLIN) {
			char b[64];
			while (read(beat[0], b, sizeof b) > 0)
				;
			last_beat = daemon_now_ms();
		}
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGCHLD) {
				pid_t w;
				int st;
				while ((w = waitpid(-1, &st, WNOHANG)) > 0)
					if (w == child) {
						log_warn("auto: the %s ended (%s %d); starting again in %d s",
							 native ? "host-specific relay" : "client",
							 WIFEXITED(st) ? "status" : "signal",
							 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), AUTO_RESTART_MS / 1000);
						child = -1;
						restart_at = daemon_now_ms() + AUTO_RESTART_MS;
						close_beat(beat);
					}
			} else {
				log_info("auto: stopping on signal %u", si.ssi_signo);
				if (child > 0)
					stop(child);
				close_beat(beat);
				nl_close(q);
				nl_close(mon);
				return 0;
			}
		}
		now = daemon_now_ms();
		daemon_watchdog(now);
		if (child > 0 && beat[0] >= 0 && now >= hung_deadline(last_beat, since, hung_ms)) {
			/* Its signalfd is read by that same loop: only SIGKILL ends it. What it set
			 * up goes with it (the TUN with its descriptor, the fast path by its
			 * janitor, the UPnP mapping by its helper), as after any crash. */
			log_err("auto: the %s has not turned its loop for %llu s (pid %d): killed, starting again in %d s",
				native ? "host-specific relay" : "client",
				(unsigned long long)((now - (last_beat ? last_beat : since)) / 1000), (int)child,
				AUTO_RESTART_MS / 1000);
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			child = -1;
			restart_at = now + AUTO_RESTART_MS;
			close_beat(beat);
		}
		if (settle_at && now >= settle_at) {
			settle_at = 0;
			bool n = native_now(q, cfg);
			if (n != native) {
				log_info("auto: %s after %llu s: switching to the %s", n ? "native IPv6 appeared" : "native IPv6 is gone",
					 (unsigned long long)((now - since) / 1000), n ? "host-specific relay" : "client");
				native = n;
				if (child > 0)
					stop(child);
				child = -1;
				restart_at = 0;
				close_beat(beat);
			}
		}
	}
	if (child > 0)
		stop(child);
	close_beat(beat);
	return 1;
}
