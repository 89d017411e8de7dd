/* The fast path's janitor (issue 10): a tc filter attached through netlink outlives the
 * process that attached it (6.1 has no tc bpf_link), and after the privilege drop the
 * daemon may not detach it. So a child forked before the drop keeps CAP_NET_ADMIN and
 * nothing else, waits on a socketpair, and detaches the IPv4 interface's filter when the
 * daemon asks or its end closes: a stop, a crash or SIGKILL alike. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/daemon.h"
#include "sys/fastpath.h"
#include "sys/helper.h"

struct janitor_arg {
	int ifindex;
	bool destroy_hook;
};

static void janitor_body(int fd, void *arg)
{
	const struct janitor_arg *j = arg;
	char b;
	ssize_t n;
	while ((n = read(fd, &b, 1)) < 0 && errno == EINTR)
		;
	fastpath_detach_ingress(j->ifindex, j->destroy_hook);
}

int fastpath_janitor(const struct fastpath *fp, const char *user)
{
	static struct janitor_arg arg;
	fastpath_ingress(fp, &arg.ifindex, &arg.destroy_hook);
	if (!arg.ifindex)
		return -1;
	return helper_fork("shipworm-fpjan", user, DROP_KEEP_NET_ADMIN, false, SANDBOX_UPNP, janitor_body, &arg);
}

/* Whether the daemon must keep CAP_BPF to update the maps once unprivileged: up to 6.4
 * the kernel refuses every bpf() call without it when unprivileged BPF is disabled
 * (Debian's default); 6.5 checks only map creation and program loads. A child that
 * drops everything tries one lookup on the configuration map and says. */
bool fastpath_needs_cap_bpf(const struct fastpath *fp, const char *user)
{
	/* The client ignores SIGCHLD (its hooks reap themselves), which would make the
	 * child vanish before waitpid() sees how it ended. */
	void (*was)(int) = signal(SIGCHLD, SIG_DFL);
	pid_t pid = fork();
	if (pid < 0) {
		signal(SIGCHLD, was);
		return true;
	}
	if (pid == 0) {
		if (daemon_drop_privileges(user, 0) < 0)
			_exit(2);
		_exit(fastpath_probe(fp) == 0 ? 0 : 1);
	}
	int st = 0;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	signal(SIGCHLD, was);
	return r != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}
