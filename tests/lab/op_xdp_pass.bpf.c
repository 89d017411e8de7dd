/* An operator's own XDP program, for the lab (issue 10): passes everything, as a DDoS
 * filter in front of a server passes what it does not drop. test_server.sh puts it on
 * the server's interface first: an interface runs one XDP program, so the server's
 * fast path must stay off and say why, leave it in place, and answer from its socket. */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("xdp")
int op_xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
