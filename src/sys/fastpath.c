#include "sys/fastpath.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_ether.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/peer.h"
#include "sys/log.h"
#include "sys/netlink.h"
#include "sys/status_fmt.h"
#include "sys/status_peers.h"
#include "teredo_in.skel.h"
#include "teredo_out.skel.h"

/* Our tc filters: one handle and priority on each hook, so that a filter a crashed
 * daemon left behind is replaced, never doubled. */
#define FP_TC_HANDLE 0x5357u /* "SW" */
#define FP_TC_PRIO 0x5357u

_Static_assert(FP_BUSY_PACKETS == PEER_BUSY_PACKETS, "the ingress program reports busy peers as the core counts them");

struct fastpath {
	struct teredo_in *in;
	struct teredo_out *out;
	int in_ifindex, tun_ifindex;
	bool in_hook_made; /* we created the clsact qdisc on the IPv4 interface */
	struct nl *nl;     /* for the status and the watch: are the filters still there */
	int peers_fd, cfg_fd, locals_fd, stats_fd;
	struct ring_buffer *rb;
	struct in6_addr locals[FP_LOCAL_MAX];
	unsigned nlocals;
	uint64_t map_errors;
	bool gso_encap; /* the kernel encapsulates GSO packets (probe_gso_encap) */
	bool decap_l3;  /* the kernel decapsulates in one step (probe_decap_l3) */
	void (*seen_cb)(void *ctx, const struct in6_addr *a, uint64_t at_ms, uint32_t pkts, uint64_t sent_ms);
	void *seen_ctx;
};

static const char *const counter_names[FP__COUNT] = {
	[FP_IN_DECAP] = "fastpath_in_decapsulated",
	[FP_IN_PASS] = "fastpath_in_to_daemon",
	[FP_IN_NO_PEER] = "fastpath_in_no_peer",
	[FP_IN_ERR] = "fastpath_in_errors",
	[FP_OUT_ENCAP] = "fastpath_out_encapsulated",
	[FP_OUT_MISS] = "fastpath_out_no_peer",
	[FP_OUT_STALE] = "fastpath_out_stale_peer",
	[FP_OUT_PASS] = "fastpath_out_to_daemon",
	[FP_OUT_ERR] = "fastpath_out_errors",
	[FP_OUT_GSO] = "fastpath_out_gso_encapsulated",
	[FP_IN_DECAP_BYTES] = "fastpath_in_decapsulated_bytes",
	[FP_OUT_ENCAP_BYTES] = "fastpath_out_encapsulated_bytes",
};

const char *fastpath_counter_name(enum fp_counter c)
{
	return (unsigned)c < FP__COUNT ? counter_names[c] : "?";
}

/* libbpf's own messages (the verifier's log among them) only with SHIPWORM_BPF_DEBUG
 * set: the reason that matters is the one fastpath_open() returns. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (getenv("SHIPWORM_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

void fastpath_libbpf_quiet(void)
{
	libbpf_set_print(quiet);
}

/* Attach through our own rtnetlink requests (sys/netlink.c), the same ones a client
 * makes when it moves its filter after the privilege drop. */
static int tc_attach(int ifindex, bool ingress, int prog_fd, const char *name, bool *made)
{
	struct nl *n = nl_open();
	if (!n)
		return -errno;
	int r = nl_tc_clsact(n, ifindex, true);
	if (r < 0 && r != -EEXIST)
		goto out;
	if (made)
		*made = r == 0;
	/* Each program sees only its own protocol's packets: teredo_in Teredo's IPv4,
	 * teredo_out what the host routes into the tunnel. */
	r = nl_tc_bpf_attach(n, ifindex, ingress, FP_TC_HANDLE, FP_TC_PRIO, ingress ? ETH_P_IP : ETH_P_IPV6,
			     prog_fd, name);
out:
	nl_close(n);
	return r;
}

static void tc_detach_with(struct nl *n, int ifindex, bool ingress, bool destroy_hook)
{
	nl_tc_bpf_detach(n, ifindex, ingress, FP_TC_HANDLE, FP_TC_PRIO);
	/* The clsact qdisc is removed only when we made it (the interface had none) and
	 * nothing else has put a filter on it since: removing it would take those too. */
	if (destroy_hook && nl_tc_filters(n, ifindex) == 0)
		nl_tc_clsact(n, ifindex, false);
}

static void tc_detach(int ifindex, bool ingress, bool destroy_hook)
{
	struct nl *n = nl_open();
	if (n) {
		tc_detach_with(n, ifindex, ingress, destroy_hook);
		nl_close(n);
	}
}

static int on_seen(void *ctx, void *data, size_t len)
{
	struct fastpath *fp = ctx;
	const struct fp_seen *s = data;
	if (len < sizeof *s || !fp->seen_cb)
		return 0;
	struct in6_addr a;
	memcpy(&a, s->addr, 16);
	fp->seen_cb(fp->seen_ctx, &a, s->at / 1000000u, s->pkts, s->sent_at / 1000000u);
	return 0;
}

/* One run of a probe program on a frame: does it return 1? */
static bool probe(int prog, const uint8_t *frame, uint32_t len)
{
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof out, .repeat = 1);
	return bpf_prog_test_run_opts(prog, &o) == 0 && o.retval == 1;
}

/* Does bpf_skb_adjust_room() make an IPv6 skb IPv4 when it encapsulates it (kernels
 * after 6.1)? One run on a bubble says. */
static bool probe_gso_encap(int prog)
{
	static const uint8_t bubble[14 + 40] = { [12] = 0x86, [13] = 0xdd, [14] = 0x60, [20] = 59, [21] = 64 };
	return probe(prog, bubble, sizeof bubble);
}

/* Does it take IPv4 and UDP off and make the skb IPv6 in one step (kernels after 6.1)?
 * One run on a bubble in IPv4 and UDP says. */
static bool probe_decap_l3(int prog)
{
	static const uint8_t teredo[14 + 28 + 40] = {
		[12] = 0x08, [13] = 0x00,				/* Ethernet, IPv4 */
		[14] = 0x45, [17] = 68, [22] = 64, [23] = 17,		/* IPv4: 68 bytes, UDP */
		[36] = 0x0d, [37] = 0xd8, [39] = 48,			/* UDP: to 3544, 48 bytes */
		[42] = 0x60, [48] = 59, [49] = 64,			/* IPv6: no next header */
	};
	return probe(prog, teredo, sizeof teredo);
}

struct fastpath *fastpath_open(uint32_t peers_max, int in_ifindex, int tun_ifindex, char *why, size_t whylen)
{
	fastpath_libbpf_quiet();
	struct fastpath *fp = calloc(1, sizeof *fp);
	if (!fp) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	fp->in_ifindex = in_ifindex;
	fp->tun_ifindex = tun_ifindex;
	fp->nl = nl_open();
	int r;
	const char *step = "open";
	fp->in = teredo_in__open();
	fp->out = teredo_out__open();
	if (!fp->in || !fp->out) {
		r = -errno;
		goto fail;
	}
	step = "size the peer map";
	if ((r = bpf_map__set_max_entries(fp->in->maps.peers, peers_max)) < 0)
		goto fail;
	step = "load the ingress program";
	if ((r = teredo_in__load(fp->in)) < 0)
		goto fail;
	/* One set of maps for both programs. */
	step = "share the maps";
	if ((r = bpf_map__reuse_fd(fp->out->maps.peers, bpf_map__fd(fp->in->maps.peers))) < 0 ||
	    (r = bpf_map__reuse_fd(fp->out->maps.cfg, bpf_map__fd(fp->in->maps.cfg))) < 0 ||
	    (r = bpf_map__reuse_fd(fp->out->maps.locals, bpf_map__fd(fp->in->maps.locals))) < 0 ||
	    (r = bpf_map__reuse_fd(fp->out->maps.stats, bpf_map__fd(fp->in->maps.stats))) < 0 ||
	    (r = bpf_map__reuse_fd(fp->out->maps.seen, bpf_map__fd(fp->in->maps.seen))) < 0)
		goto fail;
	step = "load the egress program";
	if ((r = teredo_out__load(fp->out)) < 0)
		goto fail;
	fp->peers_fd = bpf_map__fd(fp->in->maps.peers);
	fp->cfg_fd = bpf_map__fd(fp->in->maps.cfg);
	fp->locals_fd = bpf_map__fd(fp->in->maps.locals);
	fp->stats_fd = bpf_map__fd(fp->in->maps.stats);
	fp->gso_encap = probe_gso_encap(bpf_program__fd(fp->out->progs.probe_gso_encap));
	fp->decap_l3 = probe_decap_l3(bpf_program__fd(fp->in->progs.probe_decap_l3));
	step = "open the ring buffer";
	fp->rb = ring_buffer__new(bpf_map__fd(fp->in->maps.seen), on_seen, fp, NULL);
	if (!fp->rb) {
		r = -errno;
		goto fail;
	}
	step = "attach to the IPv4 interface (tc ingress)";
	if (in_ifindex && (r = tc_attach(in_ifindex, true, bpf_program__fd(fp->in->progs.teredo_in), "teredo_in",
					 &fp->in_hook_made)) < 0)
		goto fail;
	step = "attach to the Teredo interface (tc egress)";
	if (tun_ifindex &&
	    (r = tc_attach(tun_ifindex, false, bpf_program__fd(fp->out->progs.teredo_out), "teredo_out", NULL)) < 0)
		goto fail;
	return fp;
fail:
	snprintf(why, whylen, "cannot %s: %s", step, strerror(r < 0 ? -r : r ? r : EINVAL));
	fastpath_close(fp, -1);
	return NULL;
}

bool fastpath_gso_encap(const struct fastpath *fp)
{
	return fp->gso_encap;
}

bool fastpath_decap_l3(const struct fastpath *fp)
{
	return fp->decap_l3;
}

int fastpath_configure(struct fastpath *fp, const struct fp_config *c)
{
	uint32_t zero = 0;
	struct fp_config k = *c;
	k.gso_encap = fp->gso_encap;
	k.decap_l3 = fp->decap_l3;
	return bpf_map_update_elem(fp->cfg_fd, &zero, &k, BPF_ANY);
}

void fastpath_set_locals(struct fastpath *fp, const struct in6_addr *a, unsigned n)
{
	if (n > FP_LOCAL_MAX)
		n = FP_LOCAL_MAX;
	uint8_t one = 1;
	for (unsigned i = 0; i < fp->nlocals; i++) {
		bool keep = false;
		for (unsigned j = 0; j < n && !keep; j++)
			keep = !memcmp(&fp->locals[i], &a[j], 16);
		if (!keep)
			bpf_map_delete_elem(fp->locals_fd, &fp->locals[i]);
	}
	for (unsigned j = 0; j < n; j++)
		if (bpf_map_update_elem(fp->locals_fd, &a[j], &one, BPF_ANY) < 0)
			fp->map_errors++;
	if (n)
		memcpy(fp->locals, a, n * sizeof *a);
	fp->nlocals = n;
}

/* Empty the peer map: keys are gathered a batch at a time along the map's own order
 * (valid while nothing changes), deleted, and the walk starts again from the first. */
static void clear_peers(struct fastpath *fp)
{
	static struct in6_addr keys[256];
	for (;;) {
		unsigned n = 0;
		while (n < 256 && bpf_map_get_next_key(fp->peers_fd, n ? &keys[n - 1] : NULL, &keys[n]) == 0)
			n++;
		unsigned gone = 0;
		for (unsigned i = 0; i < n; i++) {
			if (bpf_map_delete_elem(fp->peers_fd, &keys[i]) == 0)
				gone++;
			else
				fp->map_errors++;
		}
		if (n < 256 || gone < n)
			return; /* all gone, or one that will not go: never loop on it */
	}
}

void fastpath_apply(struct fastpath *fp, struct trust_log *log, const uint16_t *sports, unsigned nsports)
{
	if (log->reset) {
		clear_peers(fp);
		log->reset = false;
	}
	for (uint32_t i = 0; i < log->n; i++) {
		const struct trust_event *e = &log->ev[i];
		uint16_t sport = e->sock < nsports ? sports[e->sock] : 0;
		/* Another socket than the Teredo one whose port is not known (a random port
		 * being reopened): the daemon's path, rather than packets from the wrong port. */
		if (!e->add || (e->sock && !sport)) {
			bpf_map_delete_elem(fp->peers_fd, &e->addr);
			continue;
		}
		struct fp_peer v = { .ip = e->mapping.ip, .port = e->mapping.port, .sport = sport,
				     .last_rx = e->last_rx * 1000000u,
				     .flags = e->at_address ? FP_PEER_AT_ADDRESS : 0 };
		if (bpf_map_update_elem(fp->peers_fd, &e->addr, &v, BPF_ANY) < 0)
			fp->map_errors++;
	}
	log->n = 0;
}

const struct peer_kernel *fastpath_peer_kernel(const struct fastpath *fp, const struct in6_addr *a,
					       struct peer_kernel *k)
{
	if (!fp)
		return NULL;
	k->found = bpf_map_lookup_elem(fp->peers_fd, a, &k->e) == 0;
	return k;
}

int fastpath_seen_fd(const struct fastpath *fp)
{
	return ring_buffer__epoll_fd(fp->rb);
}

void fastpath_seen_drain(struct fastpath *fp,
			 void (*seen)(void *ctx, const struct in6_addr *a, uint64_t at_ms, uint32_t pkts,
				      uint64_t sent_ms),
			 void *ctx)
{
	fp->seen_cb = seen;
	fp->seen_ctx = ctx;
	ring_buffer__consume(fp->rb);
}

void fastpath_percpu_sum(int fd, uint32_t n, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *v = ncpus > 0 ? calloc((size_t)ncpus, sizeof *v) : NULL;
	for (uint32_t k = 0; k < n; k++) {
		out[k] = 0;
		if (!v || bpf_map_lookup_elem(fd, &k, v) < 0)
			continue;
		for (int c = 0; c < ncpus; c++)
			out[k] += v[c];
	}
	free(v);
}

void fastpath_prog_status(struct status_out *o, const char *name, int prog_fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof info;
	memset(&info, 0, sizeof info);
	if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return;
	char k[64];
	snprintf(k, sizeof k, "%s_prog_id", name);
	st_u64(o, k, info.id);
	/* The kernel counts only while kernel.bpf_stats_enabled is 1 (each run then pays
	 * two clock reads): both stay 0 otherwise. */
	snprintf(k, sizeof k, "%s_prog_runs", name);
	st_u64(o, k, info.run_cnt);
	snprintf(k, sizeof k, "%s_prog_run_ns", name);
	st_u64(o, k, info.run_time_ns);
}

void fastpath_counters(const struct fastpath *fp, uint64_t out[FP__COUNT])
{
	fastpath_percpu_sum(fp->stats_fd, FP__COUNT, out);
}

int fastpath_map_probe(int array_fd)
{
	uint32_t zero = 0;
	uint8_t value[1024]; /* larger than any of our maps' values */
	return bpf_map_lookup_elem(array_fd, &zero, value) < 0 ? -errno : 0;
}

int fastpath_cfg_fd(const struct fastpath *fp)
{
	return fp->cfg_fd;
}

uint64_t fastpath_map_errors(const struct fastpath *fp)
{
	return fp->map_errors;
}

void fastpath_detach_ingress(int ifindex, bool destroy_hook)
{
	tc_detach(ifindex, true, destroy_hook);
}

void fastpath_ingress(const struct fastpath *fp, int *ifindex, bool *hook_made)
{
	*ifindex = fp->in_ifindex;
	*hook_made = fp->in_hook_made;
}

int fastpath_prog_fd(const struct fastpath *fp, bool egress)
{
	return egress ? bpf_program__fd(fp->out->progs.teredo_out) : bpf_program__fd(fp->in->progs.teredo_in);
}

int fastpath_peers_fd(const struct fastpath *fp)
{
	return fp->peers_fd;
}

int fastpath_move_ingress(struct fastpath *fp, struct nl *n, int ifindex, int janitor)
{
	if (ifindex == fp->in_ifindex)
		return 0;
	int r = nl_tc_clsact(n, ifindex, true);
	if (r < 0 && r != -EEXIST)
		return r;
	bool made = r == 0;
	r = nl_tc_bpf_attach(n, ifindex, true, FP_TC_HANDLE, FP_TC_PRIO, ETH_P_IP,
			     bpf_program__fd(fp->in->progs.teredo_in), "teredo_in");
	if (r < 0) {
		if (made)
			nl_tc_clsact(n, ifindex, false);
		return r;
	}
	/* The old interface may be gone already, and its filter with it. */
	tc_detach_with(n, fp->in_ifindex, true, fp->in_hook_made);
	fp->in_ifindex = ifindex;
	fp->in_hook_made = made;
	if (janitor >= 0) {
		struct fastpath_janitor_msg m = { ifindex, made };
		if (write(janitor, &m, sizeof m) != sizeof m)
			return -EPIPE;
	}
	return 0;
}

void fastpath_close(struct fastpath *fp, int janitor)
{
	if (!fp)
		return;
	if (janitor >= 0) {
		/* After the privilege drop only the janitor may detach (CAP_NET_ADMIN): ask,
		 * and wait until it has and is gone (its end of the socketpair closes). */
		struct fastpath_janitor_msg stop = { 0, 0 };
		char b;
		if (write(janitor, &stop, sizeof stop) == sizeof stop)
			while (read(janitor, &b, 1) > 0)
				;
		close(janitor);
	} else if (fp->in_ifindex) {
		tc_detach(fp->in_ifindex, true, fp->in_hook_made);
	}
	/* The Teredo interface goes away with its filter when the daemon closes it. */
	if (fp->rb)
		ring_buffer__free(fp->rb);
	teredo_out__destroy(fp->out);
	teredo_in__destroy(fp->in);
	nl_close(fp->nl);
	free(fp);
}

/* Whether a program is still on its hook. Anyone with CAP_NET_ADMIN may take it off (a
 * `tc qdisc del`, or a second daemon's filter under our handle and priority): then the
 * daemon carries everything, and the status must not say otherwise. 1, 0, or -ENODEV
 * when the interface itself is gone (a client's, which then follows its route to the
 * next: a dump of a missing interface's filters finds none, as of one without them). */
int fastpath_attached(const struct fastpath *fp, bool egress)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof info;
	memset(&info, 0, sizeof info);
	int ifindex = egress ? fp->tun_ifindex : fp->in_ifindex;
	char name[IF_NAMESIZE];
	if (!fp->nl || bpf_obj_get_info_by_fd(fastpath_prog_fd(fp, egress), &info, &len) < 0)
		return 0;
	if (nl_tc_prog_on(fp->nl, ifindex, !egress, info.id) > 0)
		return 1;
	return nl_link_name(fp->nl, ifindex, name) == -ENODEV ? -ENODEV : 0;
}
