/* The kernel fast path's loader (issue 10): loads the eBPF programs of src/bpf/ (as
 * root, before the privilege drop), attaches them with tc, mirrors the core's trust
 * journal into their peer map, feeds the programs' "peer seen" reports back to the
 * core, reads their per-CPU counters, and detaches everything at the end. A janitor
 * process detaches the IPv4 interface's filter if the daemon dies without doing it (the
 * Teredo interface takes its own filter with it). */
#ifndef SW_SYS_FASTPATH_H
#define SW_SYS_FASTPATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/fastpath.h"
#include "core/trustlog.h"

struct fastpath;

/* What FastPath says (shipwormd.conf(5)). */
enum fastpath_mode { FASTPATH_OFF, FASTPATH_AUTO, FASTPATH_ON };

/* Load both programs with a peer map of `peers_max` entries and attach them: ingress on
 * `in_ifindex` (the IPv4 interface), egress on `tun_ifindex` (0: not attached, for the
 * tests' BPF_PROG_TEST_RUN). NULL with the reason in
 * `why` when the kernel or the privileges do not allow it. */
struct fastpath *fastpath_open(uint32_t peers_max, int in_ifindex, int tun_ifindex, char *why, size_t whylen);
/* Set the programs' configuration (role 0 makes them pass everything); the loader adds
 * what it probed (gso_encap, decap_l3). */
int fastpath_configure(struct fastpath *fp, const struct fp_config *c);
/* Host relay: the host's own addresses (H-05), replacing the previous set. */
void fastpath_set_locals(struct fastpath *fp, const struct in6_addr *a, unsigned n);
/* Apply and empty a trust journal; `sports` are our local ports by core socket number. */
void fastpath_apply(struct fastpath *fp, struct trust_log *log, const uint16_t *sports, unsigned nsports);
/* The ring buffer the programs report active peers in: its fd (epoll) and a drain that
 * calls seen(ctx, addr, at_ms: the last packet from the peer, packets carried from it
 * since the last report, sent_ms: a packet sent to it then, or 0) for each report. */
int fastpath_seen_fd(const struct fastpath *fp);
void fastpath_seen_drain(struct fastpath *fp,
			 void (*seen)(void *ctx, const struct in6_addr *a, uint64_t at_ms, uint32_t pkts, uint64_t sent_ms),
			 void *ctx);
/* The programs' counters summed over CPUs; map update failures (a full map). */
void fastpath_counters(const struct fastpath *fp, uint64_t out[FP__COUNT]);
uint64_t fastpath_map_errors(const struct fastpath *fp);
const char *fastpath_counter_name(enum fp_counter c);
/* Fork the janitor (sys/fastpath_start.c, before the privilege drop): it detaches the
 * ingress filter when the daemon's end of its socketpair closes, however the daemon
 * ends. Returns that end, or -1. */
int fastpath_janitor(const struct fastpath *fp, const char *user);
/* What the daemon tells its janitor: the IPv4 interface now holding the ingress filter
 * (and whether we made its clsact qdisc), or ifindex 0: detach it now and exit. */
struct fastpath_janitor_msg {
	int32_t ifindex;
	int32_t hook_made;
};
/* A client whose route to the server moved to another interface (issue 11) takes its
 * ingress filter along, through its own rtnetlink socket (it keeps CAP_NET_ADMIN), and
 * tells the janitor. 0, or a negative errno with the old filter left in place. */
struct nl;
int fastpath_move_ingress(struct fastpath *fp, struct nl *n, int ifindex, int janitor);
/* Detach the programs and free everything; with the janitor's end (or -1 before the
 * privilege drop), the janitor detaches and this waits until it is done. */
void fastpath_close(struct fastpath *fp, int janitor);

/* What a role's start-up got (sys/fastpath_start.c, before the privilege drop). */
struct fastpath_start {
	struct fastpath *fp; /* NULL: the daemon carries everything */
	int janitor;         /* its end of the janitor's socketpair, or -1 */
	bool cap_bpf;        /* keep CAP_BPF after the drop (kernels before 6.5) */
	char why[160];       /* for the status: "on (...)" or "off (why)" */
	bool gone[2];        /* a program found off its hook (ingress, egress): said once */
	uint64_t next_watch; /* ms */
};
/* FastPath `mode` (FASTPATH_CFG_*): load and attach the programs (ingress on in_ifindex,
 * named in_name; egress on the Teredo interface), configure them with c, fork the
 * janitor, probe for CAP_BPF and admit the map commands in the seccomp filter to come.
 * in_ifindex <= 0 means no IPv4 interface, for the reason no_if_why. Logs the outcome
 * once; returns -1 only when FastPath on cannot be had. */
int fastpath_start(struct fastpath_start *s, uint8_t mode, uint32_t peers, int in_ifindex, const char *in_name,
		   const char *tun_name, const struct fp_config *c, const char *user, const char *no_if_why);

/* The status lines of a role's fast path: fast_path, and with it fast_path_keeps_cap_bpf
 * and fast_path_gso. */
struct status_out;
void fastpath_status(struct status_out *o, const struct fastpath_start *s);
int fastpath_attached(const struct fastpath *fp, bool egress);
/* From the daemon's timer: every few seconds, whether the programs are still on their
 * hooks; a warning in the log when one has been taken off, a line when it is back. */
void fastpath_watch(struct fastpath_start *s, uint64_t now_ms);
/* The programs' counters summed over CPUs, map update failures and the core's lost
 * journal records, as the relay's and the client's status counters show them. */
void fastpath_status_counters(struct status_out *o, const struct fastpath *fp, uint64_t journal_lost);

/* Must the daemon keep CAP_BPF after dropping privileges to `user` to read and write the
 * array map `map_fd` (a forked probe)? */
bool fastpath_needs_cap_bpf(int map_fd, const char *user);
/* One lookup of key 0 in an array map, as the daemon makes them: 0 or a negative errno. */
int fastpath_map_probe(int array_fd);
int fastpath_cfg_fd(const struct fastpath *fp);
/* Whether GSO packets are encapsulated in the kernel (see teredo_out.bpf.c). */
bool fastpath_gso_encap(const struct fastpath *fp);
/* Whether the kernel takes the outer headers off in one step (see teredo_in.bpf.c). */
bool fastpath_decap_l3(const struct fastpath *fp);
/* A program's id (for bpftool) and the kernel's own count of its runs and their time
 * (BPF_OBJ_GET_INFO_BY_FD), as `NAME_prog_id`, `NAME_prog_runs`, `NAME_prog_run_ns`. */
void fastpath_prog_status(struct status_out *o, const char *name, int prog_fd);
/* A per-CPU array's first n counters, each summed over the CPUs. */
void fastpath_percpu_sum(int fd, uint32_t n, uint64_t *out);
/* libbpf's messages (the verifier's among them) only with SHIPWORM_BPF_DEBUG set. */
void fastpath_libbpf_quiet(void);

/* For the janitor and the tests. */
void fastpath_detach_ingress(int ifindex, bool destroy_hook);
void fastpath_ingress(const struct fastpath *fp, int *ifindex, bool *hook_made);
int fastpath_prog_fd(const struct fastpath *fp, bool egress);
int fastpath_peers_fd(const struct fastpath *fp);
/* For `shipworm peer`: what the peer map holds for a, in *k; NULL without a fast path. */
struct peer_kernel;
const struct peer_kernel *fastpath_peer_kernel(const struct fastpath *fp, const struct in6_addr *a,
					       struct peer_kernel *k);

/* The server's XDP program (src/bpf/teredo_srv.bpf.c, sys/fastpath_srv.c). It is
 * attached through a bpf_link, which the kernel detaches when the daemon's descriptor
 * closes, however the daemon ends: no janitor is needed. */
struct fastpath_srv;
/* Load it and attach it to `ifindex` (0: load only, for BPF_PROG_TEST_RUN): in generic
 * (skb) mode on veth, whose native XDP_TX needs the peer to run XDP too, else in the
 * mode the driver offers. `mode_out` says which. */
struct fastpath_srv *fastpath_srv_open(int ifindex, const char **mode_out, char *why, size_t whylen);
int fastpath_srv_configure(struct fastpath_srv *fs, const struct fps_config *c);
void fastpath_srv_counters(const struct fastpath_srv *fs, uint64_t out[FPS__COUNT]);
const char *fastpath_srv_counter_name(enum fps_counter c);
/* The program's RA-limit buckets (FPS_RS_BUCKETS words), mapped into the daemon's
 * memory: server_share_rs_buckets() gives them to the core. */
uint64_t *fastpath_srv_rs_buckets(const struct fastpath_srv *fs);
int fastpath_srv_prog_fd(const struct fastpath_srv *fs);
int fastpath_srv_cfg_fd(const struct fastpath_srv *fs);
void fastpath_srv_close(struct fastpath_srv *fs);

/* The server's privileged start-up: find the interface of `primary`, load, attach and
 * configure; probe for CAP_BPF; admit the map commands in the seccomp filter to come.
 * Logs the outcome once; returns -1 only when FastPath on cannot be had. */
struct fastpath_srv_start {
	struct fastpath_srv *fs; /* NULL: the daemon answers everything */
	bool cap_bpf;
	char why[160];
};
int fastpath_srv_start(struct fastpath_srv_start *s, uint8_t mode, const struct fps_config *c, const char *user);

#endif
