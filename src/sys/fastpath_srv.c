/* The server's XDP program (issue 10): loading it and attaching it through a bpf_link
 * (its privileged start-up is in sys/fastpath_start.c). The program answers Router
 * Solicitations and forwards bubbles by itself (src/bpf/teredo_srv.bpf.c); the daemon
 * keeps its sockets for everything else, and for all of it without the program. */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sys/fastpath.h"
#include "teredo_srv.skel.h"

struct fastpath_srv {
	struct teredo_srv *skel;
	int link;          /* the bpf_link, or -1 */
	uint64_t *buckets; /* the RA limit's bucket map, mapped into our memory, or NULL */
};

#define BUCKETS_BYTES (FPS_RS_BUCKETS * sizeof(uint64_t))

static const char *const counter_names[FPS__COUNT] = {
	[FPS_RS_ANSWERED] = "fastpath_rs_answered",
	[FPS_RS_LIMITED] = "fastpath_rs_rate_limited",
	[FPS_BUBBLE_FWD] = "fastpath_bubbles_forwarded",
	[FPS_PASS] = "fastpath_to_daemon",
	[FPS_NO_ROUTE] = "fastpath_no_neighbour",
};

const char *fastpath_srv_counter_name(enum fps_counter c)
{
	return (unsigned)c < FPS__COUNT ? counter_names[c] : "?";
}

/* Is the interface a veth? Its native XDP_TX hands frames to the peer's XDP receive
 * queue, which exists only while the peer runs XDP (or GRO) itself: frames sent back
 * would be dropped. Generic XDP sends them through the ordinary transmit path. */
static bool is_veth(int ifindex)
{
	char name[IF_NAMESIZE];
	if (!if_indextoname((unsigned)ifindex, name))
		return false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_data = (void *)&info;
	bool veth = ioctl(fd, SIOCETHTOOL, &ifr) == 0 && !strcmp(info.driver, "veth");
	close(fd);
	return veth;
}

struct fastpath_srv *fastpath_srv_open(int ifindex, const char **mode_out, char *why, size_t whylen)
{
	fastpath_libbpf_quiet();
	struct fastpath_srv *fs = calloc(1, sizeof *fs);
	if (!fs) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	fs->link = -1;
	int r;
	const char *step = "open the program";
	if (!(fs->skel = teredo_srv__open())) {
		r = -errno;
		goto fail;
	}
	step = "load the program";
	if ((r = teredo_srv__load(fs->skel)) < 0)
		goto fail;
	/* Mapped now, as root and before the sandbox: from then on the daemon shares the
	 * buckets by plain memory accesses, no bpf() call per RS. */
	step = "map the RA limit's buckets";
	void *b = mmap(NULL, BUCKETS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(fs->skel->maps.srv_limit), 0);
	if (b == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	fs->buckets = b;
	if (ifindex > 0) {
		bool generic = is_veth(ifindex);
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = generic ? XDP_FLAGS_SKB_MODE : 0);
		step = "attach XDP to the interface";
		fs->link = bpf_link_create(bpf_program__fd(fs->skel->progs.teredo_srv), ifindex, BPF_XDP, &o);
		if (fs->link < 0) {
			r = -errno;
			/* An interface runs one XDP program (EBUSY in the same mode, EEXIST in the
			 * other): the operator's own (a DDoS filter, say) stays, and the daemon
			 * answers behind it. */
			if (r == -EBUSY || r == -EEXIST)
				step = "attach XDP to the interface: it has an XDP program already";
			goto fail;
		}
		if (mode_out)
			*mode_out = generic ? "generic" : "driver";
	}
	return fs;
fail:
	snprintf(why, whylen, "cannot %s: %s", step, strerror(r < 0 ? -r : r ? r : EINVAL));
	fastpath_srv_close(fs);
	return NULL;
}

int fastpath_srv_configure(struct fastpath_srv *fs, const struct fps_config *c)
{
	uint32_t zero = 0;
	return bpf_map_update_elem(bpf_map__fd(fs->skel->maps.srv_cfg), &zero, c, BPF_ANY);
}

void fastpath_srv_counters(const struct fastpath_srv *fs, uint64_t out[FPS__COUNT])
{
	fastpath_percpu_sum(bpf_map__fd(fs->skel->maps.srv_stats), FPS__COUNT, out);
}

uint64_t *fastpath_srv_rs_buckets(const struct fastpath_srv *fs)
{
	return fs->buckets;
}

int fastpath_srv_prog_fd(const struct fastpath_srv *fs)
{
	return bpf_program__fd(fs->skel->progs.teredo_srv);
}

int fastpath_srv_cfg_fd(const struct fastpath_srv *fs)
{
	return bpf_map__fd(fs->skel->maps.srv_cfg);
}

void fastpath_srv_close(struct fastpath_srv *fs)
{
	if (!fs)
		return;
	if (fs->link >= 0)
		close(fs->link); /* detaches */
	if (fs->buckets)
		munmap(fs->buckets, BUCKETS_BYTES);
	teredo_srv__destroy(fs->skel);
	free(fs);
}
