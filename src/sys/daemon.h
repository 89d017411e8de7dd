/* Process life: detaching, PID file, privilege drop, signals. */
#ifndef SW_SYS_DAEMON_H
#define SW_SYS_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct run_opts {
	bool foreground;
	const char *user;        /* -u: run as this user after set-up; NULL: the default */
	const char *pidfile;     /* -p: NULL for none */
	const char *control;     /* -s: control socket path */
	gid_t control_gid;       /* ControlGroup: may use the socket too; (gid_t)-1 for root only */
};

/* Fork into the background (unless foreground); the parent exits once the child calls
 * daemon_ready, with the child's status if it fails first. */
int daemon_start(const struct run_opts *o);
void daemon_ready(void);
/* Tell systemd the daemon is ready (Type=notify): after binding for a server or relay,
 * after qualification for a client. A no-op without $NOTIFY_SOCKET. */
void daemon_notify_ready(const char *status);
/* The daemon's state for `systemctl status` (STATUS=) after it is ready. */
void daemon_notify_status(const char *status);
/* systemd's watchdog (WatchdogSec= in the units): with $WATCHDOG_USEC set for this
 * process ($WATCHDOG_PID, when set, must be ours), "WATCHDOG=1" at half that interval,
 * from the daemon's own loop only, so that a loop that no longer turns gets the daemon
 * restarted. daemon_notify_ready() reads the interval. daemon_watchdog_wait(): the
 * milliseconds the loop may sleep before the next ping (-1: no watchdog). */
void daemon_watchdog(uint64_t now_ms);
int daemon_watchdog_wait(uint64_t now_ms);
/* The watchdog's ping interval (0: none), for Mode auto's supervisor. */
uint64_t daemon_watchdog_every(void);
/* Mode auto's role (sys/auto_io.c): daemon_watchdog() also writes a byte to fd every
 * every_ms, so that the supervisor, which systemd's watchdog hears, sees a role whose
 * loop stopped turning. */
void daemon_heartbeat(int fd, uint64_t every_ms);
int daemon_write_pidfile(const char *path);
/* The user to run as after set-up: -u if given, else the `shipworm` system user that
 * `make install` creates, else `nobody`. "root" keeps root (not recommended). */
const char *daemon_user(const struct run_opts *o);
/* Switch to user's uid/gid, drop supplementary groups, and keep no capability except
 * CAP_NET_ADMIN when keep_net_admin (the client changes its address and routes on
 * re-qualification). Sets no_new_privs. Returns 0 or -1 with errno. */
#define DROP_KEEP_NET_ADMIN 1u /* the client: its address and routes (netlink) */
#define DROP_KEEP_BPF 2u       /* the fast path's map updates: 6.1 refuses every bpf()
				* call without CAP_BPF (kernel.unprivileged_bpf_disabled) */
int daemon_drop_privileges(const char *user, unsigned keep);
/* A signalfd for SIGINT, SIGTERM, SIGHUP (blocked for normal delivery). */
int daemon_signalfd(void);
/* Read one signal from the signalfd; true (and logged) when it asks the daemon to stop. */
bool daemon_stop_requested(int sfd);
/* Monotonic milliseconds, suspend included (CLOCK_BOOTTIME): the `now` every core call
 * takes. */
uint64_t daemon_now_ms(void);
/* The daemon's age for its status (a Mode auto role counts from the supervisor's start:
 * the service's age). daemon_mark_start() first thing in main(). */
void daemon_mark_start(void);
uint64_t daemon_uptime_s(void);
/* The cores' randomness (sw_rng_fn): getrandom, and abort rather than go on without it
 * (RFC 5991 §4, P-05): every nonce, random flag bit and port (SEC-14, X-07). */
void daemon_random(void *ctx, void *buf, size_t len);
/* An epoll instance watching fds[0..n) for input; events carry the index in data.u32.
 * Negative descriptors (optional sockets that are not open) are skipped. */
int daemon_epoll(const int *fds, int n);

#endif
