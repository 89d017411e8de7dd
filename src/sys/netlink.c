#include "sys/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/netconf.h>
#include <linux/rtnetlink.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
};

/* A request socket (groups 0, blocking) or a monitor (multicast groups, non-blocking). */
static struct nl *open_sock(int flags, unsigned groups)
{
	struct nl *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->sock = mnl_socket_open2(NETLINK_ROUTE, flags | SOCK_CLOEXEC);
	if (!n->sock || mnl_socket_bind(n->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		if (n->sock)
			mnl_socket_close(n->sock);
		free(n);
		errno = e;
		return NULL;
	}
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (unsigned)time(NULL);
	return n;
}

struct nl *nl_open(void)
{
	return open_sock(0, 0);
}

void nl_close(struct nl *n)
{
	if (n) {
		mnl_socket_close(n->sock);
		free(n);
	}
}

/* Send one request (with `flags`: NLM_F_ACK, or NLM_F_DUMP) and read until its
 * acknowledgement or the dump's end; answers before it go to cb. */
static int request(struct nl *n, struct nlmsghdr *h, uint16_t flags, mnl_cb_t cb_fn, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	h->nlmsg_flags |= NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++n->seq;
	if (mnl_socket_sendto(n->sock, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->sock, buf, sizeof buf);
		if (r < 0)
			return -errno;
		int cb = mnl_cb_run(buf, (size_t)r, h->nlmsg_seq, n->portid, cb_fn, data);
		if (cb < 0)
			return -errno;
		if (cb == MNL_CB_STOP)
			return 0;
	}
}

static int transact_cb(struct nl *n, struct nlmsghdr *h, mnl_cb_t cb_fn, void *data)
{
	return request(n, h, NLM_F_ACK, cb_fn, data);
}

static int transact(struct nl *n, struct nlmsghdr *h)
{
	return request(n, h, NLM_F_ACK, NULL, NULL);
}

static int route_attr(const struct nlattr *a, void *data)
{
	struct nl_route4 *r = data;
	switch (mnl_attr_get_type(a)) {
	case RTA_PREFSRC:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			r->src = mnl_attr_get_u32(a);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			r->gw = mnl_attr_get_u32(a);
		break;
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			r->oif = (int)mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
	if (h->nlmsg_type == RTM_NEWROUTE)
		mnl_attr_parse(h, sizeof(struct rtmsg), route_attr, data);
	return MNL_CB_OK;
}

int nl_route_oif6(struct nl *n, const struct in6_addr *dst)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_route4 r = { 0 }; /* only its oif: route_attr takes no IPv6 address */
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = RTM_GETROUTE;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof *rt);
	rt->rtm_family = AF_INET6;
	rt->rtm_dst_len = 128;
	mnl_attr_put(h, RTA_DST, 16, dst);
	int e = transact_cb(n, h, route_cb, &r);
	return e < 0 ? e : r.oif ? r.oif : -ENETUNREACH;
}

int nl_route_get4(struct nl *n, uint32_t dst, uint32_t src, struct nl_route4 *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	memset(r, 0, sizeof *r);
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = RTM_GETROUTE;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof *rt);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 32;
	mnl_attr_put_u32(h, RTA_DST, dst);
	if (src) {
		rt->rtm_src_len = 32;
		mnl_attr_put_u32(h, RTA_SRC, src);
	}
	int e = transact_cb(n, h, route_cb, r);
	if (e == 0 && !r->oif)
		return -ENETUNREACH;
	return e;
}

static struct nl *monitor(unsigned groups)
{
	return open_sock(SOCK_NONBLOCK, groups);
}

struct nl *nl_monitor_open(void)
{
	return monitor(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE);
}

struct nl *nl_monitor_open6(void)
{
	return monitor(RTMGRP_LINK | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE);
}

struct nl *nl_monitor_open_link(void)
{
	return monitor(RTMGRP_LINK);
}

struct native {
	int skip;
	bool addr, route;
};

static int native_addr_cb(const struct nlmsghdr *h, void *data)
{
	struct native *nv = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 || ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
	    (int)ifa->ifa_index == nv->skip)
		return MNL_CB_OK;
	uint32_t flags = ifa->ifa_flags;
	const struct nlattr *a;
	const uint8_t *addr = NULL;
	mnl_attr_for_each(a, h, sizeof *ifa) {
		if (mnl_attr_get_type(a) == IFA_FLAGS && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			flags = mnl_attr_get_u32(a);
		else if ((mnl_attr_get_type(a) == IFA_ADDRESS || mnl_attr_get_type(a) == IFA_LOCAL) &&
			 mnl_attr_get_payload_len(a) == 16)
			addr = mnl_attr_get_payload(a);
	}
	if (!addr || (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)))
		return MNL_CB_OK;
	if (addr[0] == 0x20 && addr[1] == 0x01 && addr[2] == 0 && addr[3] == 0)
		return MNL_CB_OK; /* 2001::/32: Teredo is not native (C-70) */
	nv->addr = true;
	return MNL_CB_OK;
}

static int native_route_cb(const struct nlmsghdr *h, void *data)
{
	struct native *nv = data;
	const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET6 || rt->rtm_dst_len != 0 ||
	    rt->rtm_type != RTN_UNICAST || rt->rtm_table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	const struct nlattr *a;
	int oif = 0;
	mnl_attr_for_each(a, h, sizeof *rt)
		if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			oif = (int)mnl_attr_get_u32(a);
	if (oif && oif != nv->skip)
		nv->route = true;
	return MNL_CB_OK;
}

/* One dump request; answers go to cb until NLMSG_DONE. */
static int dump(struct nl *n, uint16_t type, void *extra, size_t extra_len, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	memcpy(mnl_nlmsg_put_extra_header(h, extra_len), extra, extra_len);
	return request(n, h, NLM_F_DUMP, cb, data);
}

int nl_native_ipv6(struct nl *n, int skip_ifindex)
{
	struct native nv = { .skip = skip_ifindex };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6 };
	struct rtmsg rt = { .rtm_family = AF_INET6 };
	int e = dump(n, RTM_GETADDR, &ifa, sizeof ifa, native_addr_cb, &nv);
	if (e == 0)
		e = dump(n, RTM_GETROUTE, &rt, sizeof rt, native_route_cb, &nv);
	return e < 0 ? e : nv.addr && nv.route;
}

struct has6 {
	int ifindex;
	const struct in6_addr *a;
	bool found;
};

static int has_addr_cb(const struct nlmsghdr *h, void *data)
{
	struct has6 *q = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 || (int)ifa->ifa_index != q->ifindex)
		return MNL_CB_OK;
	const struct nlattr *a;
	mnl_attr_for_each(a, h, sizeof *ifa)
		if ((mnl_attr_get_type(a) == IFA_ADDRESS || mnl_attr_get_type(a) == IFA_LOCAL) &&
		    mnl_attr_get_payload_len(a) == 16 && !memcmp(mnl_attr_get_payload(a), q->a, 16))
			q->found = true;
	return MNL_CB_OK;
}

int nl_has_addr6(struct nl *n, int ifindex, const struct in6_addr *a)
{
	struct has6 q = { .ifindex = ifindex, .a = a };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6 };
	int e = dump(n, RTM_GETADDR, &ifa, sizeof ifa, has_addr_cb, &q);
	return e < 0 ? e : q.found;
}

int nl_fd(const struct nl *n)
{
	return mnl_socket_get_fd(n->sock);
}

static int link_of_cb(const struct nlmsghdr *h, void *data)
{
	int *want = data;
	if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) &&
	    ((const struct ifinfomsg *)mnl_nlmsg_get_payload(h))->ifi_index == want[0])
		want[1] = 1;
	return MNL_CB_OK;
}

int nl_drain_link(struct nl *n, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int q[2] = { ifindex, 0 };
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->sock, buf, sizeof buf);
		if (r <= 0)
			return errno == ENOBUFS ? 1 : q[1]; /* messages lost: look all the same */
		mnl_cb_run(buf, (size_t)r, 0, 0, link_of_cb, q);
	}
}

int nl_drain(struct nl *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int msgs = 0;
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->sock, buf, sizeof buf);
		if (r <= 0)
			/* Empty, or ENOBUFS (messages lost): either way, look again. */
			return errno == ENOBUFS ? msgs + 1 : msgs;
		msgs++;
	}
}

/* An RTM_*LINK message about one interface, its ifinfomsg in *ifi. */
static struct nlmsghdr *link_msg(char *buf, uint16_t type, int ifindex, struct ifinfomsg **ifi)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	*ifi = mnl_nlmsg_put_extra_header(h, sizeof **ifi);
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = ifindex;
	return h;
}

int nl_link_up(struct nl *n, int ifindex, uint32_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *h = link_msg(buf, RTM_NEWLINK, ifindex, &ifi);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(h, IFLA_MTU, mtu);
	/* A TUN's default queue of 500 packets overflows in a few milliseconds at the
	 * rates of a busy relay; a longer one rides out a burst on the other side. */
	mnl_attr_put_u32(h, IFLA_TXQLEN, NL_TUN_TXQLEN);
	return transact(n, h);
}

int nl_addr6(struct nl *n, bool add, int ifindex, const struct in6_addr *a, uint8_t plen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	if (add)
		h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof *ifa);
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	/* No duplicate address detection: the address is ours by construction. */
	ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(h, IFA_LOCAL, 16, a);
	mnl_attr_put(h, IFA_ADDRESS, 16, a);
	return transact(n, h);
}

int nl_route6(struct nl *n, bool add, int ifindex, const struct in6_addr *dst, uint8_t plen,
	      uint32_t metric)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof *rt);
	rt->rtm_family = AF_INET6;
	rt->rtm_dst_len = plen;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	if (plen)
		mnl_attr_put(h, RTA_DST, 16, dst);
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
	if (metric)
		mnl_attr_put_u32(h, RTA_PRIORITY, metric);
	return transact(n, h);
}

/* tc (issue 10): the clsact qdisc and a cls_bpf filter in direct-action mode, by
 * program descriptor. Written here rather than through libbpf's bpf_tc_attach(), which
 * asks bpf() for the program's name first: after the privilege drop the client may not
 * call bpf() for that, but may still move its filter to a new interface. */
int nl_tc_clsact(struct nl *n, int ifindex, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = add ? RTM_NEWQDISC : RTM_DELQDISC;
	if (add)
		h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof *t);
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_CLSACT;
	t->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	mnl_attr_put_strz(h, TCA_KIND, "clsact");
	return transact(n, h);
}

/* proto: the filter's protocol (0 in a deletion: whatever it is), so that the kernel's
 * classifier runs our program only on the packets it is for (a dual-stack interface's
 * native IPv6 never enters the IPv4 side's program). */
static struct nlmsghdr *tc_filter_msg(char *buf, uint16_t type, int ifindex, bool ingress, uint32_t handle,
				      uint16_t prio, uint16_t proto)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof *t);
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
	t->tcm_handle = handle;
	t->tcm_info = TC_H_MAKE((uint32_t)prio << 16, htons(proto));
	return h;
}

static int tc_bpf_attach_once(struct nl *n, int ifindex, bool ingress, uint32_t handle, uint16_t prio,
			      uint16_t proto, int prog_fd, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = tc_filter_msg(buf, RTM_NEWTFILTER, ifindex, ingress, handle, prio, proto);
	/* Replace ours if it is there (left by a daemon that crashed), never double it. */
	h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	mnl_attr_put_strz(h, TCA_KIND, "bpf");
	struct nlattr *opt = mnl_attr_nest_start(h, TCA_OPTIONS);
	mnl_attr_put_u32(h, TCA_BPF_FD, (uint32_t)prog_fd);
	mnl_attr_put_strz(h, TCA_BPF_NAME, name);
	mnl_attr_put_u32(h, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	mnl_attr_nest_end(h, opt);
	return transact(n, h);
}

int nl_tc_bpf_attach(struct nl *n, int ifindex, bool ingress, uint32_t handle, uint16_t prio, uint16_t proto,
		     int prog_fd, const char *name)
{
	int r = tc_bpf_attach_once(n, ifindex, ingress, handle, prio, proto, prog_fd, name);
	/* The kernel replaces a filter only by one of the same kind and protocol: one left
	 * under our handle by anything else (an older version's, for every protocol) is
	 * taken off first. A filter under another handle is never touched: then this fails. */
	if (r == -EINVAL && nl_tc_bpf_detach(n, ifindex, ingress, handle, prio) == 0)
		r = tc_bpf_attach_once(n, ifindex, ingress, handle, prio, proto, prog_fd, name);
	return r;
}

int nl_tc_bpf_detach(struct nl *n, int ifindex, bool ingress, uint32_t handle, uint16_t prio)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	/* No kind and no protocol: the filter under this handle and priority, whatever it is. */
	return transact(n, tc_filter_msg(buf, RTM_DELTFILTER, ifindex, ingress, handle, prio, 0));
}

static int count_filters_cb(const struct nlmsghdr *h, void *data)
{
	*(int *)data += h->nlmsg_type == RTM_NEWTFILTER;
	return MNL_CB_OK;
}

/* Every filter on one direction of the interface's clsact qdisc, to cb. */
static int dump_filters(struct nl *n, int ifindex, bool ingress, mnl_cb_t cb, void *data)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
			   .tcm_parent = TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS) };
	return dump(n, RTM_GETTFILTER, &t, sizeof t, cb, data);
}

int nl_tc_filters(struct nl *n, int ifindex)
{
	int count = 0;
	for (int ingress = 0; ingress < 2; ingress++) {
		int r = dump_filters(n, ifindex, ingress, count_filters_cb, &count);
		if (r < 0)
			return r;
	}
	return count;
}

struct prog_on {
	uint32_t id;
	bool found;
};

static int prog_on_cb(const struct nlmsghdr *h, void *data)
{
	struct prog_on *q = data;
	struct nlattr *a, *o;
	if (h->nlmsg_type != RTM_NEWTFILTER)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(struct tcmsg)) {
		if (mnl_attr_get_type(a) != TCA_OPTIONS || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		mnl_attr_for_each_nested(o, a)
			if (mnl_attr_get_type(o) == TCA_BPF_ID && mnl_attr_validate(o, MNL_TYPE_U32) == 0 &&
			    mnl_attr_get_u32(o) == q->id)
				q->found = true;
	}
	return MNL_CB_OK;
}

int nl_tc_prog_on(struct nl *n, int ifindex, bool ingress, uint32_t prog_id)
{
	struct prog_on q = { prog_id, false };
	int r = dump_filters(n, ifindex, ingress, prog_on_cb, &q);
	return r < 0 ? r : q.found;
}

static int link_name_cb(const struct nlmsghdr *h, void *data)
{
	struct nlattr *a;
	mnl_attr_for_each(a, h, sizeof(struct ifinfomsg))
		if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			snprintf(data, IF_NAMESIZE, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_flags_cb(const struct nlmsghdr *h, void *data)
{
	if (h->nlmsg_type == RTM_NEWLINK)
		*(int *)data = (int)((const struct ifinfomsg *)mnl_nlmsg_get_payload(h))->ifi_flags;
	return MNL_CB_OK;
}

int nl_link_flags(struct nl *n, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *h = link_msg(buf, RTM_GETLINK, ifindex, &ifi);
	int flags = -ENODEV;
	int r = transact_cb(n, h, link_flags_cb, &flags);
	return r < 0 ? r : flags;
}

const char *nl_link_state(struct nl *n, int ifindex)
{
	int flags = n ? nl_link_flags(n, ifindex) : -ENODEV;
	return flags < 0 ? "gone" : flags & IFF_UP ? "up" : "down";
}

int nl_link_name(struct nl *n, int ifindex, char name[IF_NAMESIZE])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *h = link_msg(buf, RTM_GETLINK, ifindex, &ifi);
	name[0] = 0;
	int r = transact_cb(n, h, link_name_cb, name);
	return r < 0 ? r : name[0] ? 0 : -ENODEV;
}

static int netconf_cb(const struct nlmsghdr *h, void *data)
{
	struct nlattr *a;
	mnl_attr_for_each(a, h, sizeof(struct netconfmsg))
		if (mnl_attr_get_type(a) == NETCONFA_FORWARDING && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*(int *)data = mnl_attr_get_u32(a) != 0;
	return MNL_CB_OK;
}

int nl_ipv6_forwarding(struct nl *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = RTM_GETNETCONF;
	struct netconfmsg *nc = mnl_nlmsg_put_extra_header(h, sizeof *nc);
	nc->ncm_family = AF_INET6;
	mnl_attr_put_u32(h, NETCONFA_IFINDEX, (uint32_t)NETCONFA_IFINDEX_ALL);
	int on = -1;
	int r = transact_cb(n, h, netconf_cb, &on);
	return r < 0 ? r : on < 0 ? -ENOENT : on;
}
