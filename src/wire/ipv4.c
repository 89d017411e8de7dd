#include "ipv4.h"

#include <arpa/inet.h>

bool ipv4_is_global_unicast(uint32_t ip_net)
{
	uint32_t ip = ntohl(ip_net);
	static const struct { uint32_t net, mask; } not_global[] = {
		{ 0x00000000, 0xff000000 }, /* 0.0.0.0/8 "this network" */
		{ 0x0a000000, 0xff000000 }, /* 10.0.0.0/8 private */
		{ 0x7f000000, 0xff000000 }, /* 127.0.0.0/8 loopback */
		{ 0xa9fe0000, 0xffff0000 }, /* 169.254.0.0/16 link-local */
		{ 0xac100000, 0xfff00000 }, /* 172.16.0.0/12 private */
		{ 0xc0586300, 0xffffff00 }, /* 192.88.99.0/24 6to4 anycast */
		{ 0xc0a80000, 0xffff0000 }, /* 192.168.0.0/16 private */
		{ 0xe0000000, 0xf0000000 }, /* 224.0.0.0/4 multicast */
		{ 0xffffffff, 0xffffffff }, /* limited broadcast */
	};
	for (unsigned i = 0; i < sizeof not_global / sizeof not_global[0]; i++)
		if ((ip & not_global[i].mask) == not_global[i].net)
			return false;
	return true;
}

bool ipv4_in_nets(const struct ipv4_net *nets, unsigned n, uint32_t ip)
{
	for (unsigned i = 0; i < n; i++)
		if ((nets[i].addr & nets[i].mask) == (ip & nets[i].mask) && nets[i].addr != ip)
			return true;
	return false;
}
