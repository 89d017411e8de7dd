/* An operator's own tc filter, for the lab (issue 10): drops IPv4 echo requests, leaves
 * everything else to the next filter. test_relay.sh puts it on the relay's IPv4
 * interface at a later priority than shipworm's program, as `tc filter add` without a
 * priority puts a filter that was there before the daemon came, and checks that it
 * still sees (and drops) the traffic the fast path leaves alone. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>

#define SEC(name) __attribute__((section(name), used))

SEC("tc")
int op_drop_ping(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_ICMP ||
	    ip->ihl != 5)
		return TC_ACT_UNSPEC;
	__u8 *type = (void *)(ip + 1); /* the ICMP type: 8, an echo request */
	if ((void *)(type + 1) > end)
		return TC_ACT_UNSPEC;
	return *type == 8 ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
