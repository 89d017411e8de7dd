/* The fast path's privileged start-up (issue 10) for every role: loading, the janitor
 * (relay and client) and the CAP_BPF probe, all before the privilege drop.
 *
 * The janitor: a tc filter attached through netlink outlives the process that attached
 * it (6.1 has no tc bpf_link), and after the privilege drop the daemon may not detach it.
 * So a child forked before the drop keeps CAP_NET_ADMIN and nothing else, waits on a
 * socketpair, and detaches the IPv4 interface's filter when the daemon asks or its end
 * closes: a stop, a crash or SIGKILL alike. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/daemon.h"
#include "sys/fastpath.h"
#include "conf/config.h"
#include "sys/helper.h"
#include "sys/log.h"
#include "sys/sandbox.h"
#include "sys/status_fmt.h"

struct janitor_arg {
	int ifindex;
	bool destroy_hook;
};

static void janitor_body(int fd, void *arg)
{
	struct janitor_arg *j = arg;
	struct fastpath_janitor_msg m;
	for (;;) {
		ssize_t n = read(fd, &m, sizeof m);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof m || m.ifindex <= 0)
			break; /* asked to, or the daemon is gone */
		j->ifindex = m.ifindex; /* the client moved its filter */
		j->destroy_hook = m.hook_made != 0;
	}
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
bool fastpath_needs_cap_bpf(int map_fd, const char *user)
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
		_exit(fastpath_map_probe(map_fd) == 0 ? 0 : 1);
	}
	int st = 0;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	signal(SIGCHLD, was);
	return r != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

/* No fast path: say why, in the status and once in the log; -1 only when FastPath on
 * asked for it. */
static int started_off(char *status, size_t len, uint8_t mode, const char *why, const char *instead)
{
	snprintf(status, len, "off (%s)", why);
	if (mode == FASTPATH_CFG_ON) {
		log_err("FastPath on: %s", why);
		return -1;
	}
	log_info("fast path off: %s; %s", why, instead);
	return 0;
}

/* The fast path is on: will the daemon need CAP_BPF for its map commands after the
 * privilege drop, and admit them in the seccomp filter to come. */
static bool started_on(int cfg_fd, const char *user)
{
	bool cap = fastpath_needs_cap_bpf(cfg_fd, user);
	sandbox_allow_bpf_maps();
	return cap;
}

int fastpath_start(struct fastpath_start *s, uint8_t mode, uint32_t peers, int in_ifindex, const char *in_name,
		   const char *tun_name, const struct fp_config *c, const char *user, const char *no_if_why)
{
	*s = (struct fastpath_start){ .janitor = -1 };
	if (mode == FASTPATH_CFG_OFF) {
		snprintf(s->why, sizeof s->why, "off (FastPath off)");
		return 0;
	}
	char why[128];
	snprintf(why, sizeof why, "%s", no_if_why);
	if (in_ifindex > 0)
		s->fp = fastpath_open(peers, in_ifindex, (int)c->tun_ifindex, why, sizeof why);
	if (s->fp && fastpath_configure(s->fp, c) < 0)
		snprintf(why, sizeof why, "cannot configure the programs: %s", strerror(errno));
	else if (s->fp && (s->janitor = fastpath_janitor(s->fp, user)) < 0)
		/* Without it nothing could detach the filter after the privilege drop. */
		snprintf(why, sizeof why, "no janitor process: %s", strerror(errno));
	if (s->fp && s->janitor < 0) {
		fastpath_close(s->fp, -1);
		s->fp = NULL;
	}
	if (!s->fp)
		return started_off(s->why, sizeof s->why, mode, why, "every packet goes through the daemon");
	s->cap_bpf = started_on(fastpath_cfg_fd(s->fp), user);
	snprintf(s->why, sizeof s->why, "on (tc ingress %s, tc egress %s)", in_name, tun_name);
	log_info("fast path on: eBPF on %s (Teredo in) and %s (Teredo out)", in_name, tun_name);
	return 0;
}

/* The interface that holds the primary address: where RSs and bubbles arrive. */
static int interface_of(uint32_t ip, char *name, size_t len)
{
	struct ifaddrs *ifa, *i;
	int index = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == ip) {
			index = (int)if_nametoindex(i->ifa_name);
			snprintf(name, len, "%s", i->ifa_name);
			break;
		}
	freeifaddrs(ifa);
	return index;
}

int fastpath_srv_start(struct fastpath_srv_start *s, uint8_t mode, const struct fps_config *c, const char *user)
{
	*s = (struct fastpath_srv_start){ 0 };
	if (mode == FASTPATH_CFG_OFF) {
		snprintf(s->why, sizeof s->why, "off (FastPath off)");
		return 0;
	}
	char why[128] = "the primary address is on no interface (ServerBindAddress)", name[IF_NAMESIZE] = "";
	const char *xdp_mode = "";
	int ifindex = interface_of(c->primary, name, sizeof name);
	if (ifindex > 0)
		s->fs = fastpath_srv_open(ifindex, &xdp_mode, why, sizeof why);
	if (s->fs && fastpath_srv_configure(s->fs, c) < 0) {
		snprintf(why, sizeof why, "cannot configure the program: %s", strerror(errno));
		fastpath_srv_close(s->fs);
		s->fs = NULL;
	}
	if (!s->fs)
		return started_off(s->why, sizeof s->why, mode, why, "the daemon answers every datagram");
	s->cap_bpf = started_on(fastpath_srv_cfg_fd(s->fs), user);
	snprintf(s->why, sizeof s->why, "on (xdp %s on %s)", xdp_mode, name);
	log_info("fast path on: XDP (%s mode) on %s answers Router Solicitations and forwards bubbles", xdp_mode,
		 name);
	return 0;
}

#define FASTPATH_WATCH_MS 10000

void fastpath_watch(struct fastpath_start *s, uint64_t now_ms)
{
	if (!s->fp || now_ms < s->next_watch)
		return;
	s->next_watch = now_ms + FASTPATH_WATCH_MS;
	int in_ifindex;
	bool made;
	fastpath_ingress(s->fp, &in_ifindex, &made);
	for (int egress = 0; egress < 2; egress++) {
		int on = !egress && !in_ifindex ? -ENODEV : fastpath_attached(s->fp, egress);
		if (on < 0)
			continue; /* no interface to be on (a client between networks) */
		bool gone = !on;
		if (gone && !s->gone[egress])
			log_warn("fast path: its %s program is no longer on its hook (taken off by something else); the "
				 "daemon carries that traffic alone until it restarts",
				 egress ? "egress (teredo_out)" : "ingress (teredo_in)");
		else if (!gone && s->gone[egress])
			log_info("fast path: its %s program is on its hook again", egress ? "egress" : "ingress");
		s->gone[egress] = gone;
	}
}

void fastpath_status(struct status_out *o, const struct fastpath_start *s)
{
	st_str(o, "fast_path", s->why);
	if (!s->fp)
		return;
	st_bool(o, "fast_path_keeps_cap_bpf", s->cap_bpf);
	/* Still on their hooks (someone may have taken them off). */
	st_bool(o, "fast_path_in_attached", fastpath_attached(s->fp, false) > 0);
	st_bool(o, "fast_path_out_attached", fastpath_attached(s->fp, true) > 0);
	/* Whether the host's TCP super-packets take the kernel's path (teredo_out.bpf.c). */
	st_bool(o, "fast_path_gso", fastpath_gso_encap(s->fp));
	/* Whether the kernel decapsulates in one step (teredo_in.bpf.c). */
	st_bool(o, "fast_path_decap_l3", fastpath_decap_l3(s->fp));
}

void fastpath_status_counters(struct status_out *o, const struct fastpath *fp, uint64_t journal_lost)
{
	uint64_t c[FP__COUNT];
	fastpath_counters(fp, c);
	for (int i = 0; i < FP__COUNT; i++)
		st_u64(o, fastpath_counter_name((enum fp_counter)i), c[i]);
	st_u64(o, "fastpath_map_errors", fastpath_map_errors(fp));
	st_u64(o, "fastpath_journal_lost", journal_lost);
	fastpath_prog_status(o, "fastpath_in", fastpath_prog_fd(fp, false));
	fastpath_prog_status(o, "fastpath_out", fastpath_prog_fd(fp, true));
}
