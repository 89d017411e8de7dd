#include "sys/sandbox.h"

#include <errno.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sys/log.h"

/* What every role does in its event loop, logs, the control socket and exit. */
static const char *const common[] = {
	"read", "write", "writev", "readv", "close", "epoll_create1", "epoll_wait", "epoll_pwait", "epoll_ctl",
	"recvmmsg", "sendmmsg", "sendmsg", "sendto", "recvfrom", "recvmsg", "accept4", "poll",
	"ppoll", "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "getrandom",
	"exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "brk", "mmap", "munmap",
	"mremap", "madvise", "futex", "fstat", "newfstatat", "statx", "lseek", "unlink",
	/* syslog(3): reconnects to /dev/log and reads /etc/localtime once */
	"socket", "connect", "getpid", "openat", "getsockname", "bind", "fcntl",
	"restart_syscall",
	/* the control socket's timer for its connections (sys/control.c) */
	"timerfd_settime",
};
/* The client: netlink for address changes, getifaddrs for local discovery. */
static const char *const client_extra[] = { "setsockopt", "getsockopt" };
/* The UPnP helper (sys/upnp.c): libminiupnpc's SSDP search and HTTP requests, and its
 * SIGTERM handler (set inside the helper's body, after the filter). */
static const char *const upnp_extra[] = { "setsockopt", "getsockopt", "select", "pselect6", "getpeername",
					  "ioctl", "uname", "shutdown", "rt_sigaction" };

static bool bpf_maps;

void sandbox_allow_bpf_maps(void)
{
	bpf_maps = true;
}

/* Issue 10: the fast path's map updates and counter reads, the walk of its peer map
 * when a client's core forgets every peer at once, and the programs' own counts for the
 * status (OBJ_GET_INFO_BY_FD on a descriptor the daemon holds), and nothing else of
 * bpf(): no program load, no attach, no new map (the daemon keeps CAP_BPF on 6.1, where every
 * bpf() call needs it, so this filter is what stands between it and the rest). */
static int allow_bpf_maps(scmp_filter_ctx f)
{
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY,
				    BPF_OBJ_GET_INFO_BY_FD };
	int nr = seccomp_syscall_resolve_name("bpf");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)cmds[i])) < 0)
			return -1;
	return 0;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	/* One clear line, then die: async-signal-safe pieces only. */
	char msg[96] = "shipwormd: seccomp: forbidden system call ";
	size_t n = strlen(msg);
	int nr = si->si_syscall, digits[12], k = 0;
	do {
		digits[k++] = nr % 10;
		nr /= 10;
	} while (nr && k < 12);
	while (k)
		msg[n++] = (char)('0' + digits[--k]);
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, n) < 0)
		n = 0;
	syslog(LOG_CRIT, "%.*s", (int)n, msg);
	_exit(159);
}

static int allow(scmp_filter_ctx f, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	return 0;
}

int sandbox_enter(enum sandbox_role role)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
#ifdef __SANITIZE_ADDRESS__
	/* Sanitizer builds only: ASan and LeakSanitizer make system calls of their own (at
	 * exit LeakSanitizer stops the world with a ptracing thread), so a forbidden call is
	 * logged by the kernel instead of trapped. The lab runs the production build with
	 * the trapping filter too. */
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_LOG);
#else
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
#endif
	if (!f)
		return -1;
	int r = allow(f, common, sizeof common / sizeof common[0]);
	if (!r && role == SANDBOX_CLIENT)
		r = allow(f, client_extra, sizeof client_extra / sizeof client_extra[0]);
	if (!r && role == SANDBOX_UPNP)
		r = allow(f, upnp_extra, sizeof upnp_extra / sizeof upnp_extra[0]);
	if (!r && bpf_maps)
		r = allow_bpf_maps(f);
	if (!r)
		r = seccomp_load(f);
	seccomp_release(f);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}
