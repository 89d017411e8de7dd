#include "sys/helper.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys/daemon.h"
#include "sys/log.h"

int helper_fork(const char *name, const char *user, unsigned keep, bool sandboxed, enum sandbox_role role,
		void (*body)(int fd, void *arg), void *arg)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid > 0) {
		close(sv[1]);
		return sv[0];
	}
	/* Nothing of the daemon's but the socketpair and stdio: its sockets, TUN and
	 * control socket are not the helper's business. */
	if (dup2(sv[1], 3) < 0)
		_exit(1);
	for (int fd = 4; fd < 1024; fd++)
		close(fd);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGINT, SIG_IGN); /* a ^C to the foreground daemon: it goes first */
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, name, 0L, 0L, 0L);
	if (daemon_drop_privileges(user, keep) < 0) {
		log_err("%s: cannot switch to user %s: %s", name, user, strerror(errno));
		_exit(1);
	}
	if (sandboxed && sandbox_enter(role) < 0) {
		log_err("%s: cannot enter the seccomp sandbox: %s", name, strerror(errno));
		_exit(1);
	}
	body(3, arg);
	_exit(0);
}
